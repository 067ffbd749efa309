"""How REST callers prove who they are: an API key (`x-api-key: <key>` or `Authorization: Bearer
<key>`, as the official SDK sends it), or the console's session."""

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from . import two_factor
from .selectors import api_key_for_secret
from .services import api_key_touch

INVALID_KEY = ("Invalid API key: check the `x-api-key` header (or `Authorization: Bearer <key>`); the key may "
               "have been revoked or paused.")


def raw_api_key(meta):
    """The API key a request carries (`request.META`): the `x-api-key` header, else the token of
    `Authorization: Bearer <token>`; None when it carries neither (another Authorization scheme
    is not a key). The one reading of the key, for DRF and for the decision's lean path."""
    raw = meta.get("HTTP_X_API_KEY")
    if raw is not None:
        return raw
    authorization = meta.get("HTTP_AUTHORIZATION")
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return token.strip(" ")


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`x-api-key: <key>` or `Authorization: Bearer <key>`: the key acts as the member it belongs
    to (SPEC §3, §9)."""

    def authenticate(self, request):
        raw = raw_api_key(request.META)
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
    """Either header works: two alternative security schemes."""

    target_class = ApiKeyAuthentication
    name = ["ApiKeyAuth", "BearerAuth"]

    def get_security_requirement(self, auto_schema):
        return [{"ApiKeyAuth": []}, {"BearerAuth": []}]

    def get_security_definition(self, auto_schema):
        return [{"type": "apiKey", "in": "header", "name": "x-api-key"},
                {"type": "http", "scheme": "bearer", "description": "The API key as a bearer token, as the "
                 "official `anthropic` SDK sends it."}]


class ConsoleSessionScheme(OpenApiAuthenticationExtension):
    target_class = ConsoleSessionAuthentication
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}
