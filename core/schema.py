"""How the OpenAPI document at /v1/openapi.json is generated from the serializers (drf-spectacular).

Everything here is an extension point of drf-spectacular, not a rewrite of its output:
- `AutoSchema` names components after their serializers (`WorkspaceSerializer` → `Workspace`, a
  paginated list → `WorkspaceList`), tags each operation with its resource, documents the
  `request-id` response header (and `retry-after` on 429 and 503), marks request bodies required, and
  never borrows a base class's docstring as an operation's description;
- `errors(...)` gives an operation its error responses in the contract's shape, always
  including those every operation can answer (400, 401, 429, 500);
- `OneOf(...)` documents a response whose body takes one of several shapes (a page of audit
  events, or with `format=json` the export array), so a generated client parses either;
- extensions: a `StrictSerializer` is an object with `additionalProperties: false`, a
  `ConstantField` a one-value enum, a `StrictChoiceField`'s `enum_names` its `x-enum-varnames`.
"""

from drf_spectacular.extensions import OpenApiSerializerExtension, OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import (
    ResolvedComponent,
    build_array_type,
    build_examples_list,
    force_instance,
    get_doc,
)
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema_serializer
from rest_framework import serializers

from .errors import ERROR_TYPES
from .serializers import ConstantField, StrictChoiceField, StrictSerializer

REQUEST_ID_HEADER = OpenApiParameter(
    "request-id", OpenApiTypes.STR, OpenApiParameter.HEADER, response=True, required=True,
    description="This request's id (`req_...`); quote it when you report a problem.",
)
RETRY_AFTER_HEADER = OpenApiParameter(
    "retry-after", OpenApiTypes.INT, OpenApiParameter.HEADER, response=[429, 503], required=True,
    description="Seconds to wait before retrying.",
)


class ArrayOf:
    """A JSON array of `serializer`'s objects, as a body in itself (not a page of them)."""

    def __init__(self, serializer):
        self.serializer = serializer


class OneOf:
    """A response body that is one of `alternatives`: the first as `responses=` takes it (on a list
    view, a `many=True` serializer is the paginated list), the others a serializer or an
    `ArrayOf(...)`. The alternatives must be told apart by their JSON type or their fields, so
    that exactly one matches any body; `examples` are those of the other alternatives."""

    def __init__(self, *alternatives, description="", examples=()):
        self.alternatives = alternatives
        self.description = description
        self.examples = list(examples)


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

    def get_paginated_name(self, serializer_name):
        return f"{serializer_name}List"

    def get_tags(self):
        """The view's `openapi_tag` (one tag per resource, named for people: "API keys"; generators
        make `api_keys` of it), else the resource named by the path after its namespace."""
        tag = getattr(self.view, "openapi_tag", None)
        if tag:
            return [tag]
        tokens = self._tokenize_path()
        return tokens[1:2] or tokens[:1]

    def get_description(self):
        """The handler's own docstring or its class's own, never one inherited from a base view."""
        handler = getattr(self.view, self.method.lower(), None)
        own = type(self.view).__dict__.get("__doc__")
        return get_doc(handler) or (get_doc(type(self.view)) if own else "")

    def get_override_parameters(self):
        return [*super().get_override_parameters(), REQUEST_ID_HEADER, RETRY_AFTER_HEADER]

    def _get_request_body(self, direction="request"):
        # Every body of this API is required: without one the server answers 400 (StrictSerializer's
        # missing-body message, or the decision parsers' required fields).
        body = super()._get_request_body(direction)
        if body:
            body["required"] = True
        return body

    def _is_list_view(self, serializer=None):
        # a OneOf is a list view (paging parameters, a paginated alternative) when its first alternative is
        if serializer is None:
            serializer = self.get_response_serializers()
        if isinstance(serializer, dict) and serializer:
            serializer = {str(code): s for code, s in serializer.items()}
            serializer = serializer[min(serializer)]
        if isinstance(serializer, OneOf):
            serializer = serializer.alternatives[0]
        return super()._is_list_view(serializer)

    def _get_response_for_code(self, serializer, status_code, media_types=None, direction="response"):
        if not isinstance(serializer, OneOf):
            return super()._get_response_for_code(serializer, status_code, media_types, direction)
        first, *others = serializer.alternatives
        response = super()._get_response_for_code(first, status_code, media_types, direction)
        schemas = [self._alternative_schema(other, direction) for other in others]
        for media in response["content"].values():
            media["schema"] = {"oneOf": [media["schema"], *schemas]}
            examples = {**media.get("examples", {}), **build_examples_list(serializer.examples)}  # bodies as given
            if examples:
                media["examples"] = examples
        response["description"] = serializer.description
        return response

    def _alternative_schema(self, alternative, direction):
        if isinstance(alternative, ArrayOf):
            return build_array_type(self.resolve_serializer(force_instance(alternative.serializer), direction).ref)
        return self.resolve_serializer(force_instance(alternative), direction).ref

    def _get_examples(self, serializer, direction, media_type, status_code=None, extras=None):
        # drf-spectacular wraps an item's example into the list body; make the list's
        # first_id / last_id those of its items rather than placeholders.
        examples = super()._get_examples(serializer, direction, media_type, status_code, extras)
        for example in examples.values():
            value = example.get("value")
            if isinstance(value, dict) and "first_id" in value and isinstance(value.get("data"), list):
                items = [item for item in value["data"] if isinstance(item, dict)]
                value["first_id"] = items[0].get("id") if items else None
                value["last_id"] = items[-1].get("id") if items else None
        return examples


