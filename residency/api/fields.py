"""Serializer fields and shapes shared by the residency endpoints (workspaces, the organization
policy, change requests): a workspace's data residency and its allowed inference geos. Kept apart
from the views so that `change_requests` (imported by every view that may answer 202) can use
them too."""

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

from core.schema import component

from .. import services
from ..policy import UNRESTRICTED

UNRESTRICTED_ENUM = {"type": "string", "enum": [UNRESTRICTED], "description": "Inference may run in any geo."}
GEO_LIST_SCHEMA = {"type": "array", "items": {"type": "string", "description": "A geo: global or us."}, "minItems": 1,
                   "uniqueItems": True, "description": "Only these geos, each at most once."}


class AllowedGeosField(serializers.Field):
    """`"unrestricted"` or a list of geo strings; which geos exist, duplicates and emptiness are
    the policy's to judge (its messages name the valid geos). In an input that allows it, null
    means "the default" (create) or "unchanged" (update)."""

    def validate_empty_values(self, data):
        if data is None and not self.allow_null:
            self.refuse()
        return super().validate_empty_values(data)

    def to_internal_value(self, data):
        if data == UNRESTRICTED or isinstance(data, list) and all(isinstance(geo, str) for geo in data):
            return data
        self.refuse()

    def refuse(self):
        raise serializers.ValidationError(
            f'Must be "unrestricted" or a non-empty list drawn from {", ".join(services.inference_geo_codes())}.')

    def to_representation(self, value):
        return value


class AllowedGeosFieldExtension(OpenApiSerializerFieldExtension):
    """`oneOf` the named enum `UnrestrictedEnum` (one class in generated clients, wherever the field
    appears) and a list of geos."""

    target_class = AllowedGeosField
    match_subclasses = True

    def map_serializer_field(self, auto_schema, direction):
        return {"oneOf": [component(auto_schema, "UnrestrictedEnum", UNRESTRICTED_ENUM), GEO_LIST_SCHEMA],
                "description": '"unrestricted", or a non-empty list of geos without duplicates (today "global" '
                               'and "us").'}


class DataResidencySerializer(serializers.Serializer):
    """Where a workspace's data rests and where its inference may run."""

    workspace_geo = serializers.CharField(help_text="Where data is stored at rest and endpoint processing runs; "
                                          "chosen at creation, never changeable.")
    allowed_inference_geos = AllowedGeosField()
    default_inference_geo = serializers.CharField(help_text="Used when a request names no geo; one of the allowed "
                                                  "geos unless those are unrestricted.")
