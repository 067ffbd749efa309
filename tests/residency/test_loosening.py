"""SPEC §8: which changes loosen residency (pure, no database). A change loosens when, afterwards,
some request could run somewhere it could not before; "unrestricted" and "global" reach
everywhere, "us" the US only."""

import pytest

from residency.policy import geo_reach, loosened_fields, loosens, policy_change_loosens, reach_grows

U = "unrestricted"

# (case, before, after, the fields that loosen)
TABLE = [
    # US-only inference (the Claude apps)
    ("US-only on -> off", {"us_only": True}, {"us_only": False}, ["us_only"]),
    ("US-only off -> on", {"us_only": False}, {"us_only": True}, []),
    ("US-only unchanged", {"us_only": True}, {"us_only": True}, []),
    # approval of loosening changes: turning it off is a loosening change itself
    ("approvals on -> off", {"loosening_requires_approval": True}, {"loosening_requires_approval": False},
     ["loosening_requires_approval"]),
    ("approvals off -> on", {"loosening_requires_approval": False}, {"loosening_requires_approval": True}, []),
    # allowed sets (a workspace's or the organization policy's)
    ("us -> global", {"allowed_inference_geos": ["us"]}, {"allowed_inference_geos": ["global"]},
     ["allowed_inference_geos"]),
    ("global -> us (tightens)", {"allowed_inference_geos": ["global"]}, {"allowed_inference_geos": ["us"]}, []),
    ("us -> unrestricted", {"allowed_inference_geos": ["us"]}, {"allowed_inference_geos": U},
     ["allowed_inference_geos"]),
    ("unrestricted -> us", {"allowed_inference_geos": U}, {"allowed_inference_geos": ["us"]}, []),
    ("unrestricted -> global (same reach)", {"allowed_inference_geos": U}, {"allowed_inference_geos": ["global"]}, []),
    ("global -> unrestricted (same reach)", {"allowed_inference_geos": ["global"]}, {"allowed_inference_geos": U}, []),
    ("us -> global, us", {"allowed_inference_geos": ["us"]}, {"allowed_inference_geos": ["global", "us"]},
     ["allowed_inference_geos"]),
    ("global, us -> us", {"allowed_inference_geos": ["global", "us"]}, {"allowed_inference_geos": ["us"]}, []),
    ("global, us -> global (same reach)", {"allowed_inference_geos": ["global", "us"]},
     {"allowed_inference_geos": ["global"]}, []),
    ("order only", {"allowed_inference_geos": ["us", "global"]}, {"allowed_inference_geos": ["global", "us"]}, []),
    ("None is unrestricted (stored form)", {"allowed_inference_geos": ["us"]}, {"allowed_inference_geos": None},
     ["allowed_inference_geos"]),
    ("a geo added later: us -> us, eu", {"allowed_inference_geos": ["us"]}, {"allowed_inference_geos": ["us", "eu"]},
     ["allowed_inference_geos"]),
    ("a geo added later: us, eu -> eu", {"allowed_inference_geos": ["us", "eu"]}, {"allowed_inference_geos": ["eu"]},
     []),
    # defaults
    ("default us -> global", {"default_inference_geo": "us"}, {"default_inference_geo": "global"},
     ["default_inference_geo"]),
    ("default global -> us", {"default_inference_geo": "global"}, {"default_inference_geo": "us"}, []),
    ("default us -> eu (another place)", {"default_inference_geo": "us"}, {"default_inference_geo": "eu"},
     ["default_inference_geo"]),
    # a workspace: every field
    ("workspace: rename only", {"name": "Prod"}, {"name": "Production"}, []),
    ("workspace geo us -> eu", {"workspace_geo": "us"}, {"workspace_geo": "eu"}, ["workspace_geo"]),
    ("workspace: restrict and keep the default",
     {"workspace_geo": "us", "allowed_inference_geos": U, "default_inference_geo": "us"},
     {"workspace_geo": "us", "allowed_inference_geos": ["us"], "default_inference_geo": "us"}, []),
    ("workspace: open up the list, default stays",
     {"workspace_geo": "us", "allowed_inference_geos": ["us"], "default_inference_geo": "us"},
     {"workspace_geo": "us", "allowed_inference_geos": U, "default_inference_geo": "us"},
     ["allowed_inference_geos"]),
    ("workspace: both loosen", {"allowed_inference_geos": ["us"], "default_inference_geo": "us"},
     {"allowed_inference_geos": ["global", "us"], "default_inference_geo": "global"},
     ["allowed_inference_geos", "default_inference_geo"]),
    ("workspace: tighten the list, loosen the default", {"allowed_inference_geos": U, "default_inference_geo": "us"},
     {"allowed_inference_geos": ["global"], "default_inference_geo": "global"}, ["default_inference_geo"]),
    ("workspace colour and tags never loosen", {"display_color": "#000000", "tags": {}},
     {"display_color": "#ffffff", "tags": {"a": "b"}}, []),
    # the organization policy, with what the workspaces would become
    ("policy us/us -> unrestricted/global", {"allowed_inference_geos": ["us"], "default_inference_geo": "us"},
     {"allowed_inference_geos": U, "default_inference_geo": "global"},
     ["allowed_inference_geos", "default_inference_geo"]),
    ("policy unrestricted/global -> us/us", {"allowed_inference_geos": U, "default_inference_geo": "global"},
     {"allowed_inference_geos": ["us"], "default_inference_geo": "us"}, []),
    # a field on one side only is not a change of that field
    ("new field only after", {}, {"allowed_inference_geos": U}, []),
]


