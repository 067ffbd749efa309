"""`/v1/organizations/workspaces`: list, create, read, update, archive (SPEC §3, contract).

Thin views: the serializers below are the contract (shapes and JSON types); the values' rules
(known geos, the default inside the allowed geos, workspace_geo fixed at creation) are
`residency.policy.clean_data_residency`, applied by `residency.services`, which every surface
shares; lists come from `residency.selectors.workspaces_visible_to`.
"""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from core.pagination import PaginatedListMixin
from core.schema import errors, examples
from core.serializers import (
    ConstantField,
    QueryBooleanField,
    QuerySerializer,
    StrictCharField,
    StrictSerializer,
    StrictTextMixin,
)
from orgs.api.base import OrgApi

from .. import services
from ..permissions import access_workspace
from ..policy import MAX_TAG_VALUE, MAX_TAGS
from ..selectors import workspaces_visible_to
from .change_requests import HELD, held_or
from .fields import AllowedGeosField, DataResidencySerializer

MAX_NAME = 200
MAX_IDS = 100
BODY = (413, 415)

class GeoField(StrictCharField):
    """A geo code (a string). Whether the geo exists is the policy's to judge; anything that is not
    a string gets the policy's message, which names the geos there are."""

    def __init__(self, *, workspace=False, **kwargs):
        self.workspace = workspace
        super().__init__(allow_blank=True, max_length=20, **kwargs)

    def validate_empty_values(self, data):
        if data is None and not self.allow_null:
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


class DisplayColorField(StrictTextMixin, serializers.RegexField):
    """`#rrggbb`."""

    def __init__(self, **kwargs):
        super().__init__(r"^#[0-9a-fA-F]{6}$", help_text="The colour shown beside the workspace, `#rrggbb`.",
                         error_messages={"invalid": "Use a colour as #rrggbb, e.g. #6a9bcc."}, **kwargs)


class TagsField(serializers.DictField):
    """Tags: an object of string keys and string values (null deletes a tag on update)."""

    def __init__(self, *, deletes=False, **kwargs):
        child = StrictCharField(allow_blank=True, max_length=MAX_TAG_VALUE, allow_null=deletes)
        text = (f"Up to {MAX_TAGS} tags: keys of 1 to 64 characters not starting with \"anthropic\", string values "
                f"of at most {MAX_TAG_VALUE} characters.")
        if deletes:
            text += " Merged into the workspace's tags: a tag given replaces that tag, a null value deletes it."
        super().__init__(child=child, help_text=text,
                         error_messages={"not_a_dict": "Must be an object of string keys and string values."}, **kwargs)


# Admin API inputs for features this product does not have: a 400 that says so, not "unknown field"
ABSENT_FEATURES = {
    "external_key_id": "customer-managed encryption keys are not available here (a workspace's external_key_id is "
                       "always null); leave it out.",
    "user_profile_id": "user profiles are not available here (a workspace's user_profile_id is always null); leave "
                       "it out.",
}


class WorkspaceInputSerializer(StrictSerializer):
    def unknown_field_message(self, name):
        return ABSENT_FEATURES.get(name) or super().unknown_field_message(name)


WORKSPACE_EXAMPLE = {
    "id": "wrkspc_01JwQvzr7rXLA5AGx3HKfoVf", "type": "workspace", "name": "Production",
    "created_at": "2026-03-01T09:30:00.000000Z", "archived_at": None,
    "data_residency": {"workspace_geo": "us", "allowed_inference_geos": ["us"], "default_inference_geo": "us"},
    "display_color": "#6a9bcc", "tags": {"team": "payments"}, "compartment_id": "cmpt_4Hq8Zt2mLx9VbN3kRc7WsY1d",
    "external_key_id": None, "user_profile_id": None,
}


class DataResidencyCreateSerializer(StrictSerializer):
    """Each field left out (or null) takes the default: the organization's data residency policy's
    allowed geos and default, else allowed_inference_geos "unrestricted" and default_inference_geo
    "global"; workspace_geo "us"."""

    workspace_geo = GeoField(workspace=True, required=False, allow_null=True, help_text='Chosen now, for good ("us").')
    allowed_inference_geos = AllowedGeosField(required=False, allow_null=True)
    default_inference_geo = GeoField(required=False, allow_null=True,
                                     help_text='"global" or "us"; one of the allowed geos.')


class DataResidencyUpdateSerializer(StrictSerializer):
    """Fields left out (or null) keep their values; the result must be valid as a whole."""

    allowed_inference_geos = AllowedGeosField(required=False, allow_null=True)
    default_inference_geo = GeoField(required=False, allow_null=True,
                                     help_text='"global" or "us"; one of the allowed geos.')

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
    display_color = serializers.CharField(help_text="The colour shown beside the workspace, `#rrggbb`.")
    tags = serializers.DictField(child=serializers.CharField(allow_blank=True), help_text="Your tags: string keys "
                                 "and string values (an empty object when there are none).")
    compartment_id = serializers.CharField(help_text="A stable opaque id of the workspace's storage compartment; "
                                           "it never changes.")
    external_key_id = serializers.CharField(allow_null=True, help_text="Always null: no customer-managed "
                                            "encryption keys here.")
    user_profile_id = serializers.CharField(allow_null=True, help_text="Always null: no user profiles here.")


