"""How REST callers prove who they are: an API key (`x-api-key`), or the console's session."""

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from . import two_factor
from .selectors import api_key_for_secret
from .services import api_key_touch

INVALID_KEY = "Invalid API key: check the `x-api-key` header; the key may have been revoked."


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`x-api-key: <key>`: the key acts as the member it belongs to (SPEC §3)."""

    def authenticate(self, request):
        raw = request.META.get("HTTP_X_API_KEY")
        if raw is None:
            return None
        key = api_key_for_secret(raw)
        if key is None:
            raise exceptions.AuthenticationFailed(INVALID_KEY)
        api_key_touch(key)
        request._request.api_key = key
        return (key.membership.user, key)

    def authenticate_header(self, request):
        return "x-api-key"


class ConsoleSessionAuthentication(authentication.SessionAuthentication):
    """The browser console's session, CSRF-checked like any session write."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            if request._request.session.get(two_factor.STATE_KEY):
                # signed in with a password only, and a two-factor step is pending (SPEC §6)
                raise exceptions.AuthenticationFailed(
                    "Finish two-factor sign-in in the console first (or use an API key).")
            request._request.api_key = None
        return result


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "x-api-key"}


class ConsoleSessionScheme(OpenApiAuthenticationExtension):
    target_class = ConsoleSessionAuthentication
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}
