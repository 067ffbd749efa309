"""Every URL of the project. The console's pages come from three apps under one `console`
namespace; the person's own account pages (two-factor, invitation) have no organization; the
REST API lives under /v1."""

from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularSwaggerSplitView

import audit.urls
import orgs.urls
import residency.urls
from core.views import api_not_found, health, ready
from orgs.views import dev_mail, invitations
from orgs.views import two_factor as two_factor_views
from residency.views.api_reference import api_reference

console_patterns = residency.urls.urlpatterns + orgs.urls.urlpatterns + audit.urls.urlpatterns

# /v1/docs is the server-rendered reference (no script, no inline style). Swagger UI, for trying
# calls, carries a <style> block: that page alone may use inline styles (SPEC §6); its init
# script is served as a file (the split view), so scripts stay 'self' only.
api_docs = csp_update({"style-src": ["'unsafe-inline'"]})(SpectacularSwaggerSplitView.as_view(url_name="openapi"))

urlpatterns = [
    # the REST API first: decisions are the router's hot path, resolved by the first include
    path("v1/", include("residency.api.urls")),
    path("v1/", include("orgs.api.urls")),
    path("v1/", include("audit.api.urls")),
    path("v1/openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path("v1/docs", api_reference, name="api-docs"),
    path("v1/docs/swagger", api_docs, name="api-docs-swagger"),
    # JSON 404 for any other /v1 path and any method, in debug mode too (the API never answers HTML)
    re_path(r"^v1/", api_not_found),
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # the addressee of an invitation email chooses their password (single use, 72 hours)
    path("accounts/invitation/<uidb64>/<token>/", invitations.InvitationAcceptView.as_view(),
         name="invitation_accept"),
    path("account/two-factor/", two_factor_views.status, name="two_factor"),
    path("account/two-factor/setup/", two_factor_views.setup, name="two_factor_setup"),
    path("account/two-factor/verify/", two_factor_views.verify, name="two_factor_verify"),
    path("account/two-factor/recovery-codes/", two_factor_views.recovery_codes, name="two_factor_recovery_codes"),
    path("account/two-factor/turn-off/", two_factor_views.turn_off, name="two_factor_turn_off"),
    # the demo's sent mail: a 404 under production settings, without EMAIL_FILE_PATH, or for non-staff
    path("dev/sent-mail/", dev_mail.sent_mail, name="dev_sent_mail"),
    path("healthz", health, name="health"),
    path("readyz", ready, name="ready"),
    path("", include((console_patterns, "console"))),
]

handler404 = "core.views.handler404"
handler500 = "core.views.handler500"
