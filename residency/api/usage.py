"""Usage ingestion and the usage / cost reports (SPEC §3), in the Anthropic Admin API shape.

Ingestion takes up to 5,000 rows a request and millions a day, so the serializer here checks the
envelope and documents a row (`UsageRecordSerializer`), while the rows themselves are validated
by `residency.services.usage_ingest`'s fast validator, the one every caller of ingestion shares
(a test keeps the two in step). Report query strings are validated by the query serializers
below; the reports are computed by `residency.reports`.
"""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from core.schema import errors, examples
from core.serializers import (
    ChoiceListField,
    ConstantField,
    QuerySerializer,
    RFC3339Field,
    StrictCharField,
    StrictChoiceField,
    StrictSerializer,
)
from orgs.api.base import OrgApi

from ..models import SERVICE_TIERS
from ..permissions import require_cost_view, require_usage_view
from ..reports import (
    COST_GROUPS,
    LIMITS,
    USAGE_GROUPS,
    ReportQuery,
    cost_report,
    floor_bucket,
    unknown_workspace_ids,
    usage_report,
)
from ..services import MAX_RECORDS, MAX_TOKENS, SURFACES, TooManyRecords, usage_ingest

MAX_RECORD_ID = 100


class RequestTooLarge(APIException):
    status_code = 413
    default_detail = "The request is too large."


# --- ingestion -----------------------------------------------------------------------------


def _tokens(help_text, **kwargs):
    return serializers.IntegerField(min_value=0, max_value=MAX_TOKENS, required=False, help_text=help_text, **kwargs)


class UsageRecordCacheCreationSerializer(StrictSerializer):
    """Cache-write input tokens by cache lifetime (each 0 when left out)."""

    ephemeral_5m_input_tokens = _tokens("Input tokens written to the 5-minute cache.")
    ephemeral_1h_input_tokens = _tokens("Input tokens written to the 1-hour cache.")


USAGE_ROW_EXAMPLE = {
    "id": "req_2026-03-01_000001", "workspace_id": "wrkspc_01JwQvzr7rXLA5AGx3HKfoVf", "model": "claude-opus-4-6",
    "inference_geo": "us", "service_tier": "standard", "occurred_at": "2026-03-01T09:30:00Z",
    "uncached_input_tokens": 1200, "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
    "cache_read_input_tokens": 300, "output_tokens": 450,
}


class UsageRecordSerializer(StrictSerializer):
    """One usage row: what one request used."""

    id = StrictCharField(max_length=MAX_RECORD_ID, help_text="Your id for the row; a row sent again with the same "
                         "id is stored once (idempotent ingestion).")
    surface = StrictChoiceField(choices=SURFACES, required=False,
                                help_text='"api" (the default) for API requests, "apps" for the Claude apps.')
    workspace_id = StrictCharField(required=False, help_text="A workspace of your organization: required for API "
                                   "rows, absent for Claude apps rows.")
    model = StrictCharField(help_text="A model id from the catalog, e.g. claude-opus-4-6.")
    inference_geo = StrictCharField(help_text='Where it ran: "global" or "us" for models that support '
                                    'inference_geo, "not_available" for the others.')
    service_tier = StrictChoiceField(choices=SERVICE_TIERS)
    occurred_at = serializers.DateTimeField(help_text="RFC 3339 with an offset, years 1 to 9998.")
    uncached_input_tokens = _tokens("Input tokens not read from or written to a cache.")
    cache_creation = UsageRecordCacheCreationSerializer(required=False)
    cache_read_input_tokens = _tokens("Input tokens read from a cache.")
    output_tokens = _tokens("Output tokens.")


