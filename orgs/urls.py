from django.urls import path

from . import views, views_workspaces

app_name = "console"

urlpatterns = [
    path("", views.home, name="home"),
    path("switch-organization/", views.switch_organization, name="switch_organization"),
    # workspaces and their data residency (issue 4)
    path("workspaces/", views_workspaces.workspace_list, name="workspaces"),
    path("workspaces/new/", views_workspaces.workspace_create, name="workspace_create"),
    path("workspaces/<str:workspace_id>/", views_workspaces.workspace_detail, name="workspace_detail"),
    path("workspaces/<str:workspace_id>/archive/", views_workspaces.workspace_archive, name="workspace_archive"),
    path("workspaces/<str:workspace_id>/admins/", views_workspaces.workspace_admins, name="workspace_admins"),
]
