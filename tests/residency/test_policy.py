"""SPEC §2 "Deciding where a request runs", rule by rule and clash by clash (pure, no database)."""

from decimal import Decimal

import pytest

from residency.policy import (
    Decision,
    DecisionError,
    ModelInfo,
    WorkspaceInfo,
    decide,
    decide_apps,
    decimal_str,
)

GEOS = {"global": Decimal("1"), "us": Decimal("1.100")}
NEW = ModelInfo("claude-opus-4-6", True)
OLD = ModelInfo("claude-sonnet-4-5", False)
LATER = ModelInfo("claude-opus-5", True)  # added to the catalog later with the geo flag on


def ws(allowed=None, default="global", archived=False):
    return WorkspaceInfo("wrkspc_test", archived, tuple(allowed) if allowed is not None else None, default)


OPEN = ws()
US_ONLY = ws(["us"], "us")
GLOBAL_ONLY = ws(["global"], "global")
BOTH_US_DEFAULT = ws(["global", "us"], "us")
ARCHIVED = ws(archived=True)

OK_US = ("us", "us", "1.1", "1.1")
OK_GLOBAL = ("global", "global", "1", "1")
NA_GLOBAL = ("not_available", "global", "1", "1")
NA_US = ("not_available", "us", "1", "1")

# (case, workspace, model, inference_geo, endpoint) -> expected: a 4-tuple decision, or
# (status, error type, words the message must contain)
RULES = [
    # rule 1: unknown model / unknown or foreign workspace / archived workspace
    ("unknown model", OPEN, None, None, "messages", (404, "not_found_error", "model")),
    ("unknown workspace", None, NEW, None, "messages", (404, "not_found_error", "workspace")),
    ("archived workspace", ARCHIVED, NEW, None, "messages", (403, "permission_error", "archived")),
    # an endpoint that does not exist is the caller's mistake
    ("unknown endpoint", OPEN, NEW, None, "completions", (400, "invalid_request_error", '"openai_compat"')),
    # rule 2: inference_geo on the OpenAI-compatible endpoint
    ("geo on openai_compat", OPEN, NEW, "us", "openai_compat", (400, "invalid_request_error", "OpenAI")),
    # rule 3: unknown geo, naming the valid values
    ("unknown geo", OPEN, NEW, "eu", "messages", (400, "invalid_request_error", '"global", "us"')),
    ("empty geo", OPEN, NEW, "", "messages", (400, "invalid_request_error", "not a known geo")),
    # rule 4: old model with inference_geo
    ("geo on older model", OPEN, OLD, "us", "messages", (400, "invalid_request_error", "does not support")),
    ("global on older model", OPEN, OLD, "global", "messages", (400, "invalid_request_error", "does not support")),
    # rule 5: geo not allowed in the workspace, naming the allowed ones
    ("geo not allowed", US_ONLY, NEW, "global", "messages", (400, "invalid_request_error", 'allowed geos: "us"')),
    ("us not allowed", GLOBAL_ONLY, NEW, "us", "messages", (400, "invalid_request_error", 'allowed geos: "global"')),
    # rule 6: runs in the given geo, or the workspace default
    ("given us", OPEN, NEW, "us", "messages", OK_US),
    ("given global", OPEN, NEW, "global", "messages", OK_GLOBAL),
    ("given overrides default", BOTH_US_DEFAULT, NEW, "global", "messages", OK_GLOBAL),
    ("default global", OPEN, NEW, None, "messages", OK_GLOBAL),
    ("default us", US_ONLY, NEW, None, "messages", OK_US),
    ("default us, both allowed", BOTH_US_DEFAULT, NEW, None, "messages", OK_US),
    ("batch endpoint given us", OPEN, NEW, "us", "batch", OK_US),
    ("batch endpoint default", US_ONLY, NEW, None, "batch", OK_US),
    ("openai_compat without geo uses default", US_ONLY, NEW, None, "openai_compat", OK_US),
    ("later geo-capable model", OPEN, LATER, "us", "messages", OK_US),
    ("older model follows default us", US_ONLY, OLD, None, "messages", NA_US),
    ("older model follows default global", OPEN, OLD, None, "messages", NA_GLOBAL),
    ("older model on openai_compat", US_ONLY, OLD, None, "openai_compat", NA_US),
]