class UsageRecordListField(serializers.ListField):
    """The rows: the envelope is checked here, each row by the ingestion service."""

    def __init__(self, **kwargs):
        message = "must be a non-empty list of usage rows."
        super().__init__(child=UsageRecordSerializer(), min_length=1, max_length=MAX_RECORDS,
                         error_messages={"required": message, "null": message, "not_a_list": message,
                                         "empty": message}, **kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, list) or not data:
            self.fail("not_a_list", input_type=type(data).__name__)
        if len(data) > MAX_RECORDS:
            raise RequestTooLarge(f"{len(data)} records in one request; send at most {MAX_RECORDS} per request.")
        return data


@examples(("Two rows", {"records": [USAGE_ROW_EXAMPLE, {**USAGE_ROW_EXAMPLE, "id": "req_2026-03-01_000002",
                                                        "model": "claude-haiku-4-5",
                                                        "inference_geo": "not_available"}]}))
class UsageRecordsIngestSerializer(StrictSerializer):
    """Usage rows to store: all or nothing. One invalid row rejects the request with a 400 that
    names the row and field, and nothing is stored."""

    records = UsageRecordListField(help_text=f"1 to {MAX_RECORDS} rows.")


@examples(("Stored", {"accepted": 2, "duplicates": 0}))
class UsageRecordsIngestedSerializer(serializers.Serializer):
    """What an ingestion stored."""

    accepted = serializers.IntegerField(min_value=0, help_text="Rows stored now.")
    duplicates = serializers.IntegerField(min_value=0, help_text="Rows whose id was stored before (or sent twice "
                                          "in this request); they change nothing.")


# --- reports -------------------------------------------------------------------------------


class CacheCreationSerializer(serializers.Serializer):
    """Cache-write input tokens by cache lifetime."""

    ephemeral_5m_input_tokens = serializers.IntegerField(min_value=0)
    ephemeral_1h_input_tokens = serializers.IntegerField(min_value=0)


DIMENSIONS = {
    "surface": '"api" or "apps" (the Claude apps).',
    "workspace_id": "The workspace (null for Claude apps rows).",
    "model": "The model.",
    "service_tier": "standard, batch or priority.",
    "inference_geo": '"global", "us" or "not_available".',
}


def _dimensions(groups):
    """One nullable field per dimension the report groups by (`residency.reports`' list)."""
    return {name: serializers.CharField(allow_null=True, help_text=f"{DIMENSIONS.get(name, name)} Null unless grouped "
                                        "by it.") for name in groups}


class UsageReportResultSerializer(serializers.Serializer):
    """Token sums of one group in one bucket."""

    uncached_input_tokens = serializers.IntegerField(min_value=0)
    cache_creation = CacheCreationSerializer()
    cache_read_input_tokens = serializers.IntegerField(min_value=0)
    output_tokens = serializers.IntegerField(min_value=0)

    def get_fields(self):
        return {**super().get_fields(), **_dimensions(USAGE_GROUPS)}


class UsageReportBucketSerializer(serializers.Serializer):
    """One time bucket."""

    starting_at = serializers.DateTimeField()
    ending_at = serializers.DateTimeField(help_text="Exclusive.")
    results = UsageReportResultSerializer(many=True)


NEXT_PAGE = "Pass it as `page` for the next buckets; null on the last page."


@examples(("One day by geo", {
    "data": [{"starting_at": "2026-03-01T00:00:00Z", "ending_at": "2026-03-02T00:00:00Z", "results": [
        {"uncached_input_tokens": 1200, "cache_creation": {"ephemeral_5m_input_tokens": 0,
                                                           "ephemeral_1h_input_tokens": 0},
         "cache_read_input_tokens": 300, "output_tokens": 450, "workspace_id": None, "model": None,
         "service_tier": None, "surface": None, "inference_geo": "us"}]}],
    "has_more": False, "next_page": None}))
class UsageReportSerializer(serializers.Serializer):
    """Token usage per bucket, grouped as asked."""

    data = UsageReportBucketSerializer(many=True)
    has_more = serializers.BooleanField()
    next_page = serializers.DateTimeField(allow_null=True, help_text=NEXT_PAGE)


