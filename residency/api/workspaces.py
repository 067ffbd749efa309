"""`/v1/organizations/workspaces`: list, create, read, update, archive (SPEC §3, contract).

Thin views: the serializers below are the contract (shapes and JSON types); the values' rules
(known geos, the default inside the allowed geos, workspace_geo fixed at creation) are
`residency.policy.clean_data_residency`, applied by `residency.services`, which every surface
shares; lists come from `residency.selectors.workspaces_visible_to`.
"""

from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response

from core.pagination import PaginatedListMixin
from core.schema import errors, examples
from core.serializers import ConstantField, QueryBooleanField, QuerySerializer, StrictCharField, StrictSerializer
from orgs.api.base import OrgApi

from .. import services
from ..permissions import access_workspace
from ..policy import UNRESTRICTED
from ..selectors import workspaces_visible_to
from .change_requests import HELD, held_or

MAX_NAME = 200
BODY = (413, 415)

ALLOWED_GEOS_SCHEMA = {
    "oneOf": [
        {"type": "string", "enum": [UNRESTRICTED], "description": "Inference may run in any geo."},
        {"type": "array", "items": {"type": "string", "description": "A geo: global or us."}, "minItems": 1,
         "uniqueItems": True, "description": "Only these geos, each at most once."},
    ],
    "description": '"unrestricted", or a non-empty list of geos without duplicates (today "global" and "us").',
}


@extend_schema_field(ALLOWED_GEOS_SCHEMA)
class AllowedGeosField(serializers.Field):
    """`"unrestricted"` or a list of geo strings; which geos exist, duplicates and emptiness are
    the policy's to judge (its messages name the valid geos)."""

    def validate_empty_values(self, data):
        if data is None:
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


class GeoField(StrictCharField):
    """A geo code (a string). Whether the geo exists is the policy's to judge; anything that is not
    a string gets the policy's message, which names the geos there are."""

    def __init__(self, *, workspace=False, **kwargs):
        self.workspace = workspace
        super().__init__(allow_blank=True, max_length=20, **kwargs)

    def validate_empty_values(self, data):
        if data is None:
            self.refuse(data)
        return super().validate_empty_values(data)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.refuse(data)
        return super().to_internal_value(data)

    def refuse(self, data):
        if self.workspace:
            raise serializers.ValidationError(f"{data!r} is not an available workspace geo; use one of: "
                                              f"{', '.join(services.workspace_geo_codes())}.")
        raise serializers.ValidationError(f"{data!r} is not a valid inference geo; use one of: "
                                          f"{', '.join(services.inference_geo_codes())}.")


WORKSPACE_EXAMPLE = {
    "id": "wrkspc_01JwQvzr7rXLA5AGx3HKfoVf", "type": "workspace", "name": "Production",
    "created_at": "2026-03-01T09:30:00.000000Z", "archived_at": None,
    "data_residency": {"workspace_geo": "us", "allowed_inference_geos": ["us"], "default_inference_geo": "us"},
}


class DataResidencySerializer(serializers.Serializer):
    """Where a workspace's data rests and where its inference may run."""

    workspace_geo = serializers.CharField(help_text="Where data is stored at rest and endpoint processing runs; "
                                          "chosen at creation, never changeable.")
    allowed_inference_geos = AllowedGeosField()
    default_inference_geo = serializers.CharField(help_text="Used when a request names no geo; one of the allowed "
                                                  "geos unless those are unrestricted.")


class DataResidencyCreateSerializer(StrictSerializer):
    """Each field left out takes the default: workspace_geo "us", allowed_inference_geos
    "unrestricted", default_inference_geo "global"."""

    workspace_geo = GeoField(workspace=True, required=False, help_text='Chosen now, for good ("us").')
    allowed_inference_geos = AllowedGeosField(required=False)
    default_inference_geo = GeoField(required=False, help_text='"global" or "us"; one of the allowed geos.')


class DataResidencyUpdateSerializer(StrictSerializer):
    """Fields left out keep their values; the result must be valid as a whole."""

    allowed_inference_geos = AllowedGeosField(required=False)
    default_inference_geo = GeoField(required=False, help_text='"global" or "us"; one of the allowed geos.')

    def unknown_field_message(self, name):
        if name == "workspace_geo":
            return "workspace_geo is chosen when a workspace is created and can never be changed."
        return super().unknown_field_message(name)


RESIDENCY_OBJECT = "Must be an object with workspace_geo, allowed_inference_geos and/or default_inference_geo."
NAME_ERRORS = {"blank": "Give the workspace a name.", "required": "Give the workspace a name.",
               "max_length": f"Use at most {MAX_NAME} characters."}


@examples(("Workspace", WORKSPACE_EXAMPLE))
class WorkspaceSerializer(serializers.Serializer):
    """A workspace and its data residency."""

    id = serializers.CharField(help_text="`wrkspc_` and a random base62 string.")
    type = ConstantField("workspace")
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    archived_at = serializers.DateTimeField(allow_null=True, help_text="When it was archived (for good); null "
                                            "while active.")
    data_residency = DataResidencySerializer()


