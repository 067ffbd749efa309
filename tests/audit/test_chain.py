"""The audit log is append-only and hash-chained; the verifier names the first bad record."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, IntegrityError, connection, transaction

from audit.chain import chain_head, verify_chain
from audit.models import AuditEvent
from orgs import services
from orgs.models import Organization
from residency import services as residency_services
from tests import db
from tests.factories import actor_for, make_org, primary_owner

pytestmark = pytest.mark.django_db


@pytest.fixture
def chain(org, owner):
    actor = actor_for(owner.user)
    for value in (True, False, True, False):
        residency_services.inference_residency_set(actor=actor, organization=org, us_only=value)
    org.refresh_from_db()
    return org


def tamper(sql, params=()):
    db.tamper((sql, params))


def seqs(org):
    return dict(AuditEvent.objects.filter(organization=org).values_list("seq", "id"))


def test_intact_chain_verifies(chain):
    report = verify_chain(chain)
    assert report.ok and report.count == 6  # created, owner added, four toggles


def test_an_edited_record_is_named(chain):
    target = seqs(chain)[4]
    tamper("UPDATE audit_auditevent SET actor_label = 'Someone else' WHERE id = %s", [target])
    report = verify_chain(chain)
    assert not report.ok and (report.bad_seq, report.bad_id) == (4, target)
    assert "does not match its hash" in report.reason


def test_an_edited_before_value_is_named(chain):
    target = seqs(chain)[3]
    tamper("UPDATE audit_auditevent SET after = %s WHERE id = %s", ['{"us_only": false}', target])
    report = verify_chain(chain)
    assert (report.ok, report.bad_seq) == (False, 3)


def test_a_removed_record_is_named(chain):
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [seqs(chain)[3]])
    report = verify_chain(chain)
    assert (report.ok, report.bad_seq, report.faults[0].kind) == (False, 3, "missing")
    assert "record #3 is missing" in report.reason


def test_removing_the_last_record_is_detected(chain):
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [seqs(chain)[6]])
    report = verify_chain(chain)
    assert not report.ok and "removed from the end" in report.reason


def test_swapped_records_are_detected(chain):
    ids = seqs(chain)
    tamper("UPDATE audit_auditevent SET seq = -1 WHERE id = %s", [ids[3]])
    tamper("UPDATE audit_auditevent SET seq = 3 WHERE id = %s", [ids[4]])
    tamper("UPDATE audit_auditevent SET seq = 4 WHERE id = %s", [ids[3]])
    report = verify_chain(chain)
    assert (report.ok, report.bad_seq, report.bad_id) == (False, 3, ids[4])


def test_a_renumbered_chain_still_fails_on_the_links(chain):
    """Delete #3 and renumber the rest so seq is contiguous: the hash over seq gives it away."""
    ids = seqs(chain)
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [ids[3]])
    for seq in (4, 5, 6):
        tamper("UPDATE audit_auditevent SET seq = %s WHERE id = %s", [seq - 1, ids[seq]])
    report = verify_chain(chain)
    assert (report.ok, report.bad_seq) == (False, 3)


def test_verify_command_exit_codes(chain, capsys):
    call_command("verify_audit_log", organization=chain.pk)
    assert "chain intact" in capsys.readouterr().out
    tamper("UPDATE audit_auditevent SET ip = '10.0.0.1' WHERE id = %s", [seqs(chain)[2]])
    with pytest.raises(CommandError) as exc:
        call_command("verify_audit_log")
    assert "1 bad record" in str(exc.value)
    assert f"record #2 (id {seqs(chain)[2]}): edited" in capsys.readouterr().out


def test_verify_command_unknown_org(db):
    with pytest.raises(CommandError, match="No organization"):
        call_command("verify_audit_log", organization="org_nope")


def test_orm_refuses_update_and_delete(chain):
    event = AuditEvent.objects.filter(organization=chain).first()
    with pytest.raises(ValidationError):
        AuditEvent.objects.filter(pk=event.pk).update(actor_label="x")
    with pytest.raises(ValidationError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(ValidationError):
        event.delete()
    event.actor_label = "x"
    with pytest.raises(ValidationError):
        event.save()


@pytest.mark.parametrize("sql", [
    "UPDATE audit_auditevent SET actor_label = 'x'",
    "DELETE FROM audit_auditevent",
])
def test_database_refuses_update_and_delete(chain, sql):
    with pytest.raises((IntegrityError, DatabaseError)) as exc, transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql)
    # the trigger says so; the runtime role (scripts/test.sh) is refused before any trigger runs
    assert "append-only" in str(exc.value) or (db.runtime_role() and "permission denied" in str(exc.value))


def test_organizations_with_history_cannot_be_deleted(chain):
    with pytest.raises((IntegrityError, DatabaseError, Exception)), transaction.atomic():
        Organization.objects.filter(pk=chain.pk).delete()
    assert Organization.objects.filter(pk=chain.pk).exists()


def test_each_record_links_to_the_one_before(chain):
    rows = list(AuditEvent.objects.filter(organization=chain).order_by("seq"))
    assert rows[0].prev_hash == "0" * 64
    for prev, row in zip(rows, rows[1:], strict=False):
        assert row.prev_hash == prev.hash
    assert chain_head(chain.pk)[1] == rows[-1].hash and chain_head(chain.pk)[0] == len(rows)


def test_concurrent_writers_do_not_fork_the_chain(committed_db):
    """Four owners toggle at once, each from its own connection (SQLite file or PostgreSQL)."""
    org = make_org()
    owners = [primary_owner(org).user]
    for i in range(3):
        owners.append(services.member_add(actor=actor_for(owners[0]), organization=org,
                                          email=f"o{i}@x.test", role_id="owner").user)
    barrier = threading.Barrier(len(owners))
    errors = []

    def toggle(user, value):
        try:
            barrier.wait()
            for _ in range(5):
                residency_services.inference_residency_set(
                    actor=actor_for(user), organization=Organization.objects.get(pk=org.pk), us_only=value)
                value = not value
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=toggle, args=(u, i % 2 == 0)) for i, u in enumerate(owners)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    org.refresh_from_db()
    report = verify_chain(org)
    assert report.ok, report.summary
    rows = list(AuditEvent.objects.filter(organization=org, action="inference_residency.updated").order_by("seq"))
    # every recorded change flips the value the one before left behind, in seq order
    state = False
    for row in rows:
        assert row.before == {"us_only": state}
        state = row.after["us_only"]
    assert state == org.us_only_inference