class CostReportResultSerializer(serializers.Serializer):
    """The cost of one group in one day."""

    currency = ConstantField("USD")
    amount = serializers.RegexField(r"^\d+(\.\d+)?$", help_text="USD cents as a decimal string, e.g. \"1234.5\".")

    def get_fields(self):
        return {**super().get_fields(), **_dimensions(COST_GROUPS)}


class CostReportBucketSerializer(serializers.Serializer):
    """One day."""

    starting_at = serializers.DateTimeField()
    ending_at = serializers.DateTimeField(help_text="Exclusive.")
    results = CostReportResultSerializer(many=True)


@examples(("One day by geo", {
    "data": [{"starting_at": "2026-03-01T00:00:00Z", "ending_at": "2026-03-02T00:00:00Z", "results": [
        {"currency": "USD", "amount": "1.7325", "workspace_id": None, "inference_geo": "us", "model": None,
         "surface": None}]}],
    "has_more": False, "next_page": None}))
class CostReportSerializer(serializers.Serializer):
    """Daily cost, grouped as asked."""

    data = CostReportBucketSerializer(many=True)
    has_more = serializers.BooleanField()
    next_page = serializers.DateTimeField(allow_null=True, help_text=NEXT_PAGE)


BUCKET_WIDTH_NAMES = {"1h": "ONE_HOUR", "1d": "ONE_DAY"}  # names in generated clients


def _strings(help_text):
    return serializers.ListField(child=serializers.CharField(allow_blank=True), required=False, help_text=help_text)


class ReportQuerySerializer(QuerySerializer):
    """Report parameters, validated into a `residency.reports.ReportQuery`."""

    groups = ()
    widths = ()

    def get_fields(self):
        widths, groups = self.widths, self.groups
        maximum = max(LIMITS[w][1] for w in widths)
        bounds = ", 1 to ".join(f"{LIMITS[w][1]} buckets for bucket_width {w}"
                                for w in sorted(widths, key=lambda w: -LIMITS[w][1]))
        defaults = ", ".join(f"{LIMITS[w][0]} for {w}" for w in widths)
        limit_message = f"must be from 1 to {bounds}."
        return self.bracket_lists({
            "starting_at": RFC3339Field(
                help_text="RFC 3339; floored to the start of its bucket (UTC).",
                error_messages={"required": "is required (RFC 3339, e.g. 2026-03-01T00:00:00Z)."}),
            "ending_at": RFC3339Field(required=False, help_text="RFC 3339, exclusive; default now."),
            "bucket_width": StrictChoiceField(
                choices=widths, required=False, default="1d", help_text="The bucket size (default 1d).",
                enum_names=BUCKET_WIDTH_NAMES,
                error_messages={"invalid_choice": f"{{input!r}} is not supported here; use {' or '.join(widths)}."}),
            "group_by": ChoiceListField(choices=groups, verb="group by", help_text="Dimensions to group by."),
            "workspace_ids": _strings("Only these workspaces."),
            "models": _strings("Only these models."),
            "inference_geos": _strings("Only these geos."),
            "limit": serializers.IntegerField(
                required=False, min_value=1, max_value=maximum,
                help_text=f"Buckets per page: 1 to {bounds} (default {defaults}).",
                error_messages={key: limit_message for key in ("invalid", "min_value", "max_value",
                                                               "max_string_length")}),
            "page": RFC3339Field(required=False, help_text="`next_page` from the previous answer."),
        })

    def validate(self, attrs):
        width = attrs["bucket_width"]
        start = floor_bucket(attrs["starting_at"], width)
        end = attrs.get("ending_at") or self.context["now"]
        if end <= start:
            raise serializers.ValidationError({"ending_at": ["must be after starting_at."]})
        page = attrs.get("page")
        if page is not None:
            if page < start or page >= end or floor_bucket(page, width) != page:
                raise serializers.ValidationError(
                    {"page": ["is not a page of this report; pass next_page from the previous answer."]})
            start = page
        default, maximum = LIMITS[width]
        limit = attrs.get("limit", default)
        if limit > maximum:
            raise serializers.ValidationError({"limit": [f"must be from 1 to {maximum} buckets for bucket_width "
                                                         f"{width}."]})
        workspace_ids = tuple(attrs.get("workspace_ids", ()))
        unknown = unknown_workspace_ids(self.context["organization"], workspace_ids)
        if unknown:
            raise serializers.ValidationError(
                {"workspace_ids[]": [f"no workspace {', '.join(unknown)} in this organization."]})
        return ReportQuery(width=width, start=start, end=end, group_by=tuple(attrs.get("group_by", ())),
                           workspace_ids=workspace_ids, models=tuple(attrs.get("models", ())),
                           geos=tuple(attrs.get("inference_geos", ())), limit=limit)


