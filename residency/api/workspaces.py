"""`/v1/organizations/workspaces`: list, create, read, update, archive (SPEC §3, contract).

Thin views: permission checks, validation and audit live in `residency.services` and
`residency.permissions`; lists come from `residency.selectors.workspaces_visible_to`.
"""

from django.core.exceptions import ValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from core.pagination import keyset_page, list_body
from core.schema import errors
from orgs.api.base import OrgApi

from .. import services
from ..permissions import access_workspace
from ..selectors import workspaces_visible_to


def iso(dt):
    return dt.isoformat().replace("+00:00", "Z") if dt is not None else None


def workspace_json(ws):
    return {
        "id": ws.id,
        "type": "workspace",
        "name": ws.name,
        "created_at": iso(ws.created_at),
        "archived_at": iso(ws.archived_at),
        "data_residency": ws.data_residency,
    }


def strict_body(request, fields):
    """The JSON object body, refusing fields the endpoint does not know (typos fail loudly)."""
    data = request.data
    if not isinstance(data, dict):
        raise ValidationError("The request body must be a JSON object.")
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValidationError({name: [f"Unknown field; this endpoint accepts {', '.join(fields)}."] for name in unknown})
    if "data_residency" in data and not isinstance(data["data_residency"], dict):
        raise ValidationError({"data_residency": [
            'Must be an object with workspace_geo, allowed_inference_geos and/or default_inference_geo.']})
    if "name" in data and not isinstance(data["name"], str):
        raise ValidationError({"name": ["Must be a string."]})
    return data


class DataResidencySerializer(serializers.Serializer):
    workspace_geo = serializers.CharField(help_text='Where data is stored at rest; fixed at creation ("us").')
    allowed_inference_geos = serializers.JSONField(help_text='"unrestricted" or a non-empty list of geos.')
    default_inference_geo = serializers.CharField(help_text='"global" or "us"; must be allowed.')


class WorkspaceOutputSerializer(serializers.Serializer):
    id = serializers.CharField()
    type = serializers.CharField(default="workspace")
    name = serializers.CharField()
    created_at = serializers.DateTimeField()
    archived_at = serializers.DateTimeField(allow_null=True)
    data_residency = DataResidencySerializer()


class WorkspaceListOutputSerializer(serializers.Serializer):
    data = WorkspaceOutputSerializer(many=True)
    has_more = serializers.BooleanField()
    first_id = serializers.CharField(allow_null=True)
    last_id = serializers.CharField(allow_null=True)


class WorkspaceListCreateApi(OrgApi):
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField()
        data_residency = DataResidencySerializer(required=False, partial=True)

    @extend_schema(
        operation_id="workspaces_list",
        summary="List workspaces",
        parameters=[
            OpenApiParameter("include_archived", bool, description="Include archived workspaces (default false)."),
            OpenApiParameter("limit", int), OpenApiParameter("after_id", str), OpenApiParameter("before_id", str),
        ],
        responses={200: WorkspaceListOutputSerializer, **errors(400, 401)},
    )
    def get(self, request):
        flag = request.query_params.get("include_archived", "false").lower()
        if flag not in ("true", "false"):
            raise ValidationError({"include_archived": ["Use true or false."]})
        qs = workspaces_visible_to(self.access, include_archived=flag == "true")
        rows, has_more = keyset_page(qs, request.query_params, order_field="created_at")
        return Response(list_body([workspace_json(ws) for ws in rows], has_more))

    @extend_schema(
        operation_id="workspaces_create", summary="Create a workspace",
        request=InputSerializer, responses={200: WorkspaceOutputSerializer, **errors(400, 401, 403)})
    def post(self, request):
        data = strict_body(request, ("name", "data_residency"))
        if "name" not in data:
            raise ValidationError({"name": ["Give the workspace a name."]})
        workspace = services.workspace_create(
            actor=self.actor, organization=self.organization, name=data["name"],
            data_residency=data.get("data_residency"),
        )
        return Response(workspace_json(workspace))


class WorkspaceApiMixin:
    def workspace(self, need="view"):
        """The workspace in the caller's organization, if they may see it (else 404)."""
        workspace, _ = access_workspace(actor=self.actor, id=self.kwargs["workspace_id"], need=need,
                                        organization_id=self.organization.pk)
        return workspace


class WorkspaceDetailApi(WorkspaceApiMixin, OrgApi):
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(required=False)
        data_residency = DataResidencySerializer(
            required=False, partial=True,
            help_text="Partial: fields left out keep their values. workspace_geo cannot be changed (400).",
        )

    @extend_schema(operation_id="workspaces_retrieve", summary="Read a workspace",
                   responses={200: WorkspaceOutputSerializer, **errors(401, 404)})
    def get(self, request, workspace_id):
        return Response(workspace_json(self.workspace()))

    @extend_schema(
        operation_id="workspaces_update", summary="Update a workspace's name and/or data residency", request=InputSerializer,
                   responses={200: WorkspaceOutputSerializer, **errors(400, 401, 403, 404)})
    def post(self, request, workspace_id):
        data = strict_body(request, ("name", "data_residency"))
        workspace = services.workspace_update(
            actor=self.actor, workspace=self.workspace(), name=data.get("name"),
            data_residency=data.get("data_residency"),
        )
        return Response(workspace_json(workspace))


class WorkspaceArchiveApi(WorkspaceApiMixin, OrgApi):
    @extend_schema(
        operation_id="workspaces_archive", summary="Archive a workspace (permanent)",
        request=None, responses={200: WorkspaceOutputSerializer, **errors(401, 403, 404)})
    def post(self, request, workspace_id):
        workspace = services.workspace_archive(actor=self.actor, workspace=self.workspace())
        return Response(workspace_json(workspace))
