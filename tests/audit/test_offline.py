"""The `format=json` export and its offline verification (SPEC §7): the whole chain in
ascending seq with every hashed field; `verify_audit_log --export FILE --checkpoints DIR
--public-key PEM` needs no database (a subprocess with an unreachable DATABASE_URL proves it)
and names an edited, removed or reordered event in the file."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit import checkpoints as signed
from audit.integrity import EDITED, MISSING, REORDERED, SORTED_FIELDS, encode_str, payload_text
from audit.models import AuditEvent
from audit.offline import _EXPORT_BUILDERS, canonical_json_reader, hashed_values, iso_from_text, verify_export
from residency import services as residency_services
from tests.factories import actor_for, make_org, primary_owner

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]
URL = "/v1/organizations/audit_events"


@pytest.fixture
def signed_export(org, owner, settings, tmp_path, api, key_for):
    """Ten events with awkward text, a checkpoint at the head, the export, the public key."""
    settings.AUDIT_CHECKPOINT_DIR = str(tmp_path / "checkpoints")
    settings.AUDIT_SIGNING_KEY = str(tmp_path / "signing.pem")
    Path(settings.AUDIT_SIGNING_KEY).write_bytes(signed.generate_private_key_pem())
    actor = actor_for(owner.user)
    ws = residency_services.workspace_create(actor=actor, organization=org, name='Prod "é" \U0001F600 \\ \u2028')
    for value in (True, False, True, False, True):
        residency_services.inference_residency_set(actor=actor, organization=org, us_only=value)
    residency_services.workspace_update(actor=actor, workspace=ws, data_residency={"allowed_inference_geos": ["us"],
                                                                                 "default_inference_geo": "us"})
    secret = key_for(owner)
    call_command("audit_checkpoint", stdout=open(os.devnull, "w"))
    response = api(secret).get(URL, {"format": "json"})
    assert response.status_code == 200 and response["content-type"] == "application/json"
    export = tmp_path / "export.json"
    export.write_bytes(b"".join(response.streaming_content))
    public = tmp_path / "public.pem"
    call_command("audit_checkpoint", public_key=True, stdout=public.open("w"))
    return export, tmp_path / "checkpoints", public


def events(path):
    return [json.loads(line.rstrip(",")) for line in path.read_text().splitlines() if line not in ("[", "]", "")]


def write(path, rows):
    path.write_text("[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n]\n")


def verify(export, checkpoints, public):
    [report] = verify_export(export, checkpoints, signed.load_public_key(public))
    return report


def test_the_export_is_the_whole_chain_in_ascending_seq_with_every_hashed_field(signed_export, org):
    export, _, _ = signed_export
    rows = events(export)
    assert [r["seq"] for r in rows] == list(range(1, AuditEvent.objects.filter(organization=org).count() + 1))
    assert {r["organization_id"] for r in rows} == {org.pk}
    json_text = canonical_json_reader()
    for row in rows:
        values = hashed_values(row)
        assert set(values) >= set(SORTED_FIELDS[row["hash_version"]])
        # the generated builder and the field-by-field definition agree
        assert _EXPORT_BUILDERS[row["hash_version"]](row, json_text, iso_from_text, encode_str) == \
            payload_text(row["hash_version"], values, json_text, iso_from_text)


def test_a_clean_export_verifies_offline(signed_export):
    report = verify(*signed_export)
    assert report.ok and report.checkpoints == 1, report.lines()
    assert report.count == len(events(signed_export[0]))


def test_edited_removed_and_reordered_events_in_the_file_are_named(signed_export, tmp_path):
    export, checkpoints, public = signed_export
    rows = events(export)
    rows[2]["actor"]["label"] = "Someone else"  # #3 edited
    rows[4]["after"] = {"us_only": None}  # #5: an edited JSON value
    del rows[6]  # #7 removed
    rows[7], rows[8] = rows[8], rows[7]  # #9 and #10 swapped in the file (each intact)
    tampered = tmp_path / "tampered.json"
    write(tampered, rows)
    report = verify(tampered, checkpoints, public)
    assert [(f.kind, f.seq) for f in report.faults] == [(EDITED, 3), (EDITED, 5), (MISSING, 7), (REORDERED, 10)]
    assert report.faults[0].id == "line 4" and "out of order: it comes before record #9" in report.faults[3].detail
    # the tail removed from the file: only the checkpoint knows
    write(tampered, events(export)[:-2])
    report = verify(tampered, checkpoints, public)
    assert [f.kind for f in report.faults] == ["checkpoint mismatch"] and "removed from the end" in report.reason


def test_the_command_works_without_any_database(signed_export):
    export, checkpoints, public = signed_export
    env = {**os.environ, "DATABASE_URL": "postgres://nobody:nothing@127.0.0.1:9/nowhere",
           "DJANGO_SETTINGS_MODULE": "config.settings.production", "SECRET_KEY": "offline-only"}
    env.pop("AUDIT_SIGNING_KEY", None)
    command = [sys.executable, "manage.py", "verify_audit_log", "--export", str(export), "--checkpoints",
               str(checkpoints), "--public-key", str(public)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "chain intact, 1 signed checkpoint hold" in done.stdout and "verified offline" in done.stdout
    rows = events(export)
    rows[1]["ip"] = "203.0.113.9"
    export.write_text("[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n]\n")
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "record #2 (line 3): edited: content does not match its hash" in done.stdout
    assert "Audit chain broken: 1 bad record" in done.stderr
    # and without Django at all
    done = subprocess.run([sys.executable, "-m", "audit.offline", str(export), str(checkpoints), str(public)],
                          cwd=ROOT, env={"PATH": os.environ["PATH"]}, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "record #2 (line 3): edited" in done.stdout


def test_offline_verification_needs_the_checkpoints_and_the_key(signed_export, tmp_path):
    export, checkpoints, public = signed_export
    with pytest.raises(CommandError, match="needs --checkpoints DIR and --public-key PEM"):
        call_command("verify_audit_log", export=str(export))
    with pytest.raises(CommandError, match="not a PEM public key"):
        call_command("verify_audit_log", export=str(export), checkpoints=str(checkpoints), public_key=str(export))
    other = tmp_path / "other.pem"
    other.write_bytes(signed.generate_private_key_pem())
    with pytest.raises(CommandError, match="1 bad record"):  # the checkpoint is not trusted with another key
        call_command("verify_audit_log", export=str(export), checkpoints=str(checkpoints), public_key=str(other),
                     stdout=open(os.devnull, "w"))


def test_format_json_follows_the_caller_scope_and_filters(org, owner, member_factory, key_for, api):
    residency_services.inference_residency_set(actor=actor_for(owner.user), organization=org, us_only=True)
    viewer = member_factory(org, "privacy_view")
    rows = json.loads(b"".join(api(key_for(viewer)).get(URL, {"format": "json"}).streaming_content))
    assert [r["action"] for r in rows] == ["inference_residency.updated"]  # residency history only
    client = api(key_for(owner))
    rows = json.loads(b"".join(client.get(URL, {"format": "json", "action": "member.added"}).streaming_content))
    assert [r["action"] for r in rows] == ["member.added", "member.added"] and rows[0]["seq"] < rows[1]["seq"]
    other = make_org(name="Other")
    theirs = json.loads(b"".join(api(key_for(primary_owner(other))).get(URL, {"format": "json"}).streaming_content))
    assert {r["organization_id"] for r in theirs} == {other.pk}
    assert api(key_for(member_factory(org, "user"))).get(URL, {"format": "json"}).status_code == 404


@pytest.mark.parametrize("tampering", ["clean", "edits", "first removed", "moved late", "moved early", "unreadable"])
def test_worker_processes_walking_chunks_report_what_one_walk_reports(signed_export, tmp_path, tampering):
    export, checkpoints, public = signed_export
    rows = events(export)
    if tampering == "edits":
        rows[1]["ip"], rows[8]["target"]["label"] = "198.51.100.1", "x"
        del rows[5]
    elif tampering == "first removed":
        del rows[0]
    elif tampering == "moved late":  # #3 found at the end of the file, in another chunk
        rows.append(rows.pop(2))
    elif tampering == "moved early":  # #9 found before #2
        rows.insert(1, rows.pop(8))
    tampered = tmp_path / "tampered.json"
    write(tampered, rows)
    if tampering == "unreadable":
        tampered.write_text(tampered.read_text().replace('"type": "audit_event"', '"type": "audit_event" oops', 1))
    key = signed.load_public_key(public)

    def faults(workers):
        return [[str(f) for f in r.faults] + [r.count, r.ok] for r in verify_export(tampered, checkpoints, key,
                                                                                     workers=workers)]

    single = faults(1)
    assert (single[0][-1] is True) == (tampering == "clean")
    for workers in (2, 3, 5):
        if tampering == "moved early" and workers == 5:
            # chunks of two lines: one ends right after the moved record, which cannot look ahead
            # across the edge, so the records it jumped over are named instead: never missed
            result = faults(workers)
            assert result[0][-1] is False and any("reordered" in f for f in result[0][:-2]), result
            continue
        assert faults(workers) == single, workers
    if tampering == "first removed":
        assert single[0][0] == "record #1: missing: record #1 is missing (removed)"
    if tampering == "moved early":  # the one record out of place is named, not those it jumped over
        assert single[0][:2] == ["record #9 (line 3): reordered: out of order: it comes before record #2", 10]
    if tampering == "moved late":
        assert single[0][0] == "record #3 (line 11): reordered: out of order: it comes after record #10"
    if tampering == "unreadable":
        assert single[-1][0] == "checkpoint: edited: line 2 is not a readable audit event"
