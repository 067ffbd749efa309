"""Pure rules: where a request runs, at what multiplier, and what tokens cost (SPEC §2).

No ORM and no request objects here: callers load state into the small frozen dataclasses
below and get plain values back, so every rule is testable from a table.
"""

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError

ONE = Decimal("1")
HALF = Decimal("0.5")
MILLION = Decimal("1000000")
ENDPOINTS = ("messages", "batch", "openai_compat")
NOT_AVAILABLE = "not_available"
MODELS_REFERENCE = "/v1/docs#models"  # the API reference lists the catalog's model ids there
UNRESTRICTED = "unrestricted"
DATA_RESIDENCY_FIELDS = ("workspace_geo", "allowed_inference_geos", "default_inference_geo")
DEFAULT_DATA_RESIDENCY = {"workspace_geo": "us", "allowed_inference_geos": UNRESTRICTED,
                          "default_inference_geo": "global"}


@dataclass(frozen=True)
class ModelInfo:
    id: str
    supports_inference_geo: bool


@dataclass(frozen=True)
class WorkspaceInfo:
    id: str
    archived: bool
    allowed_inference_geos: tuple | None  # None = unrestricted
    default_inference_geo: str


@dataclass(frozen=True)
class PolicyInfo:
    """An organization's data residency policy (SPEC §5): it bounds every workspace."""

    allowed_inference_geos: tuple | None  # None = unrestricted
    default_inference_geo: str

    def allows(self, geo):
        return self.allowed_inference_geos is None or geo in self.allowed_inference_geos


OPEN_POLICY = PolicyInfo(None, "global")  # the default, which changes nothing
POLICY_VIOLATION = "workspace_policy_violation"


def policy_violation(field):
    """The `details` an error carries when the organization policy refuses something (§5, §9)."""
    return {"error_code": POLICY_VIOLATION, "field": field}


@dataclass(frozen=True)
class Decision:
    inference_geo: str  # what the usage record will report
    routing_geo: str  # where the router sends the request
    price_multiplier: Decimal
    priority_burndown_multiplier: Decimal

    def as_json(self):
        return {
            "inference_geo": self.inference_geo,
            "routing_geo": self.routing_geo,
            "price_multiplier": decimal_str(self.price_multiplier),
            "priority_burndown_multiplier": decimal_str(self.priority_burndown_multiplier),
        }


@dataclass(frozen=True)
class DecisionError:
    status: int
    type: str
    message: str
    details: dict | None = None

    def as_json(self):
        return {"type": self.type, "message": self.message, "details": self.details}


def decimal_str(value):
    """`Decimal("1.100")` -> "1.1", `Decimal("1.0")` -> "1" (no exponent, no trailing zeros)."""
    text = format(value.normalize(), "f")
    return text


def _names(geos):
    return ", ".join(f'"{g}"' for g in geos)


def decide(*, workspace, model, inference_geo=None, endpoint="messages", geo_multipliers, policy=OPEN_POLICY,
           model_id=None):
    """Decide one API request, applying SPEC §2's rules in order, bounded by the organization
    policy (§5).

    `workspace` / `model` are None when unknown (`model_id`, the id asked for, names it then);
    `geo_multipliers` maps every known inference geo to its price multiplier (e.g. {"global": 1,
    "us": 1.1}). A workspace's effective allowed geos are its own intersected with the policy's:
    a requested geo outside the policy is refused naming the policy (its message wins when the geo
    is outside both); an omitted geo takes the workspace default if the policy allows it, else the
    policy default. Returns Decision or DecisionError.
    """
    if model is None:
        return unknown_model(model_id)
    if workspace is None:
        return DecisionError(404, "not_found_error", "Unknown workspace: check workspace_id.")
    if workspace.archived:
        return DecisionError(403, "permission_error", f"Workspace {workspace.id} is archived; requests are refused.")
    if endpoint not in ENDPOINTS:
        return DecisionError(400, "invalid_request_error",
                             f"endpoint {endpoint!r} is not known; valid values are {_names(ENDPOINTS)}.")
    if inference_geo is not None:
        if endpoint == "openai_compat":
            return DecisionError(400, "invalid_request_error",
                                 "inference_geo is not available on the OpenAI SDK compatibility endpoint; "
                                 "remove it, or call the Messages API.")
        if inference_geo not in geo_multipliers:
            return DecisionError(400, "invalid_request_error",
                                 f"inference_geo {inference_geo!r} is not a known geo; valid values are "
                                 f"{_names(geo_multipliers)}.")
        if not model.supports_inference_geo:
            return DecisionError(400, "invalid_request_error",
                                 f"{model.id} does not support inference_geo (supported from Claude Opus 4.6 on); "
                                 "remove it or use a newer model.")
        if not policy.allows(inference_geo):
            return DecisionError(400, "invalid_request_error",
                                 f"inference_geo {inference_geo!r} is outside the organization's data residency "
                                 f"policy; allowed geos: {_names(policy.allowed_inference_geos)}.",
                                 policy_violation("allowed_inference_geos"))
        allowed = workspace.allowed_inference_geos
        if allowed is not None and inference_geo not in allowed:
            return DecisionError(400, "invalid_request_error",
                                 f"inference_geo {inference_geo!r} is not allowed in workspace {workspace.id}; "
                                 f"allowed geos: {_names(allowed)}.")
    default = workspace.default_inference_geo if policy.allows(workspace.default_inference_geo) \
        else policy.default_inference_geo
    if not model.supports_inference_geo:
        return Decision(NOT_AVAILABLE, default, ONE, ONE)
    routing = inference_geo or default
    multiplier = Decimal(geo_multipliers.get(routing, ONE))
    return Decision(routing, routing, multiplier, multiplier)


