"""OpenAPI generation details (drf-spectacular): component names for the nested
`InputSerializer` / `OutputSerializer` every API view declares, and the error responses."""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers


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


ERROR_BODY = inline_serializer("ErrorBody", fields={
    "type": serializers.CharField(default="error"),
    "error": inline_serializer("ErrorDetail", fields={
        "type": serializers.ChoiceField(choices=[
            "invalid_request_error", "authentication_error", "permission_error", "not_found_error",
            "request_too_large", "rate_limit_error", "api_error"]),
        "message": serializers.CharField(),
    }),
    "request_id": serializers.CharField(),
})


def errors(*codes):
    """OpenAPI responses in the contract's error shape, for `responses={200: ..., **errors(400, 404)}`."""
    text = {400: "Invalid request: the message names the field to fix.", 401: "Missing or invalid API key.",
            403: "Your role does not allow this.", 404: "Not found (or not visible to you).",
            413: "The request is too large.", 405: "Method not allowed."}
    return {code: OpenApiResponse(ERROR_BODY, description=text[code]) for code in codes}
