from django.urls import include, path

from . import views

app_name = "console"

urlpatterns = [
    path("", views.home, name="home"),
    path("switch-organization/", views.switch_organization, name="switch_organization"),
    # audit log and usage pages (residency app), in this same `console` namespace
    path("", include("residency.console_urls")),
]
