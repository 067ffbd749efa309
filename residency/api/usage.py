"""Usage ingestion and the usage / cost reports (SPEC §3), in the Anthropic Admin API shape."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from core.schema import errors
from orgs.api.base import OrgApi

from ..permissions import require_cost_view, require_usage_view
from ..reports import COST_GROUPS, USAGE_GROUPS, cost_report, parse_report_query, usage_report
from ..services import TooManyRecords, usage_ingest


class RequestTooLarge(APIException):
    status_code = 413
    default_detail = "The request is too large."


def _list_param(name, enum=None, description=""):
    return OpenApiParameter(f"{name}[]", OpenApiTypes.STR, many=True, enum=enum, description=description,
                            style="form", explode=True)


REPORT_PARAMS = [
    OpenApiParameter("starting_at", OpenApiTypes.DATETIME, required=True,
                     description="RFC 3339; floored to the start of its bucket (UTC)"),
    OpenApiParameter("ending_at", OpenApiTypes.DATETIME, description="RFC 3339, exclusive; default now"),
    OpenApiParameter("limit", OpenApiTypes.INT, description="Buckets per page: 1d default 7 (max 31), 1h default 24 "
                                                            "(max 168)"),
    OpenApiParameter("page", OpenApiTypes.STR, description="next_page from the previous answer"),
    _list_param("workspace_ids"),
    _list_param("models"),
    _list_param("inference_geos"),
]


class UsageRecordIngestApi(OrgApi):
    """Bulk ingest of usage rows (Billing: manage; internal tools use an owner's key).

    All or nothing: one invalid row rejects the request with a 400 naming row and field
    (`records[3].model: ...`) and stores nothing. Idempotent by `id`. Up to 5,000 rows
    per request (413 beyond). Not audited: usage rows are data, not setting changes.
    """

    @extend_schema(summary="Ingest usage records", request=OpenApiTypes.OBJECT,
                   responses={200: OpenApiTypes.OBJECT, **errors(400, 401, 403, 413)})
    def post(self, request):
        records = request.data.get("records") if isinstance(request.data, dict) else None
        try:
            result = usage_ingest(actor=self.actor, organization=self.organization, records=records)
        except TooManyRecords as exc:
            raise RequestTooLarge(str(exc))
        return Response(result.as_json(), status=status.HTTP_200_OK)


class UsageReportApi(OrgApi):
    """Token usage per `1h` or `1d` bucket (Billing or Analytics: view)."""

    @extend_schema(
        summary="Usage report (Messages)",
        parameters=[
            OpenApiParameter("bucket_width", OpenApiTypes.STR, enum=["1h", "1d"], description="default 1d"),
            _list_param("group_by", enum=list(USAGE_GROUPS)),
            *REPORT_PARAMS,
        ],
        responses={200: OpenApiTypes.OBJECT, **errors(400, 401, 403)},
    )
    def get(self, request):
        require_usage_view(self.access)
        query = parse_report_query(self.organization, request.query_params, groups=USAGE_GROUPS)
        return Response(usage_report(self.organization, query))


class CostReportApi(OrgApi):
    """Daily cost in USD cents as decimal strings (Billing: view)."""

    @extend_schema(
        summary="Cost report",
        parameters=[_list_param("group_by", enum=list(COST_GROUPS)), *REPORT_PARAMS],
        responses={200: OpenApiTypes.OBJECT, **errors(400, 401, 403)},
    )
    def get(self, request):
        require_cost_view(self.access)
        query = parse_report_query(self.organization, request.query_params, groups=COST_GROUPS, widths=("1d",))
        return Response(cost_report(self.organization, query))
