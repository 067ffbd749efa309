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