def unknown_model(model_id=None):
    """The 404 for a model id the catalog does not have: names it, and where the valid ids are."""
    named = f" {model_id!r}" if model_id else ""
    return DecisionError(404, "not_found_error",
                         f"Unknown model{named}: use a model id from the model catalog, listed in the API "
                         f"reference at {MODELS_REFERENCE}.")


def decide_apps(*, us_only, locked, model, geo_multipliers, model_id=None):
    """Decide a Claude apps request for an organization: `us` if US-only is on, else global.

    The organization setting routes every apps request, whatever the model. A model before
    Claude Opus 4.6 reports `not_available`, as its usage row will, and is billed at the
    standard rate; locked organizations (legacy opt-out, contract) keep their existing terms:
    no uplift.
    """
    if model is None:
        return unknown_model(model_id)
    routing = "us" if us_only else "global"
    if not model.supports_inference_geo:
        return Decision(NOT_AVAILABLE, routing, ONE, ONE)
    if locked:
        return Decision(routing, routing, ONE, ONE)
    multiplier = Decimal(geo_multipliers.get(routing, ONE))
    return Decision(routing, routing, multiplier, multiplier)


@dataclass(frozen=True)
class Prices:
    """USD per million tokens, by category."""

    input: Decimal
    cache_write_5m: Decimal
    cache_write_1h: Decimal
    cache_read: Decimal
    output: Decimal


PRICE_FIELDS = ("input", "cache_write_5m", "cache_write_1h", "cache_read", "output")


@dataclass(frozen=True)
class Tokens:
    uncached_input: int = 0
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    cache_read: int = 0
    output: int = 0


def residency_multiplier(*, supports_inference_geo, inference_geo, geo_multipliers, surface="api", locked=False):
    """The residency multiplier for usage that ran in `inference_geo` (SPEC §2 Pricing).

    Older models (no `inference_geo` support) and apps-surface usage of a locked organization
    keep standard terms; otherwise the geo's multiplier from the data (us: 1.1, global: 1).
    """
    if not supports_inference_geo or inference_geo not in geo_multipliers:
        return ONE
    if surface == "apps" and locked:
        return ONE
    return Decimal(geo_multipliers[inference_geo])


def price(prices, tokens, *, multiplier=ONE, batch=False):
    """Exact cost in USD (Decimal) of `tokens` at `prices`.

    The residency multiplier applies to every category; batch halves input and output;
    multipliers stack. Floats are refused: money is Decimal end to end.
    """
    if isinstance(multiplier, float) or any(isinstance(getattr(prices, f), float) for f in PRICE_FIELDS):
        raise TypeError("price() takes Decimal prices and multipliers, never float.")
    batch_factor = HALF if batch else ONE
    total = (
        tokens.uncached_input * prices.input * batch_factor
        + tokens.cache_write_5m * prices.cache_write_5m
        + tokens.cache_write_1h * prices.cache_write_1h
        + tokens.cache_read * prices.cache_read
        + tokens.output * prices.output * batch_factor
    )
    return total * Decimal(multiplier) / MILLION


def priority_burndown(tokens, multiplier):
    """Tokens drawn from committed Priority Tier TPM: each token counts `multiplier` tokens."""
    if isinstance(multiplier, float):
        raise TypeError("priority_burndown() takes a Decimal multiplier, never float.")
    return Decimal(tokens) * Decimal(multiplier)