# Every pair of rules that can both apply: the earlier rule wins.
CLASHES = [
    ("unknown model beats unknown workspace", None, None, "us", "messages", (404, "not_found_error", "model")),
    ("unknown model beats archived", ARCHIVED, None, None, "messages", (404, "not_found_error", "model")),
    ("unknown model beats openai geo", OPEN, None, "us", "openai_compat", (404, "not_found_error", "model")),
    ("unknown model beats unknown geo", OPEN, None, "eu", "messages", (404, "not_found_error", "model")),
    ("archived beats openai geo", ARCHIVED, NEW, "us", "openai_compat", (403, "permission_error", "archived")),
    ("archived beats unknown geo", ARCHIVED, NEW, "eu", "messages", (403, "permission_error", "archived")),
    ("archived beats older model geo", ARCHIVED, OLD, "us", "messages", (403, "permission_error", "archived")),
    ("archived beats not allowed", ws(["us"], "us", archived=True), NEW, "global", "messages",
     (403, "permission_error", "archived")),
    ("openai beats unknown geo", OPEN, NEW, "eu", "openai_compat", (400, "invalid_request_error", "OpenAI")),
    ("openai beats older model", OPEN, OLD, "us", "openai_compat", (400, "invalid_request_error", "OpenAI")),
    ("openai beats not allowed", US_ONLY, NEW, "global", "openai_compat", (400, "invalid_request_error", "OpenAI")),
    ("unknown geo beats older model", OPEN, OLD, "eu", "messages", (400, "invalid_request_error", "not a known geo")),
    ("unknown geo beats not allowed", US_ONLY, NEW, "eu", "messages", (400, "invalid_request_error", "not a known geo")),
    ("older model beats not allowed", US_ONLY, OLD, "global", "messages",
     (400, "invalid_request_error", "does not support")),
]


@pytest.mark.parametrize(("case", "workspace", "model", "geo", "endpoint", "expected"), RULES + CLASHES,
                         ids=[row[0] for row in RULES + CLASHES])
def test_decide(case, workspace, model, geo, endpoint, expected):
    result = decide(workspace=workspace, model=model, inference_geo=geo, endpoint=endpoint, geo_multipliers=GEOS)
    if len(expected) == 4:
        assert isinstance(result, Decision), result
        body = result.as_json()
        assert (body["inference_geo"], body["routing_geo"], body["price_multiplier"],
                body["priority_burndown_multiplier"]) == expected
    else:
        status, error_type, words = expected
        assert isinstance(result, DecisionError), result
        assert (result.status, result.type) == (status, error_type)
        assert words in result.message


def test_a_new_region_is_data_not_code():
    geos = {**GEOS, "eu": Decimal("1.2")}
    decision = decide(workspace=OPEN, model=NEW, inference_geo="eu", geo_multipliers=geos)
    assert decision.as_json() == {"inference_geo": "eu", "routing_geo": "eu",
                                  "price_multiplier": "1.2", "priority_burndown_multiplier": "1.2"}
    error = decide(workspace=OPEN, model=NEW, inference_geo="eu", geo_multipliers=GEOS)
    assert error.status == 400


# apps surface: (us_only, locked, model) -> expected
APPS = [
    ("off, new model", False, False, NEW, OK_GLOBAL),
    ("on, new model", True, False, NEW, OK_US),
    ("on, later model", True, False, LATER, OK_US),
    # the organization setting routes every apps request; an older model reports not_available,
    # as its usage row will (SPEC §3), at the standard rate
    ("on, older model: routed to us at the standard rate", True, False, OLD, NA_US),
    ("off, older model", False, False, OLD, NA_GLOBAL),
    ("locked legacy/contract: us without uplift", True, True, NEW, ("us", "us", "1", "1")),
    ("locked, older model", True, True, OLD, NA_US),
    ("unknown model", True, False, None, (404, "not_found_error", "model")),
]


