"""Console pages of the residency app (mounted in the `console` namespace by config.urls)."""

from django.urls import path

from .views import approvals, home, policy, residency, usage, workspaces

urlpatterns = [
    path("", home.home, name="home"),
    path("settings/privacy/data-residency/", residency.residency, name="residency"),
    path("settings/privacy/data-residency-policy/", policy.residency_policy, name="residency_policy"),
    path("settings/privacy/approvals/", approvals.approval_settings, name="approval_settings"),
    path("settings/privacy/change-requests/", approvals.change_requests, name="change_requests"),
    path("settings/privacy/change-requests/<str:change_request_id>/", approvals.change_request, name="change_request"),
    path("settings/privacy/change-requests/<str:change_request_id>/<str:action>/", approvals.change_request_decide,
         name="change_request_decide"),
    path("workspaces/", workspaces.workspace_list, name="workspaces"),
    path("workspaces/new/", workspaces.workspace_create, name="workspace_create"),
    path("workspaces/<str:workspace_id>/", workspaces.workspace_detail, name="workspace_detail"),
    path("workspaces/<str:workspace_id>/archive/", workspaces.workspace_archive, name="workspace_archive"),
    path("workspaces/<str:workspace_id>/admins/", workspaces.workspace_admins, name="workspace_admins"),
    path("usage/", usage.usage, name="usage"),
]