# --- the contract's error body ----------------------------------------------------------------

ERROR_TEXT = {
    400: ("Invalid request: the message names the parameter or field to fix.",
          "name: Give the workspace a name."),
    401: ("Missing or invalid API key (or a revoked or paused one).",
          "Invalid API key: check the `x-api-key` header (or `Authorization: Bearer <key>`); the key may have been "
          "revoked or paused."),
    403: ("Your role (or the key's) does not allow this, or the setting is locked.",
          "This needs Privacy: manage in Acme; your role (Privacy viewer) has view."),
    404: ("Not found, or not visible to you: another organization's objects, unknown ids and areas "
          "your role has no access to all look the same.", "Not found."),
    409: ("The request clashes with the current state: e.g. a change request whose target changed after it was "
          "asked (its status becomes conflict), or that is not pending any more.",
          "US-only inference changed after this request was made, so it was not applied; ask again from the "
          "current values if the change is still wanted."),
    413: ("The request body is too large.",
          "The request body is larger than 2621440 bytes; send it in smaller requests."),
    415: ("The body is not JSON.", 'Unsupported media type "text/plain" in request.'),
    429: ("Too many requests for this API key; wait `retry-after` seconds.",
          "Request was throttled. Expected available in 12 seconds."),
    500: ("Something went wrong on our side.",
          "Something went wrong on our side; retry, and quote the request id if it persists."),
    503: ("The service cannot reach its database right now; retry after `retry-after` seconds.",
          "The service cannot reach its database right now; retry in a few seconds."),
}
ALWAYS = (400, 401, 429, 500, 503)


class ErrorDetailsSerializer(serializers.Serializer):
    """A machine-readable reason, where one applies."""

    error_code = serializers.CharField(help_text='E.g. "workspace_policy_violation": a workspace or a requested '
                                       "geo outside the organization's data residency policy.")
    field = serializers.CharField(help_text="The field at fault, e.g. allowed_inference_geos.")


class ErrorDetailSerializer(serializers.Serializer):
    """What went wrong."""

    type = serializers.ChoiceField(choices=list(dict.fromkeys(ERROR_TYPES.values())),
                                   help_text="The kind of error; follows from the HTTP status.")
    message = serializers.CharField(help_text="What went wrong and what to change.")
    details = ErrorDetailsSerializer(allow_null=True, help_text="Null, or a machine-readable reason.")


class ErrorSerializer(serializers.Serializer):
    """The body of every error response."""

    type = ConstantField("error")
    error = ErrorDetailSerializer()
    request_id = serializers.CharField(help_text="The request's id, as in the `request-id` header.")


def _error_example(code):
    return OpenApiExample(f"Error {code}", value={
        "type": "error",
        "error": {"type": ERROR_TYPES[code] if code in ERROR_TYPES else "invalid_request_error",
                  "message": ERROR_TEXT[code][1], "details": None},
        "request_id": "req_018EeWyXxfu5pfWkrYcMdjWG",
    }, status_codes=[code], response_only=True)


def errors(*codes):
    """OpenAPI error responses in the contract's shape, for `responses={200: ..., **errors(403, 404)}`.
    Every operation can also answer 400 (a malformed path or query string), 401, 429 and 500,
    so those are always included."""
    return {code: OpenApiResponse(ErrorSerializer, description=ERROR_TEXT[code][0], examples=[_error_example(code)])
            for code in sorted(set(codes) | set(ALWAYS))}


def examples(*items):
    """`extend_schema_serializer(examples=...)` for a serializer: (name, value) pairs, shown for
    requests when the serializer is an input one, for responses otherwise."""

    def decorate(serializer_class):
        request = issubclass(serializer_class, StrictSerializer)
        return extend_schema_serializer(examples=[
            OpenApiExample(name, value=value, request_only=request, response_only=not request)
            for name, value in items
        ])(serializer_class)

    return decorate


def component(auto_schema, name, schema):
    """A `$ref` to the schema component `name` (registered once), for extensions whose field
    holds a shape worth one name in generated clients (e.g. an enum inside a `oneOf`)."""
    resolved = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema)
    auto_schema.registry.register_on_missing(resolved)
    return resolved.ref


# --- extensions ---------------------------------------------------------------------------


class StrictSerializerExtension(OpenApiSerializerExtension):
    target_class = StrictSerializer
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        schema["additionalProperties"] = False
        return schema


class ConstantFieldExtension(OpenApiSerializerFieldExtension):
    target_class = ConstantField

    def map_serializer_field(self, auto_schema, direction):
        return {"type": "string", "enum": [self.target.value], "readOnly": True}


class StrictChoiceFieldExtension(OpenApiSerializerFieldExtension):
    target_class = StrictChoiceField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if self.target.enum_names:
            schema["x-enum-varnames"] = [self.target.enum_names[value] for value in schema["enum"]]
        return schema