@pytest.mark.parametrize(("case", "us_only", "locked", "model", "expected"), APPS, ids=[row[0] for row in APPS])
def test_decide_apps(case, us_only, locked, model, expected):
    result = decide_apps(us_only=us_only, locked=locked, model=model, geo_multipliers=GEOS)
    if len(expected) == 4:
        body = result.as_json()
        assert (body["inference_geo"], body["routing_geo"], body["price_multiplier"],
                body["priority_burndown_multiplier"]) == expected
    else:
        assert (result.status, result.type) == expected[:2]
        assert expected[2] in result.message


@pytest.mark.parametrize(("value", "text"), [
    (Decimal("1.100"), "1.1"), (Decimal("1.000"), "1"), (Decimal("1"), "1"), (Decimal("10"), "10"),
    (Decimal("0.500"), "0.5"), (Decimal("1.25"), "1.25"),
])
def test_multipliers_are_plain_decimal_strings(value, text):
    assert decimal_str(value) == text


# --- the organization policy (SPEC §5): rule order, intersection, fallback default -------------

from residency.policy import (  # noqa: E402
    OPEN_POLICY,
    PolicyInfo,
    bring_inside_policy,
    project_policy,
    project_us_only,
    project_workspace,
    reachable_geos,
    routes_outside,
    workspace_outside_policy,
)

POLICY_US = PolicyInfo(("us",), "us")
POLICY_BOTH_US = PolicyInfo(("global", "us"), "us")
POLICY_GLOBAL = PolicyInfo(("global",), "global")
VIOLATION = {"error_code": "workspace_policy_violation", "field": "allowed_inference_geos"}

# (case, workspace, policy, model, inference_geo) -> expected decision 4-tuple, or
# (status, words in the message, details)
POLICY_RULES = [
    ("open policy changes nothing", OPEN, OPEN_POLICY, NEW, None, OK_GLOBAL),
    ("unrestricted workspace, us policy: omitted geo takes the policy default", OPEN, POLICY_US, NEW, None, OK_US),
    ("unrestricted workspace, us policy: us asked is fine", OPEN, POLICY_US, NEW, "us", OK_US),
    ("global asked outside the policy names the policy", OPEN, POLICY_US, NEW, "global",
     (400, "organization's data residency policy", VIOLATION)),
    ("outside both: the policy's message wins", US_ONLY, POLICY_GLOBAL, NEW, "us",
     (400, "organization's data residency policy", VIOLATION)),
    ("inside the policy, outside the workspace: the workspace's message", GLOBAL_ONLY, POLICY_BOTH_US, NEW, "us",
     (400, "not allowed in workspace", None)),
    ("workspace default allowed by the policy stays", BOTH_US_DEFAULT, POLICY_BOTH_US, NEW, None, OK_US),
    ("workspace default outside the policy: policy default", GLOBAL_ONLY, POLICY_US, NEW, None, OK_US),
    ("empty intersection, omitted geo: policy default", GLOBAL_ONLY, POLICY_US, NEW, None, OK_US),
    ("older model follows the effective default", OPEN, POLICY_US, OLD, None, NA_US),
    ("older model with geo: rule 4 comes before the policy", OPEN, POLICY_US, OLD, "global",
     (400, "does not support", None)),
    ("unknown geo comes before the policy", OPEN, POLICY_US, NEW, "eu", (400, "not a known geo", None)),
    ("archived comes before the policy", ARCHIVED, POLICY_US, NEW, "global", (403, "archived", None)),
]


@pytest.mark.parametrize(("case", "workspace", "policy", "model", "geo", "expected"), POLICY_RULES,
                         ids=[row[0] for row in POLICY_RULES])
def test_decide_within_the_organization_policy(case, workspace, policy, model, geo, expected):
    result = decide(workspace=workspace, model=model, inference_geo=geo, geo_multipliers=GEOS, policy=policy)
    if len(expected) == 4:
        assert isinstance(result, Decision), result
        assert (result.inference_geo, result.routing_geo, decimal_str(result.price_multiplier),
                decimal_str(result.priority_burndown_multiplier)) == expected
    else:
        status, words, details = expected
        assert isinstance(result, DecisionError)
        assert (result.status, result.details) == (status, details) and words in result.message