@examples(("Defaults", {"name": "Production"}),
          ("US only", {"name": "Production", "data_residency": {"allowed_inference_geos": ["us"],
                                                                "default_inference_geo": "us"}}))
class WorkspaceCreateSerializer(StrictSerializer):
    """A new workspace. At most 100 active workspaces per organization."""

    name = StrictCharField(max_length=MAX_NAME, error_messages=NAME_ERRORS)
    data_residency = DataResidencyCreateSerializer(
        required=False, error_messages={"null": RESIDENCY_OBJECT, "invalid": RESIDENCY_OBJECT})


@examples(("Restrict to the US", {"data_residency": {"allowed_inference_geos": ["us"],
                                                     "default_inference_geo": "us"}}),
          ("Rename", {"name": "Production (EU team)"}))
class WorkspaceUpdateSerializer(StrictSerializer):
    """A new name and/or data residency; what is left out stays as it is."""

    name = StrictCharField(required=False, max_length=MAX_NAME, error_messages=NAME_ERRORS)
    data_residency = DataResidencyUpdateSerializer(
        required=False, error_messages={"null": RESIDENCY_OBJECT, "invalid": RESIDENCY_OBJECT})


class WorkspaceListQuerySerializer(QuerySerializer):
    include_archived = QueryBooleanField(required=False, default=False,
                                         help_text="Include archived workspaces (default false).")


def residency_input(data):
    value = data.get("data_residency")
    return dict(value) if value is not None else None


class WorkspaceListCreateApi(PaginatedListMixin, OrgApi):
    openapi_tag = "Workspaces"

    @extend_schema(
        operation_id="workspaces_list", summary="List workspaces",
        description="Oldest first. Privacy: view sees every workspace; a member made admin of some workspaces "
        "sees those; anyone else gets an empty list.",
        parameters=[WorkspaceListQuerySerializer],
        responses={200: WorkspaceSerializer(many=True), **errors(404)},
    )
    def get(self, request):
        query = WorkspaceListQuerySerializer.from_query(request.query_params)
        qs = workspaces_visible_to(self.access, include_archived=query["include_archived"])
        return self.list_response(qs, WorkspaceSerializer)

    @extend_schema(
        operation_id="workspaces_create", summary="Create a workspace",
        description="Needs Privacy: manage. `data_residency` fields left out take their defaults; "
        "`workspace_geo` cannot be changed later.",
        request=WorkspaceCreateSerializer, responses={200: WorkspaceSerializer, **errors(403, 404, *BODY)},
    )
    def post(self, request):
        data = WorkspaceCreateSerializer.from_request(request)
        workspace = services.workspace_create(actor=self.actor, organization=self.organization, name=data["name"],
                                              data_residency=residency_input(data))
        return Response(WorkspaceSerializer(workspace).data)


class WorkspaceApiMixin:
    openapi_tag = "Workspaces"

    def workspace(self, need="view"):
        """The workspace in the caller's organization, if they may see it (else 404)."""
        workspace, _ = access_workspace(actor=self.actor, id=self.kwargs["workspace_id"], need=need,
                                        organization_id=self.organization.pk)
        return workspace


class WorkspaceDetailApi(WorkspaceApiMixin, OrgApi):
    @extend_schema(
        operation_id="workspaces_retrieve", summary="Get a workspace",
        description="Privacy: view, or admin of this workspace; otherwise (and for another organization's "
        "workspace) a 404.",
        responses={200: WorkspaceSerializer, **errors(404)},
    )
    def get(self, request, workspace_id):
        return Response(WorkspaceSerializer(self.workspace()).data)

    @extend_schema(
        operation_id="workspaces_update", summary="Update a workspace",
        description="Rename it (Privacy: manage) and/or change its data residency (Privacy: manage, or admin of "
        "this workspace). `data_residency` is a partial update; `workspace_geo` cannot be changed. Archived "
        "workspaces cannot be changed. A data residency that reaches further loosens residency: when the "
        "organization asks for approval, nothing (the name neither) is applied and the answer is 202 with a "
        "pending change request.",
        request=WorkspaceUpdateSerializer,
        responses={200: WorkspaceSerializer, 202: HELD, **errors(403, 404, *BODY)},
    )
    def post(self, request, workspace_id):
        workspace = self.workspace()
        data = WorkspaceUpdateSerializer.from_request(request)
        result = services.workspace_update(actor=self.actor, workspace=workspace, name=data.get("name"),
                                           data_residency=residency_input(data))
        return held_or(result, WorkspaceSerializer)


class WorkspaceArchiveApi(WorkspaceApiMixin, OrgApi):
    @extend_schema(
        operation_id="workspaces_archive", summary="Archive a workspace",
        description="Permanent: an archived workspace cannot be changed or used for decisions, and no longer "
        "counts towards the limit of 100. Needs Privacy: manage. Archiving an archived workspace changes nothing.",
        request=None, responses={200: WorkspaceSerializer, **errors(403, 404)},
    )
    def post(self, request, workspace_id):
        workspace = services.workspace_archive(actor=self.actor, workspace=self.workspace())
        return Response(WorkspaceSerializer(workspace).data)
