from django.urls import path

from . import views, workspaces

urlpatterns = [
    path("organizations/me", views.OrganizationMeApi.as_view(), name="api-organization-me"),
    # workspaces (issue 4)
    path("organizations/workspaces", workspaces.WorkspaceListCreateApi.as_view(), name="api-workspaces"),
    path("organizations/workspaces/<str:workspace_id>", workspaces.WorkspaceDetailApi.as_view(),
         name="api-workspace"),
    path("organizations/workspaces/<str:workspace_id>/archive", workspaces.WorkspaceArchiveApi.as_view(),
         name="api-workspace-archive"),
]
