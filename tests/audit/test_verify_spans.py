"""Chain verification cut into seq spans (and worker processes) reports exactly what one walk
from #1 reports: the same first bad record, reason and count (SPEC §2 Audit)."""

import os

import pytest
from django.core.management import call_command
from django.db import connection, transaction

from audit import chain as audit
from audit.chain import chain_head, compute_hash_reference, verify_chain
from audit.models import AuditEvent
from residency import services as residency_services
from tests import db
from tests.factories import actor_for, make_org, primary_owner

TABLE = "audit_auditevent"
ODD = 'Prod "blue" \\ back\nslash\t\u0001 Ünïcødé ✓ \u2028 \u00a0'
ODD_NAME = 'Prod "blue" \\ back slash Ünïcødé ✓ \u2028 \u00a0'  # names are one line; tags take the rest


def build_chain(org):
    """Twelve events, a few with text the JSON encoder must escape."""
    actor = actor_for(primary_owner(org).user)
    for value in (True, False, True):
        residency_services.inference_residency_set(actor=actor, organization=org, us_only=value)
    ws = residency_services.workspace_create(actor=actor, organization=org, name=ODD_NAME, tags={"note": ODD})
    for name in ("plain", ODD_NAME + " 2", "a\\b", 'q"q'):
        residency_services.workspace_update(actor=actor, workspace=ws, name=name)
    for value in (False, True, False):
        residency_services.inference_residency_set(actor=actor, organization=org, us_only=value)
    org.refresh_from_db()
    return org


def tamper(sql, params=()):
    db.tamper((sql, params))


def ids(org):
    return dict(AuditEvent.objects.filter(organization=org).values_list("seq", "id"))


def as_tuple(report):
    return (report.ok, report.count, [str(f) for f in report.faults])


def scenarios(org):
    """name -> statements an intruder runs; each breaks the chain somewhere different."""
    i = ids(org)
    return {
        "intact": [],
        "edited text": [(f"UPDATE {TABLE} SET actor_label = 'x' WHERE id = %s", [i[5]])],
        "edited odd text": [(f"UPDATE {TABLE} SET target_label = %s WHERE id = %s", [ODD + "!", i[6]])],
        "edited after": [(f"UPDATE {TABLE} SET after = %s WHERE id = %s", ['{"us_only": false}', i[3]])],
        "edited created_at": [(f"UPDATE {TABLE} SET created_at = %s WHERE id = %s",
                               ["2001-01-01 00:00:00" if connection.vendor == "sqlite" else "2001-01-01T00:00:00Z",
                                i[9]])],
        "removed first": [(f"DELETE FROM {TABLE} WHERE id = %s", [i[1]])],
        "removed middle": [(f"DELETE FROM {TABLE} WHERE id = %s", [i[7]])],
        "removed span edge": [(f"DELETE FROM {TABLE} WHERE id = %s", [i[5]]),
                              (f"DELETE FROM {TABLE} WHERE id = %s", [i[6]])],
        "removed last": [(f"DELETE FROM {TABLE} WHERE id = %s", [i[max(i)]])],
        "swapped": [(f"UPDATE {TABLE} SET seq = -1 WHERE id = %s", [i[8]]),
                    (f"UPDATE {TABLE} SET seq = 8 WHERE id = %s", [i[9]]),
                    (f"UPDATE {TABLE} SET seq = 9 WHERE id = %s", [i[8]])],
        "moved far ahead": [(f"UPDATE {TABLE} SET seq = 999999 WHERE id = %s", [i[4]])],
        "moved negative": [(f"UPDATE {TABLE} SET seq = -5 WHERE id = %s", [i[10]])],
        "two edits": [(f"UPDATE {TABLE} SET ip = '1.2.3.4' WHERE id = %s", [i[11]]),
                      (f"UPDATE {TABLE} SET ip = '1.2.3.4' WHERE id = %s", [i[4]])],
    }


@pytest.mark.django_db
def test_events_with_escaped_text_verify_and_hash_like_the_reference(org, monkeypatch):
    build_chain(org)
    slow = []
    real = audit._full_row
    monkeypatch.setattr(audit, "_full_row", lambda db, pk: slow.append(pk) or real(db, pk))
    report = verify_chain(org)
    assert report.ok and report.count == chain_head(org.pk)[0]
    # rows whose text needs escaping are re-read field by field; the others are not
    assert 0 < len(slow) < report.count
    odd = AuditEvent.objects.get(organization=org, action="workspace.created")
    assert "\"blue\"" in odd.target_label or "\"blue\"" in str(odd.after)
    fields = {name: getattr(odd, name) for name in audit.HASHED_FIELDS[odd.hash_version]}
    assert compute_hash_reference(fields) == odd.hash


