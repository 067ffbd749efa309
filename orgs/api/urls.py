from django.urls import path

from . import views

urlpatterns = [
    path("organizations/me", views.OrganizationMeApi.as_view(), name="api-organization-me"),
    path("organizations/users", views.UserListCreateApi.as_view(), name="api-users"),
    path("organizations/users/<str:user_id>", views.UserDetailApi.as_view(), name="api-user-detail"),
    path("organizations/roles", views.RoleListCreateApi.as_view(), name="api-roles"),
    path("organizations/api_keys", views.ApiKeyListCreateApi.as_view(), name="api-api-keys"),
    path("organizations/api_keys/<str:key_id>", views.ApiKeyDetailApi.as_view(), name="api-api-key"),
    path("organizations/api_keys/<str:key_id>/revoke", views.ApiKeyRevokeApi.as_view(), name="api-api-key-revoke"),
]
