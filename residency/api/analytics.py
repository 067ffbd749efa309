"""`/v1/organizations/analytics/usage` and `/analytics/cost` (SPEC §9): usage and cost as the
official SDK's `beta.organization.analytics.usage.list` and `.cost.list` read them, for the
dimensions this product has (workspace, service tier, inference geo, model, product).

The query serializers below are the contract: they take the SDK's parameters this product has
data for, refuse with a 400 naming them those it has none for (actors, API keys, agents,
sessions, Slack, speeds, ...), and validate the rest into a `residency.reports.AnalyticsQuery`.
The rows come from `residency.reports.analytics`, which reads the same hourly and daily rollups
as the usage and cost reports.
"""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from core.pagination import DEFAULT_LIMIT, MAX_LIMIT
from core.schema import errors, examples
from core.serializers import ChoiceListField, ConstantField, QuerySerializer, RFC3339Field, StrictChoiceField
from orgs.api.base import OrgApi

from ..models import SERVICE_TIERS
from ..permissions import require_cost_view, require_usage_view
from ..reports import (
    ANALYTICS_DIMENSIONS,
    COST_ORDERS,
    MAX_ANALYTICS_RANGE,
    PRODUCTS,
    USAGE_ORDERS,
    WIDTHS,
    AnalyticsQuery,
    analytics,
    decode_page,
    floor_bucket,
    unknown_workspace_ids,
)
from .usage import BUCKET_WIDTH_NAMES, CacheCreationSerializer

# The SDK's parameters (anthropic 2.15.0) for data this product does not have: a 400 naming them,
# never silently ignored (which would answer as if they matched everything).
UNAVAILABLE_OPTIONS = (
    "actor_ids", "actor_types", "agent_ids", "api_key_ids", "claude_tag_categories", "claude_tag_user_ids",
    "context_windows", "deployment_ids", "environment_ids", "exclude_deleted_users", "organization_ids",
    "rbac_group_ids", "session_ids", "slack_channel_ids", "speeds", "user_profile_ids",
)
DIMENSION_LIST = ", ".join(ANALYTICS_DIMENSIONS)
UNAVAILABLE = "this product has no data for {what}: it reports usage and cost by " + DIMENSION_LIST + "."
PAGE_REFUSED = "is not a page of this report; pass next_page from the previous answer, with the same parameters."


# --- the answer ----------------------------------------------------------------------------


class AnalyticsGroupSerializer(serializers.Serializer):
    """The dimension values a row is broken out by; each is null unless grouped by it."""

    workspace_id = serializers.CharField(allow_null=True, help_text="The workspace (null for Claude apps usage).")
    service_tier = serializers.ChoiceField(choices=SERVICE_TIERS, allow_null=True)
    inference_geo = serializers.CharField(allow_null=True, help_text='Where it ran, "global" or "us"; null for '
                                          "models that do not support inference_geo (reported as not_available).")
    model = serializers.CharField(allow_null=True)
    product = serializers.ChoiceField(choices=PRODUCTS, allow_null=True, help_text="messages_api, "
                                      "message_batches_api (API usage of tier batch) or chat (the Claude apps).")


class ServerToolUseSerializer(serializers.Serializer):
    """Server-side tool use: none here."""

    web_search_requests = serializers.IntegerField(min_value=0, help_text="Always 0.")


class AnalyticsUsageMetricsSerializer(serializers.Serializer):
    """The token usage of one row."""

    uncached_input_tokens = serializers.IntegerField(min_value=0)
    cache_creation = CacheCreationSerializer()
    cache_read_input_tokens = serializers.IntegerField(min_value=0)
    output_tokens = serializers.IntegerField(min_value=0)
    total_tokens = serializers.IntegerField(min_value=0, help_text="The sum of the four token counts above "
                                            "(both cache writes counted).")
    requests = serializers.IntegerField(min_value=0, help_text="Usage rows (one per request).")
    server_tool_use = ServerToolUseSerializer()


class AnalyticsCostMetricsSerializer(serializers.Serializer):
    """The cost of one row."""

    amount = serializers.RegexField(r"^\d+(\.\d+)?$", help_text="USD cents as a decimal string, after the batch "
                                    "discount.")
    list_amount = serializers.RegexField(r"^\d+(\.\d+)?$", help_text="USD cents before the batch discount (the "
                                         "residency multiplier applies to both).")
    currency = ConstantField("USD")
    requests = serializers.IntegerField(min_value=0, help_text="Usage rows (one per request).")


class AnalyticsRowSerializer(serializers.Serializer):
    starting_at = serializers.DateTimeField(help_text="The bucket's start, or the range's start floored to the hour.")
    ending_at = serializers.DateTimeField(help_text="Exclusive: the bucket's end, or the range's end floored to the "
                                          "hour.")
    group = AnalyticsGroupSerializer()


class AnalyticsUsageRowSerializer(AnalyticsRowSerializer):
    """One row: usage of one combination of dimension values (in one bucket)."""

    usage = AnalyticsUsageMetricsSerializer()


