"""Every URL of the project. The console's pages come from three apps under one `console`
namespace; the REST API lives under /v1."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerView

import audit.urls
import orgs.urls
import residency.urls
from core.views import api_not_found, health

console_patterns = residency.urls.urlpatterns + orgs.urls.urlpatterns + audit.urls.urlpatterns

urlpatterns = [
    # the REST API first: decisions are the router's hot path, resolved by the first include
    path("v1/", include("residency.api.urls")),
    path("v1/", include("orgs.api.urls")),
    path("v1/", include("audit.api.urls")),
    path("v1/openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path("v1/docs", SpectacularSwaggerView.as_view(url_name="openapi"), name="api-docs"),
    # JSON 404 for any other /v1 path, in debug mode too (the API never answers HTML)
    re_path(r"^v1/", api_not_found),
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # invitations: a new member follows a one-time link to choose a password
    path("accounts/set-password/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(
        success_url="/login/?password_set=1"), name="password_reset_confirm"),
    path("healthz", health, name="health"),
    path("", include((console_patterns, "console"))),
]

handler404 = "core.views.handler404"
handler500 = "core.views.handler500"