class UsageReportQuerySerializer(ReportQuerySerializer):
    groups = USAGE_GROUPS
    widths = ("1h", "1d")


class CostReportQuerySerializer(ReportQuerySerializer):
    groups = COST_GROUPS
    widths = ("1d",)


def _report_query(serializer_class, view):
    return serializer_class.from_query(view.request.query_params, organization=view.organization, now=timezone.now())


# --- views ---------------------------------------------------------------------------------


class UsageRecordIngestApi(OrgApi):
    openapi_tag = "Usage records"

    @extend_schema(
        operation_id="usage_records_create", summary="Ingest usage records",
        description=f"Stores usage rows, all or nothing, idempotent by `id`; up to {MAX_RECORDS:,} rows per request "
        "(413 beyond). Needs Billing: manage (internal tools use an owner's key); members who see no usage get "
        "a 404. Not audited: usage rows are data, not setting changes.",
        request=UsageRecordsIngestSerializer,
        responses={200: UsageRecordsIngestedSerializer, **errors(403, 404, 413, 415)},
    )
    def post(self, request):
        serializer = UsageRecordsIngestSerializer.for_request(request)
        # who sees no usage learns no more than a 404, whatever the body
        try:
            valid = serializer.is_valid()
        except RequestTooLarge:
            require_usage_view(self.access)
            raise
        if not valid:
            require_usage_view(self.access)
            raise serializers.ValidationError(serializer.errors)
        try:
            result = usage_ingest(actor=self.actor, organization=self.organization,
                                  records=serializer.validated_data["records"])
        except TooManyRecords as exc:
            raise RequestTooLarge(str(exc))
        return Response(UsageRecordsIngestedSerializer(result).data)


class UsageReportApi(OrgApi):
    openapi_tag = "Usage report"

    @extend_schema(
        operation_id="usage_report_messages_retrieve", summary="Get the usage report",
        description="Token usage per `1h` or `1d` bucket (UTC), grouped by the dimensions you ask for, as the "
        "Anthropic Admin API's usage report. Needs Billing: view or Analytics: view; anyone else gets a 404.",
        parameters=[UsageReportQuerySerializer],
        responses={200: UsageReportSerializer, **errors(404)},
    )
    def get(self, request):
        require_usage_view(self.access)
        query = _report_query(UsageReportQuerySerializer, self)
        return Response(UsageReportSerializer(usage_report(self.organization, query)).data)


class CostReportApi(OrgApi):
    openapi_tag = "Cost report"

    @extend_schema(
        operation_id="cost_report_retrieve", summary="Get the cost report",
        description="Daily cost in USD cents as decimal strings, grouped by the dimensions you ask for. Needs "
        "Billing: view: Analytics: view alone is a 403, anyone else gets a 404.",
        parameters=[CostReportQuerySerializer],
        responses={200: CostReportSerializer, **errors(403, 404)},
    )
    def get(self, request):
        require_cost_view(self.access)
        query = _report_query(CostReportQuerySerializer, self)
        return Response(CostReportSerializer(cost_report(self.organization, query)).data)

