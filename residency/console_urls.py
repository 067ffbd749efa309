"""Console pages of the residency app, mounted inside the `console` namespace (orgs/urls.py)."""

from django.urls import path, re_path

from . import audit_views, usage_views

urlpatterns = [
    path("audit-log/", audit_views.audit_log, name="audit_log"),
    re_path(r"^audit-log/export\.(?P<fmt>csv|json)$", audit_views.audit_log_export, name="audit_log_export"),
    path("audit-log/verify/", audit_views.audit_verify, name="audit_verify"),
    path("usage/", usage_views.usage, name="usage"),
]
