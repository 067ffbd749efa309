from django.urls import path

from . import audit, usage, views

urlpatterns = [
    # decisions for the inference router (issue 4)
    path("residency/decisions", views.decision_view, name="api-decisions"),
    path("residency/decisions/batch", views.DecisionBatchApi.as_view(), name="api-decisions-batch"),
    # audit log, usage and cost (issue 5)
    path("organizations/audit_events", audit.AuditEventListApi.as_view(), name="api-audit-events"),
    path("organizations/usage_records", usage.UsageRecordIngestApi.as_view(), name="api-usage-records"),
    path("organizations/usage_report/messages", usage.UsageReportApi.as_view(), name="api-usage-report"),
    path("organizations/cost_report", usage.CostReportApi.as_view(), name="api-cost-report"),
]
