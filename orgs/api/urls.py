from django.urls import path

from . import views

urlpatterns = [
    path("organizations/me", views.OrganizationMeApi.as_view(), name="api-organization-me"),
]
