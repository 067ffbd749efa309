"""The decision API's contract (SPEC §3): request and response shapes.

The serializers below are the contract and what OpenAPI shows: two request shapes (the API
surface and the apps surface), the decision, and the batch. The router calls these endpoints
for every model request and a batch holds up to 10,000 items, so requests are checked by the
small parsers here (microseconds per item) instead of a DRF serializer per item; the parsers
take their field names and which are required from the serializers, so the two cannot drift.
"""

from dataclasses import dataclass

from drf_spectacular.utils import OpenApiExample, PolymorphicProxySerializer
from rest_framework import serializers

from core.schema import ErrorDetailsSerializer
from core.serializers import ConstantField, StrictSerializer
from residency.policy import ENDPOINTS, DecisionError

MAX_BATCH = 10_000
MAX_CUSTOM_ID = 64
MAX_ID = 100  # workspace, organization and model ids are far shorter


class ApiSurfaceDecisionRequestSerializer(StrictSerializer):
    """A request made through the API: which workspace, which model, and where the caller asks it to run."""

    workspace_id = serializers.CharField(min_length=1, max_length=MAX_ID, help_text="The workspace the request comes from.")
    model = serializers.CharField(min_length=1, max_length=MAX_ID,
                                  help_text="A model id from the catalog, e.g. claude-opus-4-6.")
    inference_geo = serializers.CharField(
        required=False, allow_null=True, max_length=MAX_ID,
        help_text='Where the caller asks to run it: "us" or "global". Omit it (or send null) for the workspace '
                  "default.")
    endpoint = serializers.ChoiceField(
        choices=ENDPOINTS, required=False,
        help_text="The endpoint the request came to (default messages); openai_compat takes no inference_geo.")
    surface = serializers.ChoiceField(choices=["api"], required=False, help_text='"api" (the default).')


class AppsSurfaceDecisionRequestSerializer(StrictSerializer):
    """A request made in the Claude apps: routed by the organization's US-only setting."""

    organization_id = serializers.CharField(min_length=1, max_length=MAX_ID,
                                            help_text="The organization; the key must belong to it.")
    surface = serializers.ChoiceField(choices=["apps"], help_text='"apps": a Claude apps request.')
    model = serializers.CharField(min_length=1, max_length=MAX_ID, help_text="A model id from the catalog.")


DecisionRequestSerializer = PolymorphicProxySerializer(
    component_name="DecisionRequest",
    serializers=[ApiSurfaceDecisionRequestSerializer, AppsSurfaceDecisionRequestSerializer],
    resource_type_field_name=None,
)


def _fields(serializer_class):
    fields = serializer_class().fields
    return tuple(fields), frozenset(name for name, field in fields.items() if field.required)


API_FIELDS, API_REQUIRED = _fields(ApiSurfaceDecisionRequestSerializer)
APPS_FIELDS, APPS_REQUIRED = _fields(AppsSurfaceDecisionRequestSerializer)


class BatchItemParamsSerializer(StrictSerializer):
    """One API-surface decision request inside a batch."""

    workspace_id = serializers.CharField(min_length=1, max_length=MAX_ID)
    model = serializers.CharField(min_length=1, max_length=MAX_ID)
    inference_geo = serializers.CharField(required=False, allow_null=True, max_length=MAX_ID)
    endpoint = serializers.ChoiceField(choices=ENDPOINTS, required=False)
    surface = serializers.ChoiceField(choices=["api"], required=False, help_text='Batches are API-surface only.')


class BatchItemSerializer(StrictSerializer):
    """One request of a batch, with your id for it."""

    custom_id = serializers.CharField(min_length=1, max_length=MAX_CUSTOM_ID,
                                      help_text="Your id for this request; results carry it back.")
    params = BatchItemParamsSerializer()


ITEM_FIELDS, _ = _fields(BatchItemSerializer)
BATCH_PARAM_FIELDS, _ = _fields(BatchItemParamsSerializer)


class DecisionBatchRequestSerializer(StrictSerializer):
    """Many decisions in one call, answered in the order asked."""

    requests = serializers.ListField(child=BatchItemSerializer(), min_length=1, max_length=MAX_BATCH,
                                     help_text=f"1 to {MAX_BATCH:,} requests; results come back in this order.")


