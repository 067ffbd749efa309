from django.urls import path

from . import audit, usage

urlpatterns = []

# --- audit log, usage and cost (issue 5) ---
urlpatterns += [
    path("organizations/audit_events", audit.AuditEventListApi.as_view(), name="api-audit-events"),
    path("organizations/usage_records", usage.UsageRecordIngestApi.as_view(), name="api-usage-records"),
    path("organizations/usage_report/messages", usage.UsageReportApi.as_view(), name="api-usage-report"),
    path("organizations/cost_report", usage.CostReportApi.as_view(), name="api-cost-report"),
]
