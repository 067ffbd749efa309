"""OpenAPI generation details (drf-spectacular): our auth classes, and component names for
the nested `InputSerializer` / `OutputSerializer` every API view declares."""

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "core.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "x-api-key"}


class ConsoleSessionScheme(OpenApiAuthenticationExtension):
    target_class = "core.authentication.ConsoleSessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}


class AutoSchema(SpectacularAutoSchema):
    def get_serializer_name(self, serializer, direction):
        """`UserDetailApi.InputSerializer` becomes `UserDetailInput`, so nested serializers of
        different views never collide under the same component name."""
        qualname = type(serializer).__qualname__
        if "." in qualname:
            outer, inner = qualname.rsplit(".", 2)[-2:]
            outer = outer.removesuffix("Api")
            return outer + inner.removesuffix("Serializer")
        return super().get_serializer_name(serializer, direction)
