"""What is hashed is exactly what is stored, whatever a client sent (SPEC §7), on the database
under test (both passes run this file).

The stories from issue #9: `1e16`, `-0.0`, a 20-digit integer, astral-plane emoji and a 2 MB
payload, sent by members of every kind to the residency write endpoints. Every request is a
4xx (the owner's valid emoji names excepted), every chain verifies afterwards, and no
record is over the 8 KB bound.
"""

import json

import pytest
from django.db import transaction

from audit import events
from audit.chain import verify_chain
from audit.integrity import canonical_json
from audit.models import AuditEvent, Outcome
from audit.services import MAX_DENIED_BYTES, audit_record, client_value
from tests.factories import actor_for
from tests.residency.helpers import workspace

pytestmark = pytest.mark.django_db

WORKSPACES = "/v1/organizations/workspaces"
US_ONLY = "/v1/organizations/inference_residency"
BIG = "a" * 2_000_000

# (story, [(path, raw JSON body)]): "{ws}" is a workspace id of the organization
STORIES = {
    "1e16": [
        (WORKSPACES, '{"name": "x", "data_residency": {"a": 1e16}}'),
        ("{ws}", '{"data_residency": {"allowed_inference_geos": 1e16}}'),
        (US_ONLY, '{"us_only": 1e16}'),
    ],
    "-0.0": [
        (WORKSPACES, '{"name": "x", "data_residency": {"allowed_inference_geos": -0.0}}'),
        ("{ws}", '{"name": -0.0}'),
        (US_ONLY, '{"us_only": -0.0}'),
    ],
    "20-digit integer": [
        (WORKSPACES, '{"name": "x", "data_residency": {"default_inference_geo": 12345678901234567890}}'),
        ("{ws}", '{"data_residency": {"default_inference_geo": -12345678901234567890}}'),
        (US_ONLY, '{"us_only": 12345678901234567890}'),
    ],
    "astral emoji": [
        (WORKSPACES, '{"name": "\U0001F600 prod \U0001F30D", "data_residency": {"allowed_inference_geos": ["\U0001F600"]}}'),
        (WORKSPACES, '{"name": "\\ud83d\\ude00 escaped"}'),
        ("{ws}", '{"name": "\U0001F680 launch"}'),
        (US_ONLY, '{"us_only": "\U0001F600"}'),
    ],
    "2 MB payload": [
        (WORKSPACES, json.dumps({"name": "x", "data_residency": {"allowed_inference_geos": [BIG]}})),
        ("{ws}", json.dumps({"name": BIG})),
        (US_ONLY, json.dumps({"us_only": {"k" + str(i): BIG[:1000] for i in range(2000)}})),
    ],
}
ROLES = ("owner", "privacy_view", "privacy_none", "user")


def record_sizes(org):
    return [(e.seq, e.outcome, len(canonical_json(e.before).encode()) + len(canonical_json(e.after).encode()))
            for e in AuditEvent.objects.filter(organization=org)]


@pytest.mark.parametrize("story", list(STORIES))
def test_every_story_is_a_4xx_and_the_chain_still_verifies(org, owner, member_factory, key_for, api, story):
    ws = workspace(org, "Prod")
    clients = {role: api(key_for(owner if role == "owner" else member_factory(org, role))) for role in ROLES}
    for role, client in clients.items():
        for path, body in STORIES[story]:
            url = f"{WORKSPACES}/{ws.pk}" if path == "{ws}" else path
            response = client.post(url, data=body, content_type="application/json")
            # members who may not change residency: always refused; the owner: valid emoji names succeed
            low = 200 if role == "owner" else 400
            assert low <= response.status_code < 500, (story, role, url, response.status_code, response.content[:200])
    report = verify_chain(org)
    assert report.ok, report.lines()
    sizes = record_sizes(org)
    assert all(size <= MAX_DENIED_BYTES for _, outcome, size in sizes if outcome == Outcome.DENIED), sizes
    assert max(size for *_, size in sizes) <= MAX_DENIED_BYTES