@pytest.mark.django_db
@pytest.mark.parametrize("name", [
    "intact", "edited text", "edited odd text", "edited after", "edited created_at", "removed first",
    "removed middle", "removed span edge", "removed last", "swapped", "moved far ahead", "moved negative",
    "two edits",
])
def test_any_split_into_spans_names_the_same_first_bad_record(org, name):
    build_chain(org)
    for sql, params in scenarios(org)[name]:
        tamper(sql, params)
    single = verify_chain(org, workers=1, spans=1)
    assert single.ok == (name == "intact")
    for spans in (2, 3, 5, 16):
        assert as_tuple(verify_chain(org, workers=1, spans=spans)) == as_tuple(single), spans
    for chunk_size in (1, 4):
        assert as_tuple(verify_chain(org, workers=1, spans=3, chunk_size=chunk_size)) == as_tuple(single)


@pytest.mark.django_db
def test_the_expected_first_bad_records(org):
    build_chain(org)
    i = ids(org)
    tamper(f"DELETE FROM {TABLE} WHERE id = %s", [i[5]])
    tamper(f"DELETE FROM {TABLE} WHERE id = %s", [i[6]])
    tamper(f"UPDATE {TABLE} SET ip = '1.2.3.4' WHERE id = %s", [i[10]])
    report = verify_chain(org, workers=1, spans=4)
    assert as_tuple(report) == (False, 11, [
        "records #5..#6: missing: records #5..#6 are missing (removed)",
        f"record #10 (id {i[10]}): edited: content does not match its hash (edited)",
    ])
    assert (report.bad_seq, report.bad_id) == (5, None)


@pytest.mark.django_db
def test_inside_a_transaction_or_for_a_short_chain_no_worker_processes(org, monkeypatch):
    build_chain(org)
    assert audit.default_workers(chain_head(org.pk)[0]) == 1  # the test runs inside a transaction
    monkeypatch.setattr(audit, "PARALLEL_MIN_EVENTS", 1)
    assert connection.in_atomic_block and audit.default_workers(chain_head(org.pk)[0]) == 1


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_long_chains_use_worker_processes(committed_db, monkeypatch):
    org = make_org()
    org.refresh_from_db()
    assert not connection.in_atomic_block
    assert audit.default_workers(chain_head(org.pk)[0]) == 1  # short
    monkeypatch.setattr(audit, "PARALLEL_MIN_EVENTS", 1)
    assert audit.default_workers(chain_head(org.pk)[0]) == min(8, len(os.sched_getaffinity(0)))
    with transaction.atomic():
        assert audit.default_workers(chain_head(org.pk)[0]) == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("name", ["intact", "edited odd text", "removed span edge", "swapped", "removed last"])
def test_worker_processes_report_what_one_walk_reports(committed_db, name):
    """Forked workers read committed rows through their own connections; the join is the same."""
    org = build_chain(make_org())
    for sql, params in scenarios(org)[name]:
        tamper(sql, params)
    single = verify_chain(org, workers=1, spans=1)
    assert as_tuple(verify_chain(org, workers=2, spans=5)) == as_tuple(single)
    assert as_tuple(verify_chain(org, workers=2, spans=5, chunk_size=2)) == as_tuple(single)
    # the parent's own connection still works after the workers are gone
    assert AuditEvent.objects.filter(organization=org).exists()


@pytest.mark.django_db(transaction=True)
def test_the_command_uses_worker_processes_for_long_chains(committed_db, monkeypatch, capsys, tmp_path):
    org = build_chain(make_org())
    monkeypatch.setattr(audit, "PARALLEL_MIN_EVENTS", 1)
    real = audit._verify_span
    pids = tmp_path / "pids"

    def spy(*args):
        with open(pids, "a") as handle:  # forked workers inherit the spy
            handle.write(f"{os.getpid()}\n")
        return real(*args)

    monkeypatch.setattr(audit, "_verify_span", spy)
    call_command("verify_audit_log", organization=org.pk)
    assert f"{org.pk}: {chain_head(org.pk)[0]} events, chain intact" in capsys.readouterr().out
    seen = set(pids.read_text().split())
    assert seen and str(os.getpid()) not in seen  # spans were walked by other processes
