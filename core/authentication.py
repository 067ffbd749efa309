from rest_framework import authentication, exceptions


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`x-api-key: <key>`: the key acts as the member who created it (SPEC §3)."""

    def authenticate(self, request):
        raw = request.META.get("HTTP_X_API_KEY")
        if raw is None:
            return None
        from orgs.selectors import api_key_authenticate

        key = api_key_authenticate(raw)
        if key is None:
            raise exceptions.AuthenticationFailed(
                "Invalid API key: check the `x-api-key` header; the key may have been revoked."
            )
        request._request.api_key = key
        return (key.membership.user, key)

    def authenticate_header(self, request):
        return "x-api-key"


class ConsoleSessionAuthentication(authentication.SessionAuthentication):
    """The browser console's session, CSRF-checked like any session write."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None:
            request._request.api_key = None
        return result
