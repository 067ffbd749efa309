"""A chain that spans hash versions (audit.integrity.HASHED_FIELDS): records written before the
key-creator and requester fields existed (hash_version 1) followed by records written since
(version 2) verify, in the database (one chunk or many, the version change inside a chunk or at
its edge) and offline from the export; and tampering a version-1 record is still named."""

import hashlib
import json
from datetime import UTC

import pytest

from audit.chain import GENESIS_HASH, verify_chain
from audit.integrity import EDITED
from audit.models import AuditEvent
from audit.offline import verify_export
from residency import services as residency_services
from tests.db import TABLE, tamper
from tests.factories import actor_for

pytestmark = pytest.mark.django_db
# written out here, not read from audit.integrity: records already stored were hashed this way,
# so a change to what version 1 covers must fail this test, not follow it
VERSION_1_FIELDS = (
    "organization_id", "seq", "created_at", "action", "outcome", "actor_type", "actor_id", "actor_user_id",
    "actor_label", "actor_role", "source", "ip", "user_agent", "request_id", "target_type", "target_id",
    "target_label", "before", "after", "prev_hash",
)
V2_ONLY = ("actor_key_creator_id", "actor_key_creator_label", "requested_by_id", "requested_by_label",
           "change_request_id")


def version_1_hash(event, prev_hash):
    """SHA-256 of the canonical JSON (sorted keys, no spaces, UTF-8) of the version-1 fields,
    created_at in UTC with microseconds, as the code before version 2 hashed a record."""
    payload = {name: getattr(event, name) for name in VERSION_1_FIELDS}
    payload.update(prev_hash=prev_hash, created_at=event.created_at.astimezone(UTC).isoformat(timespec="microseconds"))
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def toggle(org, owner, times):
    for _ in range(times):
        org.refresh_from_db()
        residency_services.inference_residency_set(actor=actor_for(owner.user), organization=org,
                                                   us_only=not org.us_only_inference)


def rewrite_as_version_1(org):
    """Every record of `org` as the code before version 2 wrote it: the newer columns empty,
    hash_version 1, each hash over the version-1 fields and linked to the one before."""
    prev = GENESIS_HASH
    empty = ", ".join(f"{name} = ''" for name in V2_ONLY)
    for event in AuditEvent.objects.filter(organization=org).order_by("seq"):
        digest = version_1_hash(event, prev)
        tamper((f"UPDATE {TABLE} SET hash_version = 1, {empty}, prev_hash = %s, hash = %s WHERE id = %s",
                [prev, digest, event.pk]))
        prev = digest
    tamper(("UPDATE audit_chainhead SET hash = %s WHERE organization_id = %s", [prev, org.pk]))


@pytest.fixture
def mixed_chain(org, owner):
    """Version-1 records #1..#n, then version-2 records appended by today's code."""
    toggle(org, owner, 4)
    rewrite_as_version_1(org)
    old = AuditEvent.objects.filter(organization=org).count()
    assert verify_chain(org).ok
    toggle(org, owner, 3)
    versions = list(AuditEvent.objects.filter(organization=org).order_by("seq").values_list("hash_version", flat=True))
    assert versions == [1] * old + [2] * 3
    return old


@pytest.mark.parametrize("chunk_size", [5000, 2, 3])
def test_version_1_records_then_version_2_records_verify(org, mixed_chain, chunk_size):
    first_v2 = AuditEvent.objects.get(organization=org, seq=mixed_chain + 1)
    # the first new record links to the last old one: today's writer read the old head's hash
    assert first_v2.prev_hash == AuditEvent.objects.get(organization=org, seq=mixed_chain).hash
    report = verify_chain(org, chunk_size=chunk_size)
    assert report.ok, report.lines()
    assert report.count == mixed_chain + 3


def test_the_export_of_a_mixed_chain_verifies_offline(org, owner, mixed_chain, api, key_for, tmp_path):
    response = api(key_for(owner)).get("/v1/organizations/audit_events", {"format": "json"})
    export = tmp_path / "export.json"
    export.write_bytes(b"".join(response.streaming_content))
    [report] = verify_export(export, workers=1)
    assert report.ok, report.lines()


@pytest.mark.parametrize("change", [
    ("ip = '203.0.113.66'", "an edited field the version-1 hash covers"),
    ("after = '{\"us_only\": false, \"x\": 1}'", "an edited JSON value"),
    ("hash_version = 2", "a version-1 record relabelled as version 2"),
])
def test_tampering_a_version_1_record_is_named(org, mixed_chain, change):
    target = AuditEvent.objects.get(organization=org, seq=2)
    tamper((f"UPDATE {TABLE} SET {change[0]} WHERE id = %s", [target.pk]))
    for chunk_size in (5000, 2):
        report = verify_chain(org, chunk_size=chunk_size)
        assert not report.ok, change[1]
        assert (EDITED, 2) in [(fault.kind, fault.seq) for fault in report.faults], (change[1], report.lines())


def test_a_version_2_record_relabelled_as_version_1_is_named(org, mixed_chain):
    """Dropping to the older, narrower hash does not let the newer fields be rewritten unseen."""
    seq = mixed_chain + 2
    target = AuditEvent.objects.get(organization=org, seq=seq)
    tamper((f"UPDATE {TABLE} SET hash_version = 1 WHERE id = %s", [target.pk]))
    report = verify_chain(org)
    assert (EDITED, seq) in [(fault.kind, fault.seq) for fault in report.faults], report.lines()
