from django.urls import include, path

from . import views, views_api_keys, views_members, views_residency, views_workspaces

app_name = "console"

urlpatterns = [
    path("", views.home, name="home"),
    path("switch-organization/", views.switch_organization, name="switch_organization"),
    path("settings/privacy/data-residency/", views_residency.residency, name="residency"),
    path("members/", views_members.members, name="members"),
    path("members/add/", views_members.member_add, name="member_add"),
    path("members/<str:user_id>/", views_members.member_detail, name="member_detail"),
    path("members/<str:user_id>/remove/", views_members.member_remove, name="member_remove"),
    path("members/<str:user_id>/transfer/", views_members.member_transfer, name="member_transfer"),
    path("roles/", views_members.roles, name="roles"),
    path("roles/new/", views_members.role_create, name="role_create"),
    path("roles/<str:role_id>/", views_members.role_edit, name="role_edit"),
    path("api-keys/", views_api_keys.api_keys, name="api_keys"),
    path("api-keys/<str:key_id>/revoke/", views_api_keys.api_key_revoke, name="api_key_revoke"),
    # workspaces and their data residency (issue 4)
    path("workspaces/", views_workspaces.workspace_list, name="workspaces"),
    path("workspaces/new/", views_workspaces.workspace_create, name="workspace_create"),
    path("workspaces/<str:workspace_id>/", views_workspaces.workspace_detail, name="workspace_detail"),
    path("workspaces/<str:workspace_id>/archive/", views_workspaces.workspace_archive, name="workspace_archive"),
    path("workspaces/<str:workspace_id>/admins/", views_workspaces.workspace_admins, name="workspace_admins"),
    # audit log and usage pages (residency app), in this same `console` namespace
    path("", include("residency.console_urls")),
]
