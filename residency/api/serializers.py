"""Input parsing and output shapes for the decision API (SPEC §3, contract).

The router calls these endpoints for every model request, and a batch holds up to 10,000
items, so input is checked by small hand-written parsers (microseconds per item) rather than
a DRF serializer per item. The DRF serializers below document the same shapes in OpenAPI.
"""

from dataclasses import dataclass

from rest_framework import serializers

from residency.policy import ENDPOINTS

MAX_BATCH = 10_000
MAX_CUSTOM_ID = 64
SINGLE_FIELDS = ("workspace_id", "model", "inference_geo", "endpoint")
APPS_FIELDS = ("organization_id", "surface", "model")
ITEM_FIELDS = ("custom_id", "params")


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


def _string(data, field, prefix, *, required):
    value = data.get(field)
    if value is None:
        if required:
            raise InvalidInput(f"{prefix}{field}: required.")
        return None
    if not isinstance(value, str) or not value:
        raise InvalidInput(f"{prefix}{field}: must be a non-empty string.")
    return value


def parse_decision(data, *, prefix="", batch=False):
    """A decision request body (or batch item params) -> DecisionParams, or InvalidInput."""
    if not isinstance(data, dict):
        raise InvalidInput(f"{prefix.rstrip('.') or 'The request body'}: must be a JSON object.")
    surface = data.get("surface", "api")
    if surface not in ("api", "apps") or (batch and surface != "api"):
        allowed = '"api"' if batch else '"api" or "apps"'
        raise InvalidInput(f"{prefix}surface: must be {allowed}.")
    fields = APPS_FIELDS if surface == "apps" else (*SINGLE_FIELDS, "surface")
    unknown = sorted(set(data) - set(fields))
    if unknown:
        hint = "; the apps surface takes organization_id and model only" if surface == "apps" else ""
        raise InvalidInput(f"{prefix}{unknown[0]}: unknown field{hint}.")
    model = _string(data, "model", prefix, required=True)
    if surface == "apps":
        return DecisionParams(model=model, organization_id=_string(data, "organization_id", prefix, required=True))
    endpoint = data.get("endpoint", "messages")
    if endpoint not in ENDPOINTS:
        raise InvalidInput(f"{prefix}endpoint: must be one of {', '.join(ENDPOINTS)}.")
    geo = data.get("inference_geo")
    if geo is not None and not isinstance(geo, str):
        raise InvalidInput(f"{prefix}inference_geo: must be a string such as \"us\" or \"global\".")
    return DecisionParams(
        model=model, workspace_id=_string(data, "workspace_id", prefix, required=True),
        inference_geo=geo, endpoint=endpoint,
    )


def parse_batch(data):
    """The batch body -> list of (custom_id, params dict). Structural errors fail the whole
    request (a result cannot be matched without its custom_id); bad params fail one item."""
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
        items.append((custom_id, item.get("params")))
    return items


class BatchTooLarge(Exception):
    """More than MAX_BATCH requests (413 request_too_large)."""


# --- OpenAPI shapes -----------------------------------------------------------------------


class DecisionInputSerializer(serializers.Serializer):
    workspace_id = serializers.CharField(required=False, help_text="API surface: the workspace asking.")
    model = serializers.CharField(help_text="A model id from the catalog, e.g. claude-opus-4-6.")
    inference_geo = serializers.CharField(required=False, help_text='"us" or "global"; omit for the workspace default.')
    endpoint = serializers.ChoiceField(choices=ENDPOINTS, required=False, default="messages")
    organization_id = serializers.CharField(required=False, help_text='Apps surface only (with surface "apps").')
    surface = serializers.ChoiceField(choices=("api", "apps"), required=False, default="api")


class DecisionOutputSerializer(serializers.Serializer):
    inference_geo = serializers.CharField(help_text='What usage reports: "us", "global" or "not_available".')
    routing_geo = serializers.CharField(help_text='Where the router sends the request: "us" or "global".')
    price_multiplier = serializers.CharField(help_text='Residency multiplier alone, a decimal string ("1.1" or "1").')
    priority_burndown_multiplier = serializers.CharField(help_text="Priority Tier draw-down per token.")


class BatchParamsSerializer(serializers.Serializer):
    workspace_id = serializers.CharField()
    model = serializers.CharField()
    inference_geo = serializers.CharField(required=False)
    endpoint = serializers.ChoiceField(choices=ENDPOINTS, required=False, default="messages")


class BatchItemSerializer(serializers.Serializer):
    custom_id = serializers.CharField(max_length=MAX_CUSTOM_ID)
    params = BatchParamsSerializer()


class BatchInputSerializer(serializers.Serializer):
    requests = BatchItemSerializer(many=True, help_text=f"1 to {MAX_BATCH} requests; results come back in this order.")


class BatchErrorSerializer(serializers.Serializer):
    type = serializers.CharField()
    message = serializers.CharField()


class BatchResultSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=("succeeded", "errored"))
    inference_geo = serializers.CharField(required=False)
    routing_geo = serializers.CharField(required=False)
    price_multiplier = serializers.CharField(required=False)
    priority_burndown_multiplier = serializers.CharField(required=False)
    error = BatchErrorSerializer(required=False)


class BatchResultItemSerializer(serializers.Serializer):
    custom_id = serializers.CharField()
    result = BatchResultSerializer()


class BatchOutputSerializer(serializers.Serializer):
    results = BatchResultItemSerializer(many=True)
