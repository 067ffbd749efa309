"""`POST /v1/residency/decisions` and `/decisions/batch`: where may this request run, at what
multiplier? Transport only: `residency.decisions` answers, `residency.api.serializers` holds the
contract. Any member's key of the workspace's organization may ask; another organization's
workspace or organization is "not found", exactly like one that does not exist.
"""

import json

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core import hygiene, ratelimit
from core.errors import error_body
from core.ratelimit import DecisionRateThrottle
from core.schema import errors
from orgs.auth import INVALID_KEY, raw_api_key
from orgs.models import MAX_API_KEY_LENGTH, hash_api_key
from orgs.selectors import api_key_for_secret
from orgs.services import api_key_touch

from .. import decisions
from ..policy import DecisionError
from .serializers import (
    BATCH_EXAMPLES,
    DECISION_EXAMPLES,
    MAX_BATCH,
    BatchResultItemSerializer,
    BatchTooLarge,
    DecisionBatchRequestSerializer,
    DecisionBatchSerializer,
    DecisionRequestSerializer,
    DecisionSerializer,
    InvalidInput,
    parse_batch,
    parse_decision,
)

_UTF8 = ("utf-8", "utf8")


def _caller(request):
    return decisions.Caller.for_key(request.auth) if request.auth is not None else \
        decisions.Caller.for_user(request.user)


def _error(request, status, message, details=None):
    return Response(error_body(status, message, getattr(request._request, "request_id", ""), details), status=status)


def _json(data, status=200, headers=None):
    """The bytes DRF's JSONRenderer writes (compact, non-ASCII kept, U+2028/9 escaped)."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    response = HttpResponse(text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode(),
                            content_type="application/json", status=status)
    response["Allow"] = "POST, OPTIONS"
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _lean_error(request, status, message, details=None):
    headers = {"WWW-Authenticate": "x-api-key"} if status == 401 else None
    return _json(error_body(status, message, getattr(request, "request_id", ""), details), status, headers)


def _over_the_limit(request, key_id):
    """The 429 for a key over `DECISION_RATE_LIMIT`, counted in the DRF throttle's bucket, or None.
    Unset by default: no limit and no extra work on the router's hot path. Like DRF's throttle,
    it comes after authentication and before the body is judged."""
    rate = settings.DECISION_RATE_LIMIT
    if not rate:
        return None
    wait = ratelimit.limit_exceeded(DecisionRateThrottle.scope, ratelimit.decision_identity(key_id), rate)
    if wait is None:
        return None
    response = _lean_error(request, 429, ratelimit.limited_message(rate, wait))
    response["Retry-After"] = str(wait)
    return response


def lean_decision(request):
    """The router's hot path: a JSON POST with an API key (`x-api-key` or `Authorization: Bearer`,
    read by `orgs.auth.raw_api_key` as DRF's authentication reads it), answered without DRF's
    per-request machinery, byte for byte as the DRF path would answer it (a bad key is a 401
    whatever the body). Returns None for anything else (console sessions, other methods or content types,
    oversized or otherwise malformed requests), which the DRF path answers."""
    raw_key = raw_api_key(request.META)
    if (raw_key is None or request.method != "POST" or request.content_type != "application/json"
            or request.content_params.get("charset", "utf-8").lower() not in _UTF8
            or getattr(request, "malformed", None)):
        return None
    try:
        body = request.body
    except RequestDataTooBig:
        return None  # the stream is unread: DRF answers as it always has
    try:
        params = parse_decision(hygiene.loads(body))
    except (hygiene.MalformedInput, InvalidInput) as exc:
        key = api_key_for_secret(raw_key)  # a malformed body: the key alone decides 401 or 400
        if key is None:
            return _lean_error(request, 401, INVALID_KEY)
        api_key_touch(key)
        return _over_the_limit(request, key.pk) or _lean_error(request, 400, str(exc))
    found = None
    if raw_key and len(raw_key) <= MAX_API_KEY_LENGTH:
        found = decisions.decide_with_key(key_hash=hash_api_key(raw_key), params=params)
    if found is None:
        return _lean_error(request, 401, INVALID_KEY)
    key, result = found
    api_key_touch(key)
    limited = _over_the_limit(request, key.pk)
    if limited is not None:
        return limited
    if isinstance(result, DecisionError):
        return _lean_error(request, result.status, result.message, result.details)
    return _json(result.as_json())


class DecisionApi(APIView):
    lean = True  # `as_view(lean=False)` always takes the DRF path (tests compare both)
    throttle_classes = [DecisionRateThrottle]

    def dispatch(self, request, *args, **kwargs):
        if self.lean:
            response = lean_decision(request)
            if response is not None:
                return response
        return super().dispatch(request, *args, **kwargs)

    @extend_schema(
        operation_id="decisions_create", tags=["Decisions"], summary="Decide where one request runs",
        description="API surface: the workspace, the model and optionally `inference_geo` and `endpoint`. "
        'Apps surface: `{organization_id, surface: "apps", model}` (the key must belong to that organization). '
        "Errors come in this order: 404 for an unknown model (or a workspace you cannot see), 403 for an "
        "archived workspace, then 400 for `inference_geo` problems (not on openai_compat, not a known geo, a "
        "model before Claude Opus 4.6, not allowed in the workspace).",
        request=DecisionRequestSerializer, examples=DECISION_EXAMPLES,
        responses={200: DecisionSerializer, **errors(400, 401, 403, 404, 413, 415)},
    )
    def post(self, request):
        try:
            params = parse_decision(request.data)
        except InvalidInput as exc:
            return _error(request, 400, str(exc))
        result = decisions.decide_for(_caller(request), params)
        if isinstance(result, DecisionError):
            return _error(request, result.status, result.message, result.details)
        return Response(DecisionSerializer(result).data)


class DecisionBatchApi(APIView):
    throttle_classes = [DecisionRateThrottle]

    @extend_schema(
        operation_id="decisions_batch_create", tags=["Decisions"], summary="Decide a batch of requests",
        description=f"Up to {MAX_BATCH:,} API-surface requests; results come "
        "back in request order, each `succeeded` with its decision or `errored` with `{type, message, details}` "
        "(an unknown model or workspace, an archived workspace, a geo the workspace or the organization policy "
        "does not allow). A batch the schema refuses (not a list, a missing or repeated custom_id, params of the "
        f"wrong shape) is a 400 naming the item; more than {MAX_BATCH:,} requests is a 413.",
        request=DecisionBatchRequestSerializer, examples=BATCH_EXAMPLES,
        responses={200: DecisionBatchSerializer, **errors(400, 401, 403, 413, 415)},
    )
    def post(self, request):
        try:
            items = parse_batch(request.data)
        except BatchTooLarge as exc:
            return _error(request, 413, str(exc))
        except InvalidInput as exc:
            return _error(request, 400, str(exc))
        results = decisions.decide_batch(_caller(request), items)
        return Response({"results": BatchResultItemSerializer(results, many=True).data})