def default_geo_allowed(default, allowed):
    """Whether `default` may be a workspace's default inference geo when `allowed` are its
    allowed inference geos (SPEC §2): anything when unrestricted, else one of them."""
    return allowed == UNRESTRICTED or default in allowed


def clean_inference_geos(data, *, current, inference_geos, prefix=""):
    """The allowed/default pair of a workspace or of the organization policy (SPEC §2, §5),
    `data` merged over `current`: allowed is "unrestricted" or a non-empty list of known geos
    without duplicates; the default is a known geo inside the allowed ones. Returns
    {"allowed_inference_geos", "default_inference_geo"}; raises ValidationError naming each bad
    field as `<prefix><field>`."""
    errors = {}
    merged = {"allowed_inference_geos": current["allowed_inference_geos"],
              "default_inference_geo": current["default_inference_geo"]}
    if "allowed_inference_geos" in data:
        allowed = data["allowed_inference_geos"]
        if allowed == UNRESTRICTED:
            merged["allowed_inference_geos"] = UNRESTRICTED
        elif not isinstance(allowed, list) or not allowed or not all(isinstance(g, str) for g in allowed):
            errors[f"{prefix}allowed_inference_geos"] = [
                f'Must be "unrestricted" or a non-empty list drawn from {", ".join(inference_geos)}.'
            ]
        elif len(set(allowed)) != len(allowed):
            errors[f"{prefix}allowed_inference_geos"] = ["List each geo at most once."]
        elif set(allowed) - set(inference_geos):
            bad = ", ".join(sorted(set(allowed) - set(inference_geos)))
            errors[f"{prefix}allowed_inference_geos"] = [
                f"Unknown geo {bad}; valid values are {', '.join(inference_geos)}."
            ]
        else:
            merged["allowed_inference_geos"] = list(allowed)
    if "default_inference_geo" in data:
        default = data["default_inference_geo"]
        if default not in inference_geos:
            errors[f"{prefix}default_inference_geo"] = [
                f"{default!r} is not a valid inference geo; use one of: {', '.join(inference_geos)}."
            ]
        else:
            merged["default_inference_geo"] = default
    if not errors:
        allowed = merged["allowed_inference_geos"]
        if not default_geo_allowed(merged["default_inference_geo"], allowed):
            errors[f"{prefix}default_inference_geo"] = [
                f"{merged['default_inference_geo']!r} is not in allowed_inference_geos "
                f"({', '.join(allowed)}); choose one of those"
                + ("" if "default_inference_geo" in data else " and send default_inference_geo too")
                + "."
            ]
    if errors:
        raise ValidationError(errors)
    return merged