class DecisionSerializer(serializers.Serializer):
    inference_geo = serializers.ChoiceField(
        choices=["us", "global", "not_available"],
        help_text='What the usage record will report: the geo, or "not_available" for models before Opus 4.6.')
    routing_geo = serializers.ChoiceField(choices=["us", "global"], help_text="Where the router sends the request.")
    price_multiplier = serializers.CharField(help_text='The residency multiplier alone, a decimal string ("1.1" or "1").')
    priority_burndown_multiplier = serializers.CharField(
        help_text="Priority Tier tokens drawn from the committed TPM per token, a decimal string.")

    def to_representation(self, decision):
        return decision.as_json()


class DecisionErrorDetailSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["invalid_request_error", "permission_error", "not_found_error"])
    message = serializers.CharField()
    details = ErrorDetailsSerializer(allow_null=True, help_text="Null, or a machine-readable reason, as in an error "
                                     "response (e.g. workspace_policy_violation).")


class BatchSucceededSerializer(DecisionSerializer):
    """A request of the batch that was decided: its decision."""

    type = ConstantField("succeeded")

    def to_representation(self, decision):
        return {"type": "succeeded", **decision.as_json()}


class BatchErroredSerializer(serializers.Serializer):
    """A request of the batch that was refused: the error it would have had on its own."""

    type = ConstantField("errored")
    error = DecisionErrorDetailSerializer()

    def to_representation(self, error):
        return {"type": "errored", "error": error.as_json()}


class BatchResultItemSerializer(serializers.Serializer):
    custom_id = serializers.CharField()
    result = PolymorphicProxySerializer(
        component_name="BatchResult", resource_type_field_name="type",
        serializers={"succeeded": BatchSucceededSerializer, "errored": BatchErroredSerializer},
    )

    def to_representation(self, item):
        custom_id, outcome = item
        serializer = BatchErroredSerializer if isinstance(outcome, DecisionError) else BatchSucceededSerializer
        return {"custom_id": custom_id, "result": serializer().to_representation(outcome)}


class DecisionBatchSerializer(serializers.Serializer):
    results = BatchResultItemSerializer(many=True)


DECISION_EXAMPLES = [
    OpenApiExample("API surface", request_only=True,
                   value={"workspace_id": "wrkspc_01AbCdEfGhIjKlMnOpQrStUv", "model": "claude-opus-4-6",
                          "inference_geo": "us"}),
    OpenApiExample("Apps surface", request_only=True,
                   value={"organization_id": "org_01AbCdEfGhIjKlMnOpQrStUv", "surface": "apps",
                          "model": "claude-sonnet-4-6"}),
    OpenApiExample("Runs in the US at 1.1x", response_only=True,
                   value={"inference_geo": "us", "routing_geo": "us", "price_multiplier": "1.1",
                          "priority_burndown_multiplier": "1.1"}),
]
BATCH_EXAMPLES = [
    OpenApiExample("Two requests", request_only=True, value={"requests": [
        {"custom_id": "a", "params": {"workspace_id": "wrkspc_01AbCdEfGhIjKlMnOpQrStUv", "model": "claude-opus-4-6"}},
        {"custom_id": "b", "params": {"workspace_id": "wrkspc_01AbCdEfGhIjKlMnOpQrStUv", "model": "claude-opus-4-6",
                                      "inference_geo": "eu"}}]}),
    OpenApiExample("One succeeded, one errored", response_only=True, value={"results": [
        {"custom_id": "a", "result": {"type": "succeeded", "inference_geo": "global", "routing_geo": "global",
                                      "price_multiplier": "1", "priority_burndown_multiplier": "1"}},
        {"custom_id": "b", "result": {"type": "errored", "error": {
            "type": "invalid_request_error",
            "message": 'inference_geo \'eu\' is not a known geo; valid values are "global", "us".',
            "details": None}}}]}),
]


class InvalidInput(Exception):
    """A malformed request (400); the message names the field and what to send instead."""


