"""`GET /v1/organizations/audit_events` (SPEC §3): the change history, read-only."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.renderers import JSONRenderer

from core.pagination import PaginatedListMixin, parse_limit
from core.schema import ArrayOf, OneOf, errors
from orgs.api.base import OrgApi

from ..export import CSV_COLUMNS, streaming_export
from ..permissions import audit_scope
from ..selectors import AuditFilters, audit_events, audit_names
from .serializers import (
    EVENT_EXAMPLE,
    AuditEventFilterSerializer,
    AuditEventQuerySerializer,
    AuditEventSerializer,
    AuditExportEventSerializer,
)

CSV_EXAMPLE = ",".join(CSV_COLUMNS) + "\n1042,17,2026-03-01T09:30:00.123456Z,workspace.updated,...\n"
EXPORT_EXAMPLE = OpenApiExample("Export", response_only=True, value=[
    {**EVENT_EXAMPLE, "organization_id": "org_01JwQvzr7rXLA5AGx3HKfoVf"}])


class AuditEventListApi(PaginatedListMixin, OrgApi):
    openapi_tag = "Audit events"
    page_order_field = "seq"
    page_descending = True
    page_order_unique = True
    page_noun = "audit event"

    def perform_content_negotiation(self, request, force=False):
        # `format=csv` is ours, not DRF's renderer switch; errors always render as JSON.
        return JSONRenderer(), JSONRenderer.media_type

    @extend_schema(
        operation_id="audit_events_list", summary="List audit events",
        description="Newest first. Audit log: view (owners hold it) sees every event; Privacy: view alone sees the "
        "history of residency settings; anyone else gets a 404. `after_id` continues to older events, "
        "`before_id` goes back to newer ones. `format=csv` answers every matching event as CSV instead "
        "(`text/csv`; the paging parameters do not apply). `format=json` streams every matching event as one "
        "JSON array in ascending seq, each with `organization_id` and every hashed field, instead of a page: "
        "unfiltered, with Audit log: view, it is the whole chain, which `verify_audit_log --export` checks "
        "offline against the signed checkpoints.",
        parameters=[AuditEventQuerySerializer],
        responses={
            # a page (an object), or with format=json the export (an array): a client tells them apart by type
            (200, "application/json"): OneOf(
                AuditEventSerializer(many=True), ArrayOf(AuditExportEventSerializer), examples=[EXPORT_EXAMPLE],
                description="A page of events; with `format=json`, every matching event as one array in "
                "ascending seq (the export)."),
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="With `format=csv`: a header row, then one row per event.",
                examples=[OpenApiExample("CSV", value=CSV_EXAMPLE, media_type="text/csv", response_only=True)]),
            **errors(404),
        },
    )
    def get(self, request):
        scope = audit_scope(self.access)
        query = AuditEventQuerySerializer.from_query(request.query_params)
        filters = _filters(query)
        names = audit_names(self.organization)
        if query.get("format") in ("csv", "json"):
            # an export is every matching event, so paging does not apply; `limit` is still held to its
            # documented bounds (a generated client sends its default of 20 with every call)
            parse_limit(request.query_params.get("limit"))
            return streaming_export(audit_events(scope, filters), names, self.organization, query["format"])
        return self.list_response(audit_events(scope, filters), AuditEventSerializer, names=names)


def _filters(query):
    return AuditFilters(action=query.get("action"), actor_id=query.get("actor_id"), target_id=query.get("target_id"),
                        starting_at=query.get("starting_at"), ending_at=query.get("ending_at"))


class AuditEventCsvApi(OrgApi):
    """The same CSV as `format=csv`, at a path of its own whose only answer is `text/csv`, so a
    client generated from the document reads it as text (one operation cannot be typed both ways)."""

    openapi_tag = "Audit events"

    def perform_content_negotiation(self, request, force=False):
        return JSONRenderer(), JSONRenderer.media_type  # errors render as JSON

    @extend_schema(
        operation_id="audit_events_csv", summary="Export audit events as CSV",
        description="Every matching event as CSV (`text/csv`, newest first), with the filters of the list: what "
        "`GET /v1/organizations/audit_events?format=csv` answers. Same access: Audit log: view sees every event, "
        "Privacy: view alone the history of residency settings, anyone else gets a 404.",
        parameters=[AuditEventFilterSerializer],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="A header row, then one row per event.",
                examples=[OpenApiExample("CSV", value=CSV_EXAMPLE, media_type="text/csv", response_only=True)]),
            **errors(404),
        },
    )
    def get(self, request):
        scope = audit_scope(self.access)
        query = AuditEventFilterSerializer.from_query(request.query_params)
        return streaming_export(audit_events(scope, _filters(query)), audit_names(self.organization), self.organization,
                                "csv")
