from django.urls import path

from . import views, workspaces

urlpatterns = [
    path("organizations/me", views.OrganizationMeApi.as_view(), name="api-organization-me"),
    path("organizations/inference_residency", views.InferenceResidencyApi.as_view(), name="api-inference-residency"),
    path("organizations/users", views.UserListCreateApi.as_view(), name="api-users"),
    path("organizations/users/<str:user_id>", views.UserDetailApi.as_view(), name="api-user-detail"),
    path("organizations/roles", views.RoleListCreateApi.as_view(), name="api-roles"),
    path("organizations/api_keys", views.ApiKeyListCreateApi.as_view(), name="api-api-keys"),
    path("organizations/api_keys/<str:key_id>/revoke", views.ApiKeyRevokeApi.as_view(), name="api-api-key-revoke"),
    # workspaces (issue 4)
    path("organizations/workspaces", workspaces.WorkspaceListCreateApi.as_view(), name="api-workspaces"),
    path("organizations/workspaces/<str:workspace_id>", workspaces.WorkspaceDetailApi.as_view(),
         name="api-workspace"),
    path("organizations/workspaces/<str:workspace_id>/archive", workspaces.WorkspaceArchiveApi.as_view(),
         name="api-workspace-archive"),
]
