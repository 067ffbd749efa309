"""Several faults at once in one chain, each detected and named with its kind (SPEC §7): the
verifier continues past every bad record, in the database and offline, and signed checkpoints
catch what the chain alone cannot (history re-hashed before a checkpoint, a shortened chain
with its head moved back), while forged checkpoint files are named, never trusted."""

import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit import checkpoints as signed
from audit.chain import HASHED_FIELDS, chain_head, compute_hash, verify_chain
from audit.integrity import CHECKPOINT_MISMATCH, EDITED, FORGED_CHECKPOINT, MISSING, REORDERED
from audit.models import AuditEvent
from audit.offline import verify_export
from audit.signing import verify_key
from residency import services as residency_services
from tests.db import TABLE, ids, tamper
from tests.factories import actor_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def keys(settings, tmp_path):
    settings.AUDIT_CHECKPOINT_DIR = str(tmp_path / "checkpoints")
    settings.AUDIT_SIGNING_KEY = str(tmp_path / "signing.pem")
    Path(settings.AUDIT_SIGNING_KEY).write_bytes(signed.generate_private_key_pem())
    return tmp_path


def toggle(org, owner, times):
    actor = actor_for(owner.user)
    for _ in range(times):
        org.refresh_from_db()
        residency_services.inference_residency_set(actor=actor, organization=org, us_only=not org.us_only_inference)


def rehash(seqs, org, **changes):
    """Rewrite records `seqs` (edited with `changes` first) and recompute their hashes and
    links, as an intruder who knows the (unkeyed) hash would."""
    rows = {e.seq: e for e in AuditEvent.objects.filter(organization=org, seq__in=seqs)}
    prev = AuditEvent.objects.get(organization=org, seq=min(seqs) - 1).hash
    for seq in sorted(seqs):
        row = rows[seq]
        fields = {name: getattr(row, name) for name in HASHED_FIELDS[row.hash_version]}
        if seq == min(seqs):
            fields.update(changes)
        fields["prev_hash"] = prev
        prev = compute_hash(fields)
        sets = ", ".join(f"{k} = %s" for k in changes) + ", " if seq == min(seqs) and changes else ""
        tamper((f"UPDATE {TABLE} SET {sets}prev_hash = %s, hash = %s WHERE id = %s",
                [*(changes.values() if seq == min(seqs) else ()), fields["prev_hash"], prev, row.pk]))


def kinds(report):
    return [(f.kind, f.seq) for f in report.faults]


EXPECTED = [
    (EDITED, 3),  # an edited field
    (EDITED, 5),  # an edited JSON value
    (MISSING, 7),  # removed from the middle
    (REORDERED, 9), (REORDERED, 10),  # swapped
    (CHECKPOINT_MISMATCH, 14), (FORGED_CHECKPOINT, 14),  # re-hashed before checkpoint A; a forged copy of A
    (EDITED, 15),  # the first record after the re-hashed ones no longer links
    (REORDERED, 17), (REORDERED, 18), (MISSING, 19),  # #17 removed and the next two renumbered down
    (FORGED_CHECKPOINT, 20),  # signed with another key
    (CHECKPOINT_MISMATCH, 24),  # the tail removed and the head moved back: only checkpoint B knows
]