@examples(("Defaults", {"name": "Production"}),
          ("US only", {"name": "Production", "data_residency": {"allowed_inference_geos": ["us"],
                                                                "default_inference_geo": "us"}}))
class WorkspaceCreateSerializer(WorkspaceInputSerializer):
    """A new workspace. At most 100 active workspaces per organization."""

    name = StrictCharField(max_length=MAX_NAME, error_messages=NAME_ERRORS)
    data_residency = DataResidencyCreateSerializer(
        required=False, allow_null=True, help_text="Left out or null: the defaults (see its fields).",
        error_messages={"invalid": RESIDENCY_OBJECT})
    display_color = DisplayColorField(required=False, allow_null=True)
    tags = TagsField(required=False, allow_null=True)


@examples(("Restrict to the US", {"data_residency": {"allowed_inference_geos": ["us"],
                                                     "default_inference_geo": "us"}}),
          ("Rename", {"name": "Production (EU team)"}))
class WorkspaceUpdateSerializer(WorkspaceInputSerializer):
    """A new name, colour, tags and/or data residency; what is left out (or null) stays as it is."""

    name = StrictCharField(required=False, max_length=MAX_NAME, error_messages=NAME_ERRORS)
    data_residency = DataResidencyUpdateSerializer(
        required=False, allow_null=True, help_text="Left out or null: unchanged.",
        error_messages={"invalid": RESIDENCY_OBJECT})
    display_color = DisplayColorField(required=False, allow_null=True)
    tags = TagsField(required=False, allow_null=True, deletes=True)


class WorkspaceListQuerySerializer(QuerySerializer):
    include_archived = QueryBooleanField(required=False, default=False,
                                         help_text="Include archived workspaces (default false).")
    include_default = QueryBooleanField(required=False, default=False,
                                        help_text="Accepted for the official client; this product has no default "
                                                  "workspace, so it changes nothing.")
    ids = serializers.ListField(
        child=serializers.CharField(max_length=40), required=False, max_length=MAX_IDS,
        help_text=f"Only the workspaces with these ids, at most {MAX_IDS}; ids of workspaces you cannot see are left "
                  "out. include_archived still applies.",
        error_messages={"max_length": f"at most {MAX_IDS} ids per request."})


def residency_input(data):
    """The `data_residency` given, without its null members (null means the default, or unchanged)."""
    value = data.get("data_residency")
    return {k: v for k, v in value.items() if v is not None} if value is not None else None


class WorkspaceListCreateApi(PaginatedListMixin, OrgApi):
    openapi_tag = "Workspaces"

    @extend_schema(
        operation_id="workspaces_list", summary="List workspaces",
        description="Oldest first. Privacy: view sees every workspace; a member made admin of some workspaces "
        "sees those; anyone else gets an empty list. `ids[]` narrows it to those workspaces.",
        parameters=[WorkspaceListQuerySerializer],
        responses={200: WorkspaceSerializer(many=True), **errors(404)},
    )
    def get(self, request):
        query = WorkspaceListQuerySerializer.from_query(request.query_params)
        qs = workspaces_visible_to(self.access, include_archived=query["include_archived"], ids=query.get("ids"))
        return self.list_response(qs, WorkspaceSerializer)

    @extend_schema(
        operation_id="workspaces_create", summary="Create a workspace",
        description="Needs Privacy: manage. `data_residency` fields left out (or null) take their defaults; "
        "`workspace_geo` cannot be changed later. A colour is chosen when `display_color` is not given.",
        request=WorkspaceCreateSerializer, responses={200: WorkspaceSerializer, **errors(403, 404, *BODY)},
    )
    def post(self, request):
        data = WorkspaceCreateSerializer.from_request(request)
        workspace = services.workspace_create(actor=self.actor, organization=self.organization, name=data["name"],
                                              data_residency=residency_input(data),
                                              display_color=data.get("display_color"), tags=data.get("tags"))
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
        description="Rename, recolour or retag it (Privacy: manage) and/or change its data residency (Privacy: "
        "manage, or admin of this workspace). `data_residency` is a partial update; `workspace_geo` cannot be "
        "changed. `tags` merge into the workspace's tags, a null value deleting that tag. Archived workspaces cannot "
        "be changed. A data residency that reaches further loosens residency: when the organization asks for "
        "approval, nothing (the name, colour and tags neither) is applied and the answer is 202 with a pending "
        "change request.",
        request=WorkspaceUpdateSerializer,
        responses={200: WorkspaceSerializer, 202: HELD, **errors(403, 404, *BODY)},
    )
    def post(self, request, workspace_id):
        workspace = self.workspace()
        data = WorkspaceUpdateSerializer.from_request(request)
        result = services.workspace_update(actor=self.actor, workspace=workspace, name=data.get("name"),
                                           data_residency=residency_input(data),
                                           display_color=data.get("display_color"), tags=data.get("tags"))
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
