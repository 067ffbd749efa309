"""`manage.py migrate_legacy_optouts [--dry-run]` (SPEC §2 Migration of legacy opt-outs, §4)."""

from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command

from audit.chain import verify_chain
from audit.models import AuditEvent
from orgs.models import Organization, Workspace
from residency import services as residency_services
from residency.services import legacy_optout_migrate
from tests.factories import actor_for, make_org, primary_owner


def run(*args):
    out = StringIO()
    call_command("migrate_legacy_optouts", *args, stdout=out, stderr=out)
    return out.getvalue()


def snapshot():
    orgs = list(Organization.objects.order_by("pk").values_list("pk", "us_only_inference", "lock_reason"))
    wss = list(Workspace.objects.order_by("pk").values_list("pk", "allowed_inference_geos", "default_inference_geo"))
    return orgs, wss, AuditEvent.objects.count()


@pytest.fixture
def legacy(db):
    """A legacy opt-out org, not migrated yet, with three workspaces (one archived)."""
    org = make_org(name="Fjord Shipping", legacy_opt_out=True)
    actor = actor_for(primary_owner(org).user)
    open_ws = residency_services.workspace_create(actor=actor, organization=org, name="Logistics")
    both = residency_services.workspace_create(actor=actor, organization=org, name="Customs",
                                     data_residency={"allowed_inference_geos": ["global", "us"]})
    done = residency_services.workspace_create(actor=actor, organization=org, name="Already US",
                                     data_residency={"allowed_inference_geos": ["us"], "default_inference_geo": "us"})
    gone = residency_services.workspace_create(actor=actor, organization=org, name="Gone")
    residency_services.workspace_archive(actor=actor, workspace=gone)
    return org, open_ws, both, done, gone


def test_dry_run_lists_changes_and_changes_nothing(legacy):
    org = legacy[0]
    other = make_org(name="Regular")
    before = snapshot()
    out = run("--dry-run")
    assert snapshot() == before
    assert "Dry run" in out
    assert f"[1/1] Fjord Shipping ({org.pk}): would lock US-only inference on (legacy_opt_out)" in out
    assert 'would set 2 workspaces (Logistics, Customs) to allowed ["us"], default "us"' in out
    assert "would migrate 1 (2 workspaces)" in out and "nothing was changed" in out
    assert other.pk not in out


def test_migration_locks_restricts_and_audits_once(legacy):
    org, open_ws, both, done, gone = legacy
    regular = make_org(name="Regular")
    regular_events = AuditEvent.objects.filter(organization=regular).count()
    out = run()
    assert f"[1/1] Fjord Shipping ({org.pk}): locked US-only inference on (legacy_opt_out); set 2 workspaces" in out
    assert "1 legacy opt-out organization: migrated 1 (2 workspaces), 0 already migrated." in out
    org.refresh_from_db()
    assert (org.us_only_inference, org.lock_reason) == (True, "legacy_opt_out")
    for ws in (open_ws, both, done):
        ws.refresh_from_db()
        assert ws.data_residency == {"workspace_geo": "us", "allowed_inference_geos": ["us"],
                                     "default_inference_geo": "us"}
    gone.refresh_from_db()
    assert gone.allowed_inference_geos is None  # archived workspaces cannot change

    events = list(AuditEvent.objects.filter(organization=org, source="migration").order_by("seq"))
    assert [(e.action, e.target_id) for e in events] == [
        ("inference_residency.legacy_migrated", org.pk),
        ("workspace.updated", open_ws.pk),
        ("workspace.updated", both.pk),
    ]
    for event in events:
        assert (event.actor_type, event.actor_id, event.actor_label) == ("system", "", "legacy opt-out migration")
    assert events[0].before == {"us_only": False, "lock_reason": None}
    assert events[0].after == {"us_only": True, "lock_reason": "legacy_opt_out"}
    assert events[1].before == {"data_residency": {"allowed_inference_geos": "unrestricted",
                                                   "default_inference_geo": "global"}}
    assert events[1].after == {"data_residency": {"allowed_inference_geos": ["us"], "default_inference_geo": "us"}}
    assert events[2].before == {"data_residency": {"allowed_inference_geos": ["global", "us"],
                                                   "default_inference_geo": "global"}}
    assert events[2].after == {"data_residency": {"allowed_inference_geos": ["us"], "default_inference_geo": "us"}}
    assert verify_chain(org).ok
    assert AuditEvent.objects.filter(organization=regular).count() == regular_events

    # a second run changes nothing and writes no audit event
    before = snapshot()
    out = run()
    assert snapshot() == before
    assert "already migrated, nothing to change" in out and "migrated 0 (0 workspaces), 1 already migrated" in out


def test_locked_setting_cannot_be_turned_off_after_migration(legacy):
    org = legacy[0]
    run()
    org.refresh_from_db()
    with pytest.raises(PermissionDenied):
        residency_services.inference_residency_set(actor=actor_for(primary_owner(org).user), organization=org, us_only=False)


def test_partly_migrated_org_gets_only_what_is_missing(db):
    org = make_org(name="Cedar", legacy_opt_out=True, lock_reason="legacy_opt_out")
    ws = residency_services.workspace_create(actor=actor_for(primary_owner(org).user), organization=org, name="Contracts")
    count = AuditEvent.objects.filter(organization=org).count()
    out = run()
    assert "locked US-only" not in out and "set 1 workspace (Contracts)" in out
    assert AuditEvent.objects.filter(organization=org).count() == count + 1
    ws.refresh_from_db()
    assert ws.allowed_inference_geos == ["us"]


def test_contract_lock_is_kept(db):
    org = make_org(name="Borealis", legacy_opt_out=True, lock_reason="contract")
    out = run()
    org.refresh_from_db()
    assert org.lock_reason == "contract" and "kept its existing contract lock" in out


def test_no_legacy_orgs(db):
    make_org(name="Regular")
    assert "0 legacy opt-out organizations: migrated 0 (0 workspaces), 0 already migrated." in run()


def test_only_operators_may_migrate(legacy):
    org = legacy[0]
    with pytest.raises(PermissionDenied):
        legacy_optout_migrate(actor=actor_for(primary_owner(org).user), organization=org)


def test_seed_demo_has_an_unmigrated_legacy_org(db):
    call_command("seed_demo", stdout=StringIO())
    fjord = Organization.objects.get(name="Fjord Shipping")
    assert fjord.legacy_opt_out and fjord.lock_reason is None and not fjord.us_only_inference
    out = run()
    assert "Fjord Shipping" in out and "Cedar Legal" in out
    fjord.refresh_from_db()
    assert fjord.lock_reason == "legacy_opt_out"
