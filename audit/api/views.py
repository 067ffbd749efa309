"""`GET /v1/organizations/audit_events` (SPEC §3): the change history, read-only."""

from django.core.exceptions import ValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from core.pagination import list_body
from core.schema import errors
from orgs.api.base import OrgApi

from ..export import event_json, streaming_export
from ..permissions import audit_scope
from ..selectors import audit_api_page, audit_events, audit_filters_from_api, audit_names


class AuditEventListApi(OrgApi):
    """Newest first. `audit_log: view` (owners) see every event; `privacy: view` alone sees
    residency history; anyone else gets 404. `format=csv` streams the whole filtered set as
    CSV, `format=json` as JSON in ascending seq with every hashed field (unfiltered: the whole
    chain, for offline verification); pagination parameters do not apply to either."""

    def perform_content_negotiation(self, request, force=False):
        # `format=csv` is ours, not DRF's renderer switch; errors always render as JSON.
        return JSONRenderer(), JSONRenderer.media_type

    @extend_schema(
        summary="List audit events",
        parameters=[
            OpenApiParameter("action", OpenApiTypes.STR, description="Only this action, e.g. workspace.updated"),
            OpenApiParameter("actor_id", OpenApiTypes.STR,
                             description="A user id (their own and their API keys' events) or an API key id"),
            OpenApiParameter("target_id", OpenApiTypes.STR, description="The changed object's id"),
            OpenApiParameter("starting_at", OpenApiTypes.DATETIME, description="RFC 3339, inclusive"),
            OpenApiParameter("ending_at", OpenApiTypes.DATETIME, description="RFC 3339, exclusive"),
            OpenApiParameter("limit", OpenApiTypes.INT, description="1-1000, default 20"),
            OpenApiParameter("after_id", OpenApiTypes.STR, description="Older events after this event id"),
            OpenApiParameter("before_id", OpenApiTypes.STR, description="Newer events before this event id"),
            OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"],
                             description="csv: stream every matching event as CSV; json: stream every matching "
                             "event as a JSON array in ascending seq, with all that verification needs "
                             "(unfiltered: the whole chain, for verify_audit_log --export)"),
        ],
        responses={200: OpenApiTypes.OBJECT, **errors(400, 401, 404)},
    )
    def get(self, request):
        scope = audit_scope(self.access)
        params = request.query_params
        filters = audit_filters_from_api(params)
        names = audit_names(self.organization)
        fmt = params.get("format") or None
        if fmt is not None and fmt not in ("json", "csv"):
            raise ValidationError({"format": [f"Unknown format {fmt!r}; use json or csv."]})
        if fmt is not None:
            return streaming_export(audit_events(scope, filters), names, self.organization, fmt)
        rows, has_more = audit_api_page(scope, filters, params)
        return Response(list_body([event_json(e, names) for e in rows], has_more))