def clean_data_residency(data, *, current=None, inference_geos, workspace_geos, defaults=None):
    """Validate a workspace's `data_residency`, merged over `current` (a partial update) if given,
    else over `defaults` (a new workspace; SPEC §5: the organization policy's values) or the
    product defaults (SPEC §2 Workspaces): workspace_geo only at creation; then the
    allowed/default rules of `clean_inference_geos`.

    Returns the full, normalized object. Raises ValidationError naming each bad field.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValidationError({"data_residency": ["Must be an object."]})
    creating = current is None
    errors = {}
    for field in sorted(set(data) - set(DATA_RESIDENCY_FIELDS)):
        errors[f"data_residency.{field}"] = ["Unknown field."]
    merged = dict(current or defaults or DEFAULT_DATA_RESIDENCY)
    if "workspace_geo" in data:
        if not creating:
            errors["data_residency.workspace_geo"] = [
                "workspace_geo is chosen when a workspace is created and can never be changed."
            ]
        elif data["workspace_geo"] not in workspace_geos:
            errors["data_residency.workspace_geo"] = [
                f"{data['workspace_geo']!r} is not an available workspace geo; use one of: {', '.join(workspace_geos)}."
            ]
        else:
            merged["workspace_geo"] = data["workspace_geo"]
    try:
        merged.update(clean_inference_geos(data, current=merged, inference_geos=inference_geos,
                                           prefix="data_residency."))
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    return merged


# --- the organization policy over workspaces (SPEC §5) ------------------------------------------


def workspace_outside_policy(allowed, default, policy):
    """Which field puts a workspace's residency outside the policy, or None when it conforms:
    its allowed geos must all be allowed by the policy ("unrestricted" is outside any restricted
    policy) and its default must be one of them."""
    if policy.allowed_inference_geos is None:
        return None
    if allowed is None or not set(allowed) <= set(policy.allowed_inference_geos):
        return "allowed_inference_geos"
    if default not in policy.allowed_inference_geos:
        return "default_inference_geo"
    return None


def bring_inside_policy(allowed, default, policy):
    """(allowed, default) of a workspace brought inside the policy: its allowed geos become the
    intersection (the policy's list when it is unrestricted or the intersection is empty), its
    default stays if still allowed, else the policy's default."""
    if policy.allowed_inference_geos is None:
        return allowed, default
    bound = list(policy.allowed_inference_geos)
    inside = [g for g in allowed if g in bound] if allowed is not None else []
    inside = inside or bound
    return inside, default if default in inside else (
        policy.default_inference_geo if policy.default_inference_geo in inside else inside[0])


def reachable_geos(allowed, default, policy, inference_geos):
    """Every geo a workspace's requests can run in under `policy`, as `decide` routes them: the
    known geos both allow (`allowed` None is unrestricted), and the geo an omitted one takes
    (the workspace default if the policy allows it, else the policy default)."""
    requested = {g for g in inference_geos if (allowed is None or g in allowed) and policy.allows(g)}
    return requested | {default if policy.allows(default) else policy.default_inference_geo}


def routes_outside(allowed, default, policy, inference_geos, geo="us"):
    """Whether some request of the workspace can still run somewhere other than `geo` (SPEC §5:
    what US-only inference does not cover for the API)."""
    return bool(reachable_geos(allowed, default, policy, inference_geos) - {geo})


# --- where usage would have run under a change (for the cost impact, SPEC §5) ---------------------
# Each returns project(surface, workspace_id, supports_inference_geo, geo) -> the geo a group of
# tokens would have run in had the change been in force, or None where it did run.


def project_us_only(us_only):
    """US-only inference governs the Claude apps: every apps request runs in `us`, or `global`."""
    target = "us" if us_only else "global"

    def project(surface, workspace_id, supports_geo, geo):
        return target if surface == "apps" and supports_geo else None

    return project


def project_policy(policy, workspace_defaults):
    """An organization policy bounds API requests: one outside it runs in its workspace's default
    if the policy allows that, else in the policy default (as `decide` routes an omitted geo)."""

    def project(surface, workspace_id, supports_geo, geo):
        if surface != "api" or not supports_geo or policy.allows(geo):
            return None
        default = workspace_defaults.get(workspace_id)
        return default if default is not None and policy.allows(default) else policy.default_inference_geo

    return project


def project_workspace(workspace_id, allowed, default, policy):
    """A workspace's new residency: its requests outside the new allowed geos (or the policy) run
    in its new default, bounded by the policy."""
    target = default if policy.allows(default) else policy.default_inference_geo

    def project(surface, ws, supports_geo, geo):
        if surface != "api" or ws != workspace_id or not supports_geo:
            return None
        if (allowed is None or geo in allowed) and policy.allows(geo):
            return None
        return target

    return project


# --- a workspace's display colour and tags (SPEC §9, the Admin API's workspace fields) ------------

MAX_TAGS = 50
MAX_TAG_KEY = 64
MAX_TAG_VALUE = 256
RESERVED_TAG_PREFIX = "anthropic"


def clean_display_color(value):
    """`#rrggbb` (hex digits, either case), stored in lowercase."""
    if not isinstance(value, str) or len(value) != 7 or value[0] != "#" or \
            any(c not in "0123456789abcdefABCDEF" for c in value[1:]):
        raise ValidationError({"display_color": [f"{value!r} is not a colour; use #rrggbb, e.g. #6a9bcc."]})
    return value.lower()


def clean_tags(tags, *, current=None):
    """A workspace's tags: string keys of 1 to 64 characters not starting with "anthropic" (in any
    case), string values of at most 256 characters, at most 50 tags. With `current` (an update)
    `tags` merges into it and a None value deletes that tag. Returns the new tags; raises
    ValidationError naming each bad tag as `tags.<key>`."""
    merged = dict(current or {})
    errors = {}
    for key, value in tags.items():
        where = f"tags.{key}" if key else "tags"
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_TAG_KEY:
            errors[where] = [f"A tag's key has 1 to {MAX_TAG_KEY} characters."]
        elif key.lower().startswith(RESERVED_TAG_PREFIX):
            errors[where] = [f"Tag keys cannot start with {RESERVED_TAG_PREFIX!r}: that prefix is reserved."]
        elif value is None and current is not None:
            merged.pop(key, None)
        elif not isinstance(value, str) or len(value) > MAX_TAG_VALUE:
            errors[where] = [f"A tag's value is a string of at most {MAX_TAG_VALUE} characters."]
        else:
            merged[key] = value
    if not errors and len(merged) > MAX_TAGS:
        errors["tags"] = [f"A workspace has at most {MAX_TAGS} tags; this would make {len(merged)}."]
    if errors:
        raise ValidationError(errors)
    return merged


# --- loosening: the changes that need a second person's approval (SPEC §8) ------------------------

EVERYWHERE = "*"  # what "unrestricted" and "global" reach
# the fields whose change can let a request run somewhere it could not before; every other field
# (a workspace's name, colour or tags) never loosens
REACH_FIELDS = ("allowed_inference_geos", "default_inference_geo", "workspace_geo")
SWITCH_FIELDS = ("us_only", "loosening_requires_approval")  # on -> off loosens


def geo_reach(value):
    """Where a value lets requests run: `None` or "unrestricted" and "global" reach everywhere,
    any other geo ("us") only itself; a list reaches what its geos reach together."""
    if value is None or value == UNRESTRICTED:
        return frozenset({EVERYWHERE})
    geos = [value] if isinstance(value, str) else list(value)
    return frozenset(EVERYWHERE if geo == "global" else geo for geo in geos)


def reach_grows(before, after):
    """Whether `after` reaches somewhere `before` did not (["global"] -> ["us"] shrinks it)."""
    old, new = geo_reach(before), geo_reach(after)
    if EVERYWHERE in old:
        return False
    return EVERYWHERE in new or bool(new - old)


def loosened_fields(before, after):
    """The fields of a residency change that loosen it (SPEC §8), in the order given: afterwards
    some request could run somewhere it could not before. `before` and `after` are flat dicts of
    one target's values: US-only inference or the approval setting turned off (`us_only`,
    `loosening_requires_approval` True -> False); an allowed set or a default (a workspace's or
    the organization policy's), or a workspace geo, whose reach grows (`geo_reach`). A field on
    one side only, or of another kind (a name), never loosens; creating a workspace is not a
    change of this kind (the organization policy bounds it)."""
    loosened = []
    for field, new in after.items():
        if field not in before or before[field] == new:
            continue
        old = before[field]
        if field in SWITCH_FIELDS:
            if old is True and new is False:
                loosened.append(field)
        elif field in REACH_FIELDS and reach_grows(old, new):
            loosened.append(field)
    return loosened


def loosens(before, after):
    """True when changing one target's residency values from `before` to `after` loosens it
    (`loosened_fields`); such a change waits for approval when the organization asks for it."""
    return bool(loosened_fields(before, after))


def policy_change_loosens(before, after, *, workspaces=(), apply_to_workspaces=False, inference_geos=()):
    """Whether changing the organization policy from `before` to `after` (each
    {"allowed_inference_geos": "unrestricted" or a list, "default_inference_geo"}) loosens
    residency (SPEC §8): the policy's own reach grows (`loosens`), or some live workspace's
    requests could run somewhere they could not before (`reachable_geos` under each policy). A
    workspace left outside the new policy routes by its default (SPEC §5), so even a narrower
    policy can move one (a `["us"]` workspace under a `["global"]` policy runs in global); with
    `apply_to_workspaces` the workspace is first brought inside it (`bring_inside_policy`).
    `workspaces` holds each live workspace's stored (allowed, default), None meaning
    unrestricted; `inference_geos` the geos requests can name."""
    if loosens(before, after):
        return True
    old_policy, new_policy = policy_info_from(before), policy_info_from(after)
    for ws_allowed, ws_default in workspaces:
        new_allowed, new_default = ws_allowed, ws_default
        if apply_to_workspaces and workspace_outside_policy(ws_allowed, ws_default, new_policy) is not None:
            new_allowed, new_default = bring_inside_policy(ws_allowed, ws_default, new_policy)
        if reach_grows(reachable_geos(ws_allowed, ws_default, old_policy, inference_geos),
                       reachable_geos(new_allowed, new_default, new_policy, inference_geos)):
            return True  # ("global" reaches everywhere: a global workspace moved to us tightens)
    return False


def policy_info_from(values):
    """The PolicyInfo of policy values as the API and forms carry them ({"allowed_inference_geos":
    "unrestricted" or a list, "default_inference_geo"})."""
    allowed = values["allowed_inference_geos"]
    return PolicyInfo(None if allowed == UNRESTRICTED else tuple(allowed), values["default_inference_geo"])