def test_what_a_denial_records_is_validated_or_a_bounded_summary(org, owner, member_factory, key_for, api):
    ws = workspace(org, "Prod")
    viewer = api(key_for(member_factory(org, "privacy_view")))
    hidden = api(key_for(member_factory(org, "privacy_none")))
    # a viewer's rename with an astral name: a 403, recorded with the validated name
    assert viewer.post(f"{WORKSPACES}/{ws.pk}", {"name": "  \U0001F680 launch "}, format="json").status_code == 403
    denied = AuditEvent.objects.filter(organization=org, action="workspace.residency_change_denied").latest("seq")
    assert denied.after == {"name": "\U0001F680 launch", "data_residency": None}
    # invalid input from a viewer is a 400 and records nothing (SPEC §2 step 2 before step 3)
    before = AuditEvent.objects.filter(organization=org).count()
    assert viewer.post(WORKSPACES, {"name": "x", "data_residency": {"allowed_inference_geos": [BIG]}},
                       format="json").status_code == 400
    assert viewer.post(f"{WORKSPACES}/{ws.pk}", {"name": BIG}, format="json").status_code == 400
    assert AuditEvent.objects.filter(organization=org).count() == before
    # a member who cannot see US-only inference: 404, audited with a summary, never the body
    assert hidden.post(US_ONLY, {"us_only": BIG}, format="json").status_code == 404
    summary = AuditEvent.objects.filter(organization=org).latest("seq")
    assert summary.action == "inference_residency.change_denied" and summary.outcome == "denied"
    recorded = summary.after["us_only"]
    assert recorded["bytes"] == 2_000_002 and len(recorded["sha256"]) == 64 and recorded["preview"] == "\"" + "a" * 119
    assert len(canonical_json(summary.after)) < 1000
    assert hidden.post(US_ONLY, {"us_only": "\U0001F600"}, format="json").status_code == 404
    assert AuditEvent.objects.filter(organization=org).latest("seq").after == {"us_only": "\U0001F600",
                                                                              "denied": "permission"}
    assert verify_chain(org).ok


@pytest.mark.parametrize("value", [
    1e16, -0.0, 0.1, 1.0, 1e-7, 2**70, -(2**53), 12345678901234567890, float("nan"), float("inf"),
    "\U0001F600\U0001F30D", "\u2028 \x7f \x01 \"q\" \\", "nul\x00", "lone \ud800 surrogate", {"\x00key": [None, True]},
    [[[[1.5]]]],
])
def test_a_service_passing_raw_values_still_hashes_exactly(org, owner, value):
    """Below the edge (a command, a future service): normalize() keeps the record exact."""
    with transaction.atomic():
        audit_record(actor=actor_for(owner.user), organization=org, event=events.INFERENCE_RESIDENCY_CHANGE_DENIED,
                     target=org, before={"us_only": False}, after={"us_only": value, "denied": "permission"},
                     outcome=Outcome.DENIED)
        audit_record(actor=actor_for(owner.user), organization=org, event=events.INFERENCE_RESIDENCY_CHANGE_DENIED,
                     target=org, before={"us_only": False}, after={"us_only": client_value(value)},
                     outcome=Outcome.DENIED)
    report = verify_chain(org)
    assert report.ok, report.lines()


def test_a_denial_over_the_bound_is_cut_to_a_summary_whatever_the_caller_passes(org, owner):
    with transaction.atomic():
        event = audit_record(actor=actor_for(owner.user), organization=org,
                             event=events.WORKSPACE_RESIDENCY_CHANGE_DENIED, target=("workspace", "", "x"),
                             after={"name": BIG, "data_residency": {"allowed_inference_geos": [BIG]}},
                             outcome=Outcome.DENIED)
    event.refresh_from_db()
    assert len(canonical_json(event.after).encode()) <= MAX_DENIED_BYTES
    assert event.after["name"]["bytes"] == 2_000_002 and "sha256" in event.after["data_residency"]
    assert verify_chain(org).ok
