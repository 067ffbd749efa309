"""The router's question (SPEC §2, §3 contract): where may this request run, at what multiplier?

Views only load state (`residency.selectors`) and call the pure policy (`residency.policy`).
Any member's key of the workspace's organization may ask; another organization's workspace
or organization is "not found", exactly like one that does not exist.
"""

import json

from django.core.exceptions import RequestDataTooBig
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from core import hygiene
from core.errors import error_body
from core.schema import errors
from orgs.auth import ConsoleSessionAuthentication
from orgs.models import Membership, hash_api_key
from orgs.services import api_key_touch
from residency.policy import DecisionError, decide, decide_apps
from residency.selectors import (
    DecisionKey,
    apps_decision_state,
    batch_decision_state,
    decision_state,
    keyed_decision_state,
)

from .authentication import INVALID_KEY, MAX_KEY_LENGTH, DecisionKeyAuthentication, decision_key
from .serializers import (
    BatchInputSerializer,
    BatchOutputSerializer,
    BatchTooLarge,
    DecisionInputSerializer,
    DecisionOutputSerializer,
    DecisionParams,
    InvalidInput,
    parse_batch,
    parse_decision,
)

# the lean key lookup below is the same `x-api-key` scheme as everywhere else
DECISION_AUTH = [{"ApiKeyAuth": []}, {"cookieAuth": []}]


def _error(request, status, message):
    return Response(error_body(status, message, getattr(request._request, "request_id", "")), status=status)


class CallerOrganizations:
    """The organizations whose decisions the caller may ask for: its key's organization, or
    (console session) the user's memberships, loaded only if needed."""

    def __init__(self, request):
        self.request = request
        self.key = request.auth if isinstance(request.auth, DecisionKey) else None
        self._ids = None

    def ids(self):
        if self._ids is None:
            if self.key is not None:
                self._ids = {self.key.organization_id}
            else:
                self._ids = set(
                    Membership.objects.filter(user=self.request.user).values_list("organization_id", flat=True)
                )
        return self._ids

    def us_only_state(self, organization_id):
        """(us_only, locked) for an organization the caller belongs to, else None."""
        if self.key is not None:
            key = self.key
            return (key.us_only_inference, key.locked) if key.organization_id == organization_id else None
        membership = (
            Membership.objects.select_related("organization")
            .filter(user=self.request.user, organization_id=organization_id).first()
        )
        if membership is None:
            return None
        return membership.organization.us_only_inference, membership.organization.locked


def decide_one(params: DecisionParams, state, caller):
    workspace = state.workspace
    if workspace is not None and state.workspace_organization_id not in caller.ids():
        workspace = None
    return decide(workspace=workspace, model=state.model, inference_geo=params.inference_geo,
                  endpoint=params.endpoint, geo_multipliers=state.geo_multipliers)


class DecisionApiView(APIView):
    # the router's hot path: one SQL statement for the key (see .authentication)
    authentication_classes = [DecisionKeyAuthentication, ConsoleSessionAuthentication]


class DecisionApi(DecisionApiView):
    @extend_schema(
        summary="Decide where one request runs",
        description="API surface: `{workspace_id, model, inference_geo?, endpoint?}`. Apps surface: "
        '`{organization_id, surface: "apps", model}` (the key must belong to that organization). '
        "Errors follow SPEC §2's rule order: 404 unknown model, 403 archived workspace, 400 for geo problems.",
        request=DecisionInputSerializer, auth=DECISION_AUTH,
        responses={200: DecisionOutputSerializer, **errors(400, 401, 403, 404)},
    )

    def post(self, request):
        try:
            params = parse_decision(request.data)
        except InvalidInput as exc:
            return _error(request, 400, str(exc))
        caller = CallerOrganizations(request)
        if params.apps:
            org_state = caller.us_only_state(params.organization_id)
            if org_state is None:
                return _error(request, 404, f"No organization with id {params.organization_id!r}.")
            state = apps_decision_state(model_id=params.model)
            result = decide_apps(us_only=org_state[0], locked=org_state[1], model=state.model,
                                 geo_multipliers=state.geo_multipliers)
        else:
            state = decision_state(workspace_id=params.workspace_id, model_id=params.model)
            result = decide_one(params, state, caller)
        if isinstance(result, DecisionError):
            return _error(request, result.status, result.message)
        return Response(result.as_json())


