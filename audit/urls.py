"""Console pages of the audit log (mounted in the `console` namespace by config.urls)."""

from django.urls import path, re_path

from . import views

urlpatterns = [
    path("audit-log/", views.audit_log, name="audit_log"),
    re_path(r"^audit-log/export\.(?P<fmt>csv|json)$", views.audit_log_export, name="audit_log_export"),
    path("audit-log/verify/", views.audit_verify, name="audit_verify"),
]
