from django.urls import path

from . import views

urlpatterns = [
    path("organizations/audit_events", views.AuditEventListApi.as_view(), name="api-audit-events"),
    path("organizations/audit_events.csv", views.AuditEventCsvApi.as_view(), name="api-audit-events-csv"),
]