class DecisionBatchApi(DecisionApiView):
    @extend_schema(
        summary="Decide a batch of requests",
        description="Up to 10,000 requests; results come back in request order, each `succeeded` with its "
        "decision or `errored` with `{type, message}`. More than 10,000 is a 413.",
        request=BatchInputSerializer, auth=DECISION_AUTH,
        responses={200: BatchOutputSerializer, **errors(400, 401, 413)},
    )

    def post(self, request):
        try:
            items = parse_batch(request.data)
        except BatchTooLarge as exc:
            return _error(request, 413, str(exc))
        except InvalidInput as exc:
            return _error(request, 400, str(exc))
        parsed = []
        for custom_id, raw in items:
            try:
                parsed.append((custom_id, parse_decision(raw, prefix="params.", batch=True)))
            except InvalidInput as exc:
                parsed.append((custom_id, DecisionError(400, "invalid_request_error", str(exc))))
        wanted = [p for _, p in parsed if isinstance(p, DecisionParams)]
        workspaces, models, geos = batch_decision_state(
            workspace_ids={p.workspace_id for p in wanted}, model_ids={p.model for p in wanted}
        )
        caller_orgs = CallerOrganizations(request).ids()
        results = []
        for custom_id, params in parsed:
            if isinstance(params, DecisionParams):
                workspace, org_id = workspaces.get(params.workspace_id, (None, None))
                if org_id not in caller_orgs:
                    workspace = None
                outcome = decide(workspace=workspace, model=models.get(params.model),
                                 inference_geo=params.inference_geo, endpoint=params.endpoint,
                                 geo_multipliers=geos)
            else:
                outcome = params
            if isinstance(outcome, DecisionError):
                result = {"type": "errored", "error": outcome.as_json()}
            else:
                result = {"type": "succeeded", **outcome.as_json()}
            results.append({"custom_id": custom_id, "result": result})
        return Response({"results": results})


# --- the router's hot path ------------------------------------------------------------------

_drf_decision = DecisionApi.as_view()
_UTF8 = ("utf-8", "utf8")


def _json(data, status=200, headers=None):
    """The bytes DRF's JSONRenderer would write (compact, non-ASCII kept, U+2028/9 escaped)."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    response = HttpResponse(text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode(),
                            content_type="application/json", status=status)
    response["Allow"] = "POST, OPTIONS"
    if headers:
        for name, value in headers.items():
            response[name] = value
    return response


def _lean_error(request, status, message):
    headers = {"WWW-Authenticate": "x-api-key"} if status == 401 else None
    return _json(error_body(status, message, getattr(request, "request_id", "")), status, headers)


@csrf_exempt
def decision_view(request):
    """POST /v1/residency/decisions for API keys, without DRF's per-request machinery.

    The router calls this for every model request, so a JSON POST with an `x-api-key` header
    is answered here with one SQL statement (key, workspace, model and geo multipliers; plus
    the at-most-once-a-minute `last_used_at` update). The response is byte-for-byte what
    `DecisionApi` returns, errors included (401 before 400, contract error body). Everything
    else (console session, other methods, other content types, oversized bodies) is handed to
    `DecisionApi`, which stays the documented view (OpenAPI reads it through `.cls`).
    """
    raw_key = request.META.get("HTTP_X_API_KEY")
    if (raw_key is None or request.method != "POST" or request.content_type != "application/json"
            or request.content_params.get("charset", "utf-8").lower() not in _UTF8):
        return _drf_decision(request)
    try:
        body = request.body
    except RequestDataTooBig:
        return _drf_decision(request)  # the stream is unread: DRF answers as it always has
    try:
        try:
            data = hygiene.loads(body)
        except hygiene.MalformedInput as exc:
            raise InvalidInput(str(exc)) from None
        params = parse_decision(data)
    except InvalidInput as exc:
        found = decision_key(raw_key)  # a bad key is a 401 whatever the body
        if found is None:
            return _lean_error(request, 401, INVALID_KEY)
        api_key_touch(found[0])
        return _lean_error(request, 400, str(exc))
    found = None
    if raw_key and len(raw_key) <= MAX_KEY_LENGTH:
        found = keyed_decision_state(key_hash=hash_api_key(raw_key), workspace_id=params.workspace_id,
                                     model_id=params.model)
    if found is None:
        return _lean_error(request, 401, INVALID_KEY)
    key, state = found
    api_key_touch(key)
    if params.apps:
        if params.organization_id != key.organization_id:
            return _lean_error(request, 404, f"No organization with id {params.organization_id!r}.")
        result = decide_apps(us_only=key.us_only_inference, locked=key.locked, model=state.model,
                             geo_multipliers=state.geo_multipliers)
    else:
        workspace = state.workspace if state.workspace_organization_id == key.organization_id else None
        result = decide(workspace=workspace, model=state.model, inference_geo=params.inference_geo,
                        endpoint=params.endpoint, geo_multipliers=state.geo_multipliers)
    if isinstance(result, DecisionError):
        return _lean_error(request, result.status, result.message)
    return _json(result.as_json())


# drf-spectacular (and DRF's endpoint enumerator) document `DecisionApi` for this URL
for _attr in ("cls", "initkwargs", "view_class", "view_initkwargs"):
    setattr(decision_view, _attr, getattr(_drf_decision, _attr))
