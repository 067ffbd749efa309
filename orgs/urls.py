"""Console pages of the orgs app (mounted in the `console` namespace by config.urls)."""

from django.urls import path

from .views import account, api_keys, members, roles, security

urlpatterns = [
    path("switch-organization/", account.switch_organization, name="switch_organization"),
    path("members/", members.members, name="members"),
    path("members/add/", members.member_add, name="member_add"),
    path("members/<str:user_id>/", members.member_detail, name="member_detail"),
    path("members/<str:user_id>/remove/", members.member_remove, name="member_remove"),
    path("members/<str:user_id>/transfer/", members.member_transfer, name="member_transfer"),
    path("roles/", roles.roles, name="roles"),
    path("roles/new/", roles.role_create, name="role_create"),
    path("roles/<str:role_id>/", roles.role_edit, name="role_edit"),
    path("api-keys/", api_keys.api_keys, name="api_keys"),
    path("api-keys/<str:key_id>/revoke/", api_keys.api_key_revoke, name="api_key_revoke"),
    path("settings/security/", security.security, name="security"),
]