def build(org, owner, keys, capsys):
    toggle(org, owner, 12)  # org created + owner added + 12 = #14
    assert chain_head(org.pk)[0] == 14
    call_command("audit_checkpoint")  # checkpoint A: #14
    toggle(org, owner, 10)  # #24
    call_command("audit_checkpoint")  # checkpoint B: #24
    out = capsys.readouterr().out
    assert f"{org.pk}: signed #14" in out and f"{org.pk}: signed #24" in out
    folder = Path(keys / "checkpoints" / org.pk)
    files = sorted(folder.glob("*.json"))
    assert [json.loads(f.read_text())["seq"] for f in files] == [14, 24]
    i = ids(org)
    tamper(
        (f"UPDATE {TABLE} SET actor_label = %s WHERE id = %s", ["Someone else", i[3]]),
        (f"UPDATE {TABLE} SET after = %s WHERE id = %s", ['{"us_only": false}', i[5]]),
        (f"DELETE FROM {TABLE} WHERE id = %s", [i[7]]),
        (f"UPDATE {TABLE} SET seq = -1 WHERE id = %s", [i[9]]),
        (f"UPDATE {TABLE} SET seq = 9 WHERE id = %s", [i[10]]),
        (f"UPDATE {TABLE} SET seq = 10 WHERE id = %s", [i[9]]),
        (f"DELETE FROM {TABLE} WHERE id = %s", [i[17]]),
        (f"UPDATE {TABLE} SET seq = 17 WHERE id = %s", [i[18]]),
        (f"UPDATE {TABLE} SET seq = 18 WHERE id = %s", [i[19]]),
        (f"DELETE FROM {TABLE} WHERE id IN (%s, %s)", [i[23], i[24]]),
    )
    rehash([12, 13, 14], org, actor_label="Rewritten history")
    # the head moved back to the new last record: the chain alone now looks complete at #22
    last = AuditEvent.objects.get(organization=org, seq=22)
    tamper(("UPDATE audit_chainhead SET seq = %s, hash = %s WHERE organization_id = %s", [22, last.hash, org.pk]))
    # a forged copy of checkpoint A (another hash), and a checkpoint signed with another key
    forged = json.loads(files[0].read_text())
    forged["hash"] = "f" * 64
    (folder / "000000000014-forged.json").write_text(json.dumps(forged))
    path = keys / "other.pem"
    path.write_bytes(signed.generate_private_key_pem())
    other = signed.load_private_key(path)
    signed.write(keys / "checkpoints", signed.sign(other, org.pk, 20, AuditEvent.objects.get(organization=org, seq=20).hash))
    return i


def test_every_fault_in_one_chain_is_named_with_its_kind(org, owner, keys, capsys):
    i = build(org, owner, keys, capsys)
    loaded = signed.load(keys / "checkpoints", org.pk, verify_key())
    assert len(loaded.valid) == 2 and len(loaded.invalid) == 2
    for spans in (1, 3, 7):
        report = verify_chain(org, checkpoints=loaded, workers=1, spans=spans)
        assert kinds(report) == EXPECTED, (spans, report.lines())
    by_seq = {(f.kind, f.seq): f for f in report.faults}
    assert by_seq[(EDITED, 3)].id == i[3] and "content does not match its hash" in by_seq[(EDITED, 3)].detail
    assert by_seq[(REORDERED, 9)].id == i[10] and "written as #10" in by_seq[(REORDERED, 9)].detail
    assert "written as #9" in by_seq[(REORDERED, 10)].detail
    assert "written as #18" in by_seq[(REORDERED, 17)].detail and "written as #19" in by_seq[(REORDERED, 18)].detail
    assert "does not link to record #14" in by_seq[(EDITED, 15)].detail
    assert "the chain ends at #22" in by_seq[(CHECKPOINT_MISMATCH, 24)].detail
    assert "signed with another key" in by_seq[(FORGED_CHECKPOINT, 20)].detail
    assert "does not verify" in by_seq[(FORGED_CHECKPOINT, 14)].detail
    # the command names every one of them and fails
    with pytest.raises(CommandError, match="13 bad records"):
        call_command("verify_audit_log", organization=org.pk)
    out = capsys.readouterr().out
    for fault in report.faults:
        assert str(fault) in out


def test_the_same_faults_are_named_offline_from_the_export(org, owner, keys, capsys, api, key_for, tmp_path):
    build(org, owner, keys, capsys)
    secret = key_for(owner)  # this key's creation is event #23 now (the head was moved back)
    response = api(secret).get("/v1/organizations/audit_events", {"format": "json"})
    export = tmp_path / "export.json"
    export.write_bytes(b"".join(response.streaming_content))
    public = tmp_path / "public.pem"
    public.write_text(signed.public_pem(verify_key()))
    [report] = verify_export(export, keys / "checkpoints", signed.load_public_key(public))
    assert kinds(report) == EXPECTED, report.lines()
    # the new key's creation is #23 now, on top of the moved head: still short of checkpoint B
    assert "the chain ends at #23" in report.faults[-1].detail
    assert {f.id for f in report.faults if f.kind == EDITED} <= {f"line {n}" for n in range(1, 30)}


def test_a_clean_chain_with_checkpoints_verifies_and_says_so(org, owner, keys, capsys):
    toggle(org, owner, 3)
    call_command("audit_checkpoint")
    call_command("verify_audit_log", organization=org.pk)
    out = capsys.readouterr().out
    assert f"{org.pk}: 5 events, chain intact, 1 signed checkpoint hold" in out
    assert "OK: 5 audit events verified" in out and "1 signed checkpoints" in out