class AnalyticsCostRowSerializer(AnalyticsRowSerializer):
    """One row: cost of one combination of dimension values (in one bucket)."""

    cost = AnalyticsCostMetricsSerializer()


NEXT_PAGE = "Pass it as `page` (with the same other parameters) for the next rows; null on the last page."
GROUP_EXAMPLE = {"workspace_id": None, "service_tier": None, "inference_geo": "us", "model": None, "product": None}
RANGE_EXAMPLE = {"starting_at": "2026-03-01T00:00:00Z", "ending_at": "2026-03-02T00:00:00Z"}


@examples(("By geo", {"data": [{**RANGE_EXAMPLE, "group": GROUP_EXAMPLE, "usage": {
    "uncached_input_tokens": 1200, "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
    "cache_read_input_tokens": 300, "output_tokens": 450, "total_tokens": 1950, "requests": 3,
    "server_tool_use": {"web_search_requests": 0}}}], "has_more": False, "next_page": None}))
class AnalyticsUsagePageSerializer(serializers.Serializer):
    """Token usage by dimension, one page of rows."""

    data = AnalyticsUsageRowSerializer(many=True)
    has_more = serializers.BooleanField()
    next_page = serializers.CharField(allow_null=True, help_text=NEXT_PAGE)


@examples(("By geo", {"data": [{**RANGE_EXAMPLE, "group": GROUP_EXAMPLE, "cost": {
    "amount": "1.7325", "list_amount": "2.31", "currency": "USD", "requests": 3}}],
    "has_more": False, "next_page": None}))
class AnalyticsCostPageSerializer(serializers.Serializer):
    """Cost by dimension in USD cents, one page of rows."""

    data = AnalyticsCostRowSerializer(many=True)
    has_more = serializers.BooleanField()
    next_page = serializers.CharField(allow_null=True, help_text=NEXT_PAGE)


# --- the question --------------------------------------------------------------------------


class DimensionListField(ChoiceListField):
    """`group_by[]`: a dimension this product does not have is named as such."""

    def to_internal_value(self, data):
        if isinstance(data, list):
            bad = [value for value in data if value not in self.child.choices]
            if bad:
                raise serializers.ValidationError(
                    f"cannot group by {', '.join(map(str, bad))}: this product has no data for "
                    f"{'it' if len(bad) == 1 else 'them'}; group by {DIMENSION_LIST}.")
        return super().to_internal_value(data)


def _strings(help_text):
    return serializers.ListField(child=serializers.CharField(allow_blank=True), required=False, help_text=help_text)


class AnalyticsQuerySerializer(QuerySerializer):
    """Analytics parameters, validated into a `residency.reports.AnalyticsQuery`."""

    orders = ()

    def get_fields(self):
        orders = self.orders
        return self.bracket_lists({
            "starting_at": RFC3339Field(
                help_text="Start of the range, inclusive (RFC 3339). Rows cover whole hours: it is floored to the "
                "hour, or to the day with time_bucket_width 1d.",
                error_messages={"required": "is required (RFC 3339, e.g. 2026-03-01T00:00:00Z)."}),
            "ending_at": RFC3339Field(
                required=False, help_text="End of the range, exclusive (RFC 3339), at most 31 days after starting_at. "
                "Required with time_bucket_width; else it defaults to the earlier of now and starting_at + 31 days."),
            "time_bucket_width": StrictChoiceField(
                choices=tuple(WIDTHS), required=False, enum_names=BUCKET_WIDTH_NAMES,
                help_text="1h or 1d: a row per bucket (UTC) and combination. Left out: each row covers the range.",
                error_messages={"invalid_choice": "{input!r} is not available: usage is kept per hour and per day; "
                                                  "use 1h or 1d."}),
            "group_by": DimensionListField(choices=ANALYTICS_DIMENSIONS, verb="group by",
                                           help_text="Dimensions to break out by; left out, one row per bucket (or "
                                                     "one for the range)."),
            "workspace_ids": _strings("Only these workspaces (an id not in your organization is a 400)."),
            "models": _strings("Only these models."),
            "inference_geos": _strings('Only these geos: "global", "us", or "not_available" for models that do '
                                       "not support inference_geo."),
            "service_tiers": ChoiceListField(choices=SERVICE_TIERS, verb="filter by service tier",
                                             help_text="Only these service tiers."),
            "products": ChoiceListField(choices=PRODUCTS, verb="filter by product", help_text="Only these products."),
            "order_by": StrictChoiceField(
                choices=orders, required=False, default=orders[0],
                help_text=f"Rank rows by this metric (default {orders[0]}); `time` orders by bucket, then by "
                f"{orders[0]} highest first (without time_bucket_width it is {orders[0]}).",
                error_messages={"invalid_choice": f"{{input!r}} is not available; use {', '.join(orders)}."}),
            "order": StrictChoiceField(choices=("asc", "desc"), required=False, default="desc",
                                       help_text="desc (the default) or asc."),
            "limit": serializers.IntegerField(
                required=False, default=DEFAULT_LIMIT, min_value=1, max_value=MAX_LIMIT,
                help_text=f"Rows per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}).",
                error_messages={key: f"must be an integer from 1 to {MAX_LIMIT}." for key in
                                ("invalid", "min_value", "max_value", "max_string_length")}),
            "page": serializers.CharField(required=False, allow_blank=True, max_length=1000,
                                          help_text="`next_page` from the previous answer."),
        })

    @classmethod
    def from_query(cls, query_params, **context):
        given = sorted(name for name in query_params if name.removesuffix("[]") in UNAVAILABLE_OPTIONS)
        if given:
            what = "it" if len(given) == 1 else "them"
            raise serializers.ValidationError({", ".join(given): [UNAVAILABLE.format(what=what)]})
        return super().from_query(query_params, **context)

    def validate(self, attrs):
        width = attrs.get("time_bucket_width")
        start = attrs["starting_at"]
        end = attrs.get("ending_at")
        if end is None:
            if width:
                raise serializers.ValidationError({"ending_at": ["is required with time_bucket_width."]})
            end = min(self.context["now"], start + MAX_ANALYTICS_RANGE)
        if end <= start:
            raise serializers.ValidationError({"ending_at": ["must be after starting_at (it defaults to now)."]})
        if end - start > MAX_ANALYTICS_RANGE:
            raise serializers.ValidationError({"ending_at": ["is more than 31 days after starting_at; ask for at "
                                                             "most 31 days at a time."]})
        workspace_ids = tuple(attrs.get("workspace_ids", ()))
        unknown = unknown_workspace_ids(self.context["organization"], workspace_ids)
        if unknown:
            raise serializers.ValidationError(
                {"workspace_ids[]": [f"no workspace {', '.join(unknown)} in this organization."]})
        query = AnalyticsQuery(
            start=floor_bucket(start, width or "1h"), end=floor_bucket(end, "1h"), width=width,
            group_by=tuple(attrs.get("group_by", ())), workspace_ids=workspace_ids,
            models=tuple(attrs.get("models", ())), geos=tuple(attrs.get("inference_geos", ())),
            service_tiers=tuple(attrs.get("service_tiers", ())), products=tuple(attrs.get("products", ())),
            order_by=attrs["order_by"], order=attrs["order"], limit=attrs["limit"])
        if attrs.get("page"):
            try:
                query.after = decode_page(query, attrs["page"])
            except ValueError:
                raise serializers.ValidationError({"page": [PAGE_REFUSED]}) from None
        return query