@pytest.mark.parametrize(("allowed", "default", "policy", "outside"), [
    (None, "global", OPEN_POLICY, None),
    (None, "global", POLICY_US, "allowed_inference_geos"),
    (["global", "us"], "us", POLICY_US, "allowed_inference_geos"),
    (["us"], "us", POLICY_US, None),
    (["us"], "us", POLICY_BOTH_US, None),
    (["global"], "global", POLICY_BOTH_US, None),
])
def test_which_workspaces_are_outside_the_policy(allowed, default, policy, outside):
    assert workspace_outside_policy(allowed, default, policy) == outside


@pytest.mark.parametrize(("allowed", "default", "policy", "inside"), [
    (None, "global", POLICY_US, (["us"], "us")),  # unrestricted: the policy's list
    (["global", "us"], "global", POLICY_US, (["us"], "us")),  # intersection; default not allowed: policy's
    (["global", "us"], "us", POLICY_US, (["us"], "us")),
    (["global"], "global", POLICY_US, (["us"], "us")),  # empty intersection: the policy's list
    (["global", "us"], "global", POLICY_BOTH_US, (["global", "us"], "global")),  # already inside: unchanged
    (["global", "us"], "us", PolicyInfo(("global", "us"), "global"), (["global", "us"], "us")),
])
def test_bringing_a_workspace_inside_the_policy(allowed, default, policy, inside):
    assert bring_inside_policy(allowed, default, policy) == inside


def test_where_usage_would_have_run():
    us_on, us_off = project_us_only(True), project_us_only(False)
    assert us_on("apps", "", True, "global") == "us" and us_off("apps", "", True, "us") == "global"
    assert us_on("api", "wrkspc_a", True, "global") is None  # the apps setting does not touch the API
    assert us_on("apps", "", False, "not_available") is None  # older models are not priced by geo
    policy = project_policy(POLICY_US, {"wrkspc_a": "global", "wrkspc_b": "us"})
    assert policy("api", "wrkspc_a", True, "global") == "us"  # its default is outside: the policy default
    assert policy("api", "wrkspc_a", True, "us") is None
    assert policy("apps", "", True, "global") is None
    workspace = project_workspace("wrkspc_a", ("us",), "us", OPEN_POLICY)
    assert workspace("api", "wrkspc_a", True, "global") == "us"
    assert workspace("api", "wrkspc_b", True, "global") is None


# --- where a workspace's API requests can still run (the US-only page's count) ----------------

POLICIES = [OPEN_POLICY, POLICY_US, POLICY_BOTH_US, POLICY_GLOBAL]
WORKSPACES = [OPEN, US_ONLY, GLOBAL_ONLY, BOTH_US_DEFAULT, ws(["global", "us"], "global")]


@pytest.mark.parametrize("policy", POLICIES, ids=str)
@pytest.mark.parametrize("workspace", WORKSPACES, ids=str)
def test_reachable_geos_are_where_decide_routes(workspace, policy):
    """Whatever the request names (or omits), decide() routes only to reachable geos, and every
    reachable geo is routed to by some request."""
    routed = set()
    for geo in (None, *GEOS):
        result = decide(workspace=workspace, model=NEW, inference_geo=geo, geo_multipliers=GEOS, policy=policy)
        if isinstance(result, Decision):
            routed.add(result.routing_geo)
    assert reachable_geos(workspace.allowed_inference_geos, workspace.default_inference_geo, policy, GEOS) == routed


@pytest.mark.parametrize(("workspace", "policy", "outside"), [
    (OPEN, OPEN_POLICY, True),
    (OPEN, POLICY_US, False),  # the policy bounds an unrestricted workspace
    (US_ONLY, OPEN_POLICY, False),
    (BOTH_US_DEFAULT, OPEN_POLICY, True),  # us by default, global when asked
    (BOTH_US_DEFAULT, POLICY_US, False),
    (GLOBAL_ONLY, POLICY_US, False),  # empty intersection: only the policy default
    (US_ONLY, POLICY_GLOBAL, True),  # the policy default is global
])
def test_which_workspaces_can_route_outside_the_us(workspace, policy, outside):
    assert routes_outside(workspace.allowed_inference_geos, workspace.default_inference_geo, policy, GEOS) is outside
    assert routes_outside(workspace.allowed_inference_geos, workspace.default_inference_geo, policy,
                          [*GEOS, "eu"]) is (outside or workspace.allowed_inference_geos is None
                                              and policy.allowed_inference_geos is None)