@pytest.mark.parametrize(("case", "before", "after", "fields"), TABLE, ids=[row[0] for row in TABLE])
def test_loosening_table(case, before, after, fields):
    assert loosened_fields(before, after) == fields
    assert loosens(before, after) is bool(fields)


def test_reach():
    assert geo_reach("unrestricted") == geo_reach(None) == geo_reach(["global"]) == geo_reach("global")
    assert geo_reach(["us"]) == geo_reach("us") == frozenset({"us"})
    assert reach_grows(["us"], "global") and not reach_grows("global", ["us"])
    assert not reach_grows(["global", "us"], ["us", "global"])


def test_a_move_sideways_loosens_both_ways():
    """us -> eu and eu -> us each let requests run somewhere they could not before."""
    assert loosens({"allowed_inference_geos": ["us"]}, {"allowed_inference_geos": ["eu"]})
    assert loosens({"allowed_inference_geos": ["eu"]}, {"allowed_inference_geos": ["us"]})


# The organization policy (SPEC §5): its own values, and, with apply_to_workspaces, what bringing
# each live workspace inside it would do. (case, before, after, workspaces as stored, apply, loosens)
P_US = {"allowed_inference_geos": ["us"], "default_inference_geo": "us"}
P_GLOBAL = {"allowed_inference_geos": ["global"], "default_inference_geo": "global"}
P_OPEN = {"allowed_inference_geos": U, "default_inference_geo": "global"}
P_BOTH = {"allowed_inference_geos": ["global", "us"], "default_inference_geo": "us"}
POLICY_TABLE = [
    ("open -> us (tightens)", P_OPEN, P_US, [], False, False),
    ("us -> open", P_US, P_OPEN, [], False, True),
    ("us -> global", P_US, P_GLOBAL, [], False, True),
    ("us -> global, us", P_US, P_BOTH, [], False, True),
    ("global, us -> us", P_BOTH, P_US, [], False, False),
    ("default only us -> global", P_BOTH, {**P_BOTH, "default_inference_geo": "global"}, [], False, True),
    ("default only global -> us", {**P_BOTH, "default_inference_geo": "global"}, P_BOTH, [], False, False),
    ("unchanged", P_US, P_US, [(None, "global")], True, False),
    # a workspace left outside the new policy routes by the policy's default (SPEC §5): its traffic moves
    ("open -> global, a us workspace left alone now routes global", P_OPEN, P_GLOBAL, [(["us"], "us")], False,
     True),
    ("global, us -> global: a us workspace left alone now routes global",
     {**P_BOTH, "default_inference_geo": "global"}, P_GLOBAL, [(["us"], "us")], False, True),
    ("open -> global, a global workspace left alone stays where it was", P_OPEN, P_GLOBAL,
     [(["global"], "global")], False, False),
    ("open -> us, an unrestricted workspace left alone now reaches us only", P_OPEN, P_US, [(None, "global")], False,
     False),
    ("open -> global, a us workspace brought inside becomes global", P_OPEN, P_GLOBAL, [(["us"], "us")], True, True),
    ("open -> us, an unrestricted workspace brought inside becomes us", P_OPEN, P_US, [(None, "global")], True,
     False),
    ("open -> us, a global workspace brought inside (global reaches everywhere)", P_OPEN, P_US,
     [(["global"], "global")], True, False),
    ("open -> global, a workspace already inside is not moved", P_OPEN, P_GLOBAL, [(["global"], "global")], True,
     False),
    ("open -> global, one of two workspaces would widen", P_OPEN, P_GLOBAL,
     [(["global"], "global"), (["us"], "us")], True, True),
    ("global, us -> global: the policy's default widens", P_BOTH, P_GLOBAL, [], False, True),
]


@pytest.mark.parametrize(("case", "before", "after", "workspaces", "apply", "expected"), POLICY_TABLE,
                         ids=[row[0] for row in POLICY_TABLE])
def test_policy_change_table(case, before, after, workspaces, apply, expected):
    assert policy_change_loosens(before, after, workspaces=workspaces, apply_to_workspaces=apply,
                                 inference_geos=("global", "us")) is expected