@dataclass(frozen=True)
class DecisionParams:
    model: str
    workspace_id: str | None = None
    inference_geo: str | None = None
    endpoint: str = "messages"
    organization_id: str | None = None

    @property
    def apps(self):
        return self.organization_id is not None


def _string(data, field, prefix, required):
    value = data.get(field)
    if value is None:
        if field in required:
            raise InvalidInput(f"{prefix}{field}: required.")
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_ID:
        raise InvalidInput(f"{prefix}{field}: must be a non-empty string of at most {MAX_ID} characters.")
    return value


def parse_decision(data, *, prefix="", batch=False):
    """A decision request body (or batch item params) -> DecisionParams, or InvalidInput."""
    if not isinstance(data, dict):
        raise InvalidInput(f"{prefix.rstrip('.') or 'The request body'}: must be a JSON object.")
    surface = data.get("surface", "api")
    if surface not in ("api", "apps") or (batch and surface != "api"):
        allowed = '"api"' if batch else '"api" or "apps"'
        raise InvalidInput(f"{prefix}surface: must be {allowed}.")
    fields = APPS_FIELDS if surface == "apps" else (API_FIELDS if not batch else BATCH_PARAM_FIELDS)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        hint = "; the apps surface takes organization_id and model only" if surface == "apps" else ""
        raise InvalidInput(f"{prefix}{unknown[0]}: unknown field{hint}.")
    required = APPS_REQUIRED if surface == "apps" else API_REQUIRED
    model = _string(data, "model", prefix, required)
    if surface == "apps":
        return DecisionParams(model=model, organization_id=_string(data, "organization_id", prefix, required))
    endpoint = data.get("endpoint", "messages")
    if endpoint not in ENDPOINTS:
        raise InvalidInput(f"{prefix}endpoint: must be one of {', '.join(ENDPOINTS)}.")
    geo = data.get("inference_geo")
    if geo is not None and (not isinstance(geo, str) or len(geo) > MAX_ID):
        raise InvalidInput(f"{prefix}inference_geo: must be a string such as \"us\" or \"global\".")
    return DecisionParams(
        model=model, workspace_id=_string(data, "workspace_id", prefix, required),
        inference_geo=geo, endpoint=endpoint,
    )


def parse_batch(data):
    """The batch body -> list of (custom_id, DecisionParams). Anything the document refuses (a
    malformed item, or params of the wrong shape) fails the whole request with a 400 naming the
    item; each well-formed request then gets its own decision or error."""
    if not isinstance(data, dict):
        raise InvalidInput("The request body must be a JSON object with a `requests` list.")
    unknown = sorted(set(data) - {"requests"})
    if unknown:
        raise InvalidInput(f"{unknown[0]}: unknown field; the body is {{\"requests\": [...]}}.")
    requests = data.get("requests")
    if not isinstance(requests, list) or not requests:
        raise InvalidInput("requests: must be a non-empty list of {\"custom_id\", \"params\"} objects.")
    if len(requests) > MAX_BATCH:
        raise BatchTooLarge(
            f"A batch holds at most {MAX_BATCH:,} requests; this one has {len(requests):,}. Split it."
        )
    items, seen = [], set()
    for index, item in enumerate(requests):
        where = f"requests[{index}]"
        if not isinstance(item, dict):
            raise InvalidInput(f"{where}: must be an object with custom_id and params.")
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= MAX_CUSTOM_ID:
            raise InvalidInput(f"{where}.custom_id: must be a string of 1 to {MAX_CUSTOM_ID} characters.")
        if custom_id in seen:
            raise InvalidInput(f"{where}.custom_id: {custom_id!r} is used twice; each request needs its own.")
        seen.add(custom_id)
        extra = set(item) - set(ITEM_FIELDS)
        if extra:
            raise InvalidInput(f"{where}.{sorted(extra)[0]}: unknown field; an item is {{\"custom_id\", \"params\"}}.")
        items.append((custom_id, parse_decision(item.get("params"), prefix=f"{where}.params.", batch=True)))
    return items


class BatchTooLarge(Exception):
    """More than MAX_BATCH requests (413 request_too_large)."""
