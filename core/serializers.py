"""Building blocks for the REST contract's serializers: strict input (unknown fields, wrong JSON
types and form-encoded bodies are refused with a message that says what to send), constant
output fields, RFC 3339 timestamps, and query-string serializers.

OpenAPI follows from these classes (core.schema): a StrictSerializer is an object with
`additionalProperties: false`, a ConstantField a one-value enum.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.utils import html

from .dates import parse_rfc3339


class StrictSerializer(serializers.Serializer):
    """Refuses fields the endpoint does not know, so a typo fails loudly instead of being ignored.

    As a request body it is required: `from_request` refuses a request without one.
    """

    default_error_messages = {"invalid": "Must be a JSON object, not {datatype}.",
                              "null": "Must be a JSON object, not null."}
    missing_body = "Send a JSON object in the request body (Content-Type: application/json)."

    @classmethod
    def for_request(cls, request, **context):
        """This serializer over the request's JSON body, not yet validated (a missing body fails)."""
        data = request.data
        if request.stream is None and not data:
            data = None
        return cls(data=data, context=context)

    def validate_empty_values(self, data):
        if data is None and self.parent is None:
            raise serializers.ValidationError({"non_field_errors": [self.missing_body]})
        return super().validate_empty_values(data)

    @classmethod
    def from_request(cls, request, **context):
        """The validated body, or a 400 naming each field to fix."""
        serializer = cls.for_request(request, **context)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def unknown_field_message(self, name):
        return f"Unknown field; this endpoint accepts {', '.join(self.fields)}."

    def to_internal_value(self, data):
        if html.is_html_input(data):  # a form-encoded body: its empty values would read as false
            raise serializers.ValidationError(
                {"non_field_errors": ["Send the body as a JSON object with Content-Type: application/json."]})
        if not isinstance(data, dict):
            message = self.error_messages["invalid"].format(datatype=type(data).__name__)
            if self.parent is None:
                message = f"The request body must be a JSON object, not {type(data).__name__}."
            raise serializers.ValidationError({"non_field_errors": [message]}, code="invalid")
        unknown = sorted(set(data) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({name: [self.unknown_field_message(name)] for name in unknown})
        return super().to_internal_value(data)


class StrictTextMixin:
    """Only JSON strings: 0, true, lists and objects are mistakes, not text. Unless blanks are
    allowed, `minLength: 1` in OpenAPI (an empty or all-space value is a 400)."""

    def __init__(self, *args, **kwargs):
        if not kwargs.get("allow_blank", False):
            kwargs.setdefault("min_length", 1)
        super().__init__(*args, **kwargs)
        self.error_messages.setdefault("not_a_string", "Must be a string.")
        if "null" not in kwargs.get("error_messages", {}):
            self.error_messages["null"] = "Must be a string, not null."

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        if self.max_length is not None and len(data) > self.max_length:
            # the bound OpenAPI states is on the string as sent, before surrounding spaces are trimmed
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class StrictCharField(StrictTextMixin, serializers.CharField):
    pass


class StrictEmailField(StrictTextMixin, serializers.EmailField):
    pass


class StrictChoiceField(serializers.ChoiceField):
    """Only JSON strings among the choices (DRF would compare `str(value)`: 1 could match "1").

    `enum_names` ({value: NAME}) names choices that are no identifiers ("1h") for generated
    clients (`x-enum-varnames` in OpenAPI, else they become VALUE_0, VALUE_1)."""

    def __init__(self, *args, enum_names=None, **kwargs):
        self.enum_names = enum_names
        super().__init__(*args, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """Only JSON true/false: "yes" or 1 is a mistake worth reporting, not guessing."""

    default_error_messages = {"invalid": "Must be true or false (a JSON boolean)."}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return data
        self.fail("invalid")


class ConstantField(serializers.Field):
    """An output field that is always `value` (an object's `type`); a one-value enum in OpenAPI."""

    def __init__(self, value, **kwargs):
        self.value = value
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def get_attribute(self, instance):
        return self.value

    def to_representation(self, value):
        return self.value


class BlankAsNullCharField(serializers.CharField):
    """Output: a stored empty string means "none" and is answered as null."""

    def __init__(self, **kwargs):
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return value or None


@extend_schema_field(OpenApiTypes.DATETIME)
class RFC3339Field(serializers.Field):
    """Input: an RFC 3339 timestamp with its offset (`2026-03-01T00:00:00Z`) within years 1 to
    9998, as `core.dates.parse_rfc3339` reads it."""

    def to_internal_value(self, data):
        if not isinstance(data, str) or not data:
            raise serializers.ValidationError(f"{data!r} is not an RFC 3339 timestamp; use e.g. 2026-03-01T00:00:00Z.")
        try:
            return parse_rfc3339(data, self.field_name)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict[self.field_name]) from None

    def to_representation(self, value):
        return serializers.DateTimeField().to_representation(value)


@extend_schema_field(OpenApiTypes.BOOL)
class QueryBooleanField(serializers.Field):
    """A query-string flag: `true` or `false`."""

    default_error_messages = {"invalid": "Use true or false."}

    def to_internal_value(self, data):
        if isinstance(data, str) and data.lower() in ("true", "false"):
            return data.lower() == "true"
        self.fail("invalid")


class QuerySerializer(serializers.Serializer):
    """Validates a query string. Parameters this serializer does not know are ignored (as HTTP
    caches and proxies may add some); an empty value of a typed parameter (`limit=`) is an error,
    an empty free-text value (a CharField, which should allow blanks so OpenAPI says so) means
    "not given". A `ListField` named `x` is read from `x[]` (and `x`), which is also its name in
    OpenAPI."""

    @classmethod
    def from_query(cls, query_params, **context):
        fields = cls().fields
        data = {}
        for name, field in fields.items():
            if isinstance(field, serializers.ListField):
                values = [*query_params.getlist(name), *query_params.getlist(name.removesuffix("[]"))]
                if field.max_length is not None and len(values) > field.max_length:
                    # OpenAPI's maxItems counts what was sent, blanks and repeats included
                    raise serializers.ValidationError(
                        {name: [field.error_messages["max_length"].format(max_length=field.max_length)]})
                if isinstance(field.child, serializers.CharField):
                    values = [value for value in values if value != ""]
                if values:
                    data[name] = list(dict.fromkeys(values))
            elif name in query_params:
                value = query_params.get(name)
                if value == "" and isinstance(field, serializers.CharField) and not field.required:
                    continue
                data[name] = value
        serializer = cls(data=data, context=context)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def get_fields(self):
        return self.bracket_lists(super().get_fields())

    @staticmethod
    def bracket_lists(fields):
        """`group_by` → `group_by[]` (read from the query string, named so in OpenAPI), still
        `group_by` in the validated data."""
        out = {}
        for name, field in fields.items():
            if isinstance(field, serializers.ListField):
                field.source = field.source or name
                name = f"{name}[]"
            out[name] = field
        return out


class ChoiceListField(serializers.ListField):
    """A list of choices, e.g. `group_by[]`; one message names every value not allowed."""

    def __init__(self, *, choices, verb, **kwargs):
        self.verb = verb
        kwargs.setdefault("required", False)
        super().__init__(child=serializers.ChoiceField(choices=choices), **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, list):
            self.fail("not_a_list", input_type=type(data).__name__)
        bad = [value for value in data if not isinstance(value, str) or value not in self.child.choices]
        if bad:
            raise serializers.ValidationError(
                f"cannot {self.verb} {', '.join(map(str, bad))}; use {', '.join(self.child.choices)}.")
        return list(dict.fromkeys(data))
