"""Chain verification detects an edited, removed or reordered event (SPEC §2 Audit).

Tampering needs the append-only triggers out of the way: tests.db.tamper drops (SQLite) or
disables (PostgreSQL, as the schema owner) them inside the test transaction, which rolls back.
"""

import pytest
from django.urls import reverse

from audit.chain import chain_head, verify_chain
from residency import services as residency_services
from tests.db import tamper
from tests.factories import actor_for
from tests.residency.helpers import workspace

TABLE = "audit_auditevent"


@pytest.fixture
def chain(org, owner):
    actor = actor_for(owner.user)
    residency_services.inference_residency_set(actor=actor, organization=org, us_only=True)
    ws = workspace(org, "Prod")
    residency_services.workspace_update(actor=actor, workspace=ws, name="Production")
    org.refresh_from_db()
    assert verify_chain(org).ok
    return org


@pytest.mark.django_db
def test_an_edited_event_is_named(chain):
    tamper((f"UPDATE {TABLE} SET actor_label = %s WHERE organization_id = %s AND seq = 3", ["Someone else", chain.pk]))
    report = verify_chain(chain)
    assert not report.ok and report.bad_seq == 3
    assert "content does not match its hash" in report.reason


@pytest.mark.django_db
def test_an_edited_before_after_value_is_named(chain):
    tamper((f"UPDATE {TABLE} SET after = %s WHERE organization_id = %s AND seq = 3", ['{"us_only": false}', chain.pk]))
    report = verify_chain(chain)
    assert not report.ok and report.bad_seq == 3


@pytest.mark.django_db
def test_a_removed_event_is_named(chain):
    tamper((f"DELETE FROM {TABLE} WHERE organization_id = %s AND seq = 2", [chain.pk]))
    report = verify_chain(chain)
    assert not report.ok and report.bad_seq == 2
    assert "record #2 is missing" in report.reason


@pytest.mark.django_db
def test_removing_the_newest_event_is_caught_by_the_chain_head(chain):
    tamper((f"DELETE FROM {TABLE} WHERE organization_id = %s AND seq = %s", [chain.pk, chain_head(chain.pk)[0]]))
    report = verify_chain(chain)
    assert not report.ok and "removed from the end" in report.reason


@pytest.mark.django_db
def test_reordered_events_are_named(chain):
    tamper(
        (f"UPDATE {TABLE} SET seq = -1 WHERE organization_id = %s AND seq = 2", [chain.pk]),
        (f"UPDATE {TABLE} SET seq = 2 WHERE organization_id = %s AND seq = 3", [chain.pk]),
        (f"UPDATE {TABLE} SET seq = 3 WHERE organization_id = %s AND seq = -1", [chain.pk]),
    )
    report = verify_chain(chain)
    assert not report.ok and report.bad_seq == 2


@pytest.mark.django_db
def test_the_console_names_the_first_bad_record(chain, owner, console):
    tamper((f"UPDATE {TABLE} SET target_label = %s WHERE organization_id = %s AND seq = 4", ["X", chain.pk]))
    response = console(owner.user).post(reverse("console:audit_verify"))
    html = response.content.decode()
    assert "Chain broken: 1 bad record" in html
    assert 'data-seq="4"' in html and "content does not match its hash (edited)" in html


@pytest.mark.parametrize("before, after, label", [
    (None, {"us_only": True}, "plain"),
    ({"name": "Ünïcødé ✓ \"quoted\" \\ back\nslash\t\u0001"}, {"name": "x", "n": 1.5, "ok": False, "list": [1, None]},
     "Prod \u2028 line sep"),
    ({"z": {"b": 1, "a": [{"y": 2, "x": 1}]}}, {"a": "é"}, ""),
])
@pytest.mark.parametrize("version", [1, 2])
def test_fast_hash_is_byte_for_byte_the_reference_hash(before, after, label, version):
    from datetime import UTC, datetime

    from audit.chain import HASHED_FIELDS, compute_hash, compute_hash_reference

    fields = {name: f"{name}-value-{label}" for name in HASHED_FIELDS[version]}
    fields.update(seq=123456789, created_at=datetime(2026, 3, 1, 12, 0, 0, 5, tzinfo=UTC), before=before, after=after)
    if version > 1:
        fields["hash_version"] = version
    assert compute_hash(fields) == compute_hash_reference(fields)