class UsageAnalyticsQuerySerializer(AnalyticsQuerySerializer):
    orders = USAGE_ORDERS


class CostAnalyticsQuerySerializer(AnalyticsQuerySerializer):
    orders = COST_ORDERS


def _query(serializer_class, view):
    return serializer_class.from_query(view.request.query_params, organization=view.organization, now=timezone.now())


UNAVAILABLE_TEXT = (f"The official SDK's other options ({', '.join(UNAVAILABLE_OPTIONS)}; the other group_by[] "
                    "dimensions, products and service tiers; time_bucket_width 1m) are a 400 naming them: this product "
                    "has no data for them.")


class AnalyticsUsageApi(OrgApi):
    openapi_tag = "Analytics"

    @extend_schema(
        operation_id="analytics_usage_list", summary="Get usage analytics",
        description="Token usage over at most 31 days, one row per combination of the `group_by[]` dimensions (and "
        "bucket, with `time_bucket_width`) that has usage, ranked by `order_by` (default total_tokens, highest "
        "first) and paged with `page` / `next_page`, as the official SDK's "
        "`beta.organization.analytics.usage.list` reads it. " + UNAVAILABLE_TEXT + " Needs Billing: view or "
        "Analytics: view; anyone else gets a 404.",
        parameters=[UsageAnalyticsQuerySerializer],
        responses={200: AnalyticsUsagePageSerializer, **errors(404)},
    )
    def get(self, request):
        require_usage_view(self.access)
        query = _query(UsageAnalyticsQuerySerializer, self)
        return Response(AnalyticsUsagePageSerializer(analytics(self.organization, query)).data)


class AnalyticsCostApi(OrgApi):
    openapi_tag = "Analytics"

    @extend_schema(
        operation_id="analytics_cost_list", summary="Get cost analytics",
        description="Cost in USD cents (decimal strings) over at most 31 days: `amount` after the batch discount, "
        "`list_amount` before it, one row per combination of the `group_by[]` dimensions (and bucket, with "
        "`time_bucket_width`), ranked by `order_by` (default amount, highest first) and paged with `page` / "
        "`next_page`, as the official SDK's `beta.organization.analytics.cost.list` reads it. " + UNAVAILABLE_TEXT
        + " Needs Billing: view: Analytics: view alone is a 403, anyone else gets a 404.",
        parameters=[CostAnalyticsQuerySerializer],
        responses={200: AnalyticsCostPageSerializer, **errors(403, 404)},
    )
    def get(self, request):
        require_cost_view(self.access)
        query = _query(CostAnalyticsQuerySerializer, self)
        return Response(AnalyticsCostPageSerializer(analytics(self.organization, query, cost=True)).data)
