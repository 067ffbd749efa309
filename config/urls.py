from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularRedocView, SpectacularSwaggerView

from core.views import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", health, name="health"),
    path("v1/openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path("v1/docs", SpectacularSwaggerView.as_view(url_name="openapi"), name="api-docs"),
    path("v1/redoc", SpectacularRedocView.as_view(url_name="openapi"), name="api-redoc"),
    # residency first: its decision endpoint is the router's hot path (no path overlaps orgs')
    path("v1/", include("residency.api.urls")),
    path("v1/", include("orgs.api.urls")),
    path("", include("orgs.urls")),
]

handler404 = "core.views.handler404"
handler500 = "core.views.handler500"
