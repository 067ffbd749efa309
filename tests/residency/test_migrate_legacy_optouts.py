"""`manage.py migrate_legacy_optouts [--dry-run]` (SPEC §2 Migration of legacy opt-outs, §4)."""

from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command

from audit.chain import verify_chain
from audit.models import AuditEvent
from orgs.models import Organization, Workspace
from residency import services as residency_services
from residency.models import DataResidencyPolicy
from residency.services import legacy_optout_migrate
from tests.factories import actor_for, make_org, primary_owner


def run(*args):
    out = StringIO()
    call_command("migrate_legacy_optouts", *args, stdout=out, stderr=out)
    return out.getvalue()


def snapshot():
    orgs = list(Organization.objects.order_by("pk").values_list("pk", "us_only_inference", "lock_reason"))
    wss = list(Workspace.objects.order_by("pk").values_list("pk", "allowed_inference_geos", "default_inference_geo"))
    policies = list(DataResidencyPolicy.objects.order_by("pk").values_list("pk", "allowed_inference_geos",
                                                                            "default_inference_geo"))
    return orgs, wss, policies, AuditEvent.objects.count()


def flag_as_before_the_rule(org, **fields):
    """A legacy opt-out flagged before SPEC's "in force at once" rule: the flag set on the row
    directly, nothing migrated (as the rows the command exists for)."""
    Organization.objects.filter(pk=org.pk).update(legacy_opt_out=True, **fields)
    org.refresh_from_db()
    return org


@pytest.fixture
def legacy(db):
    """A legacy opt-out org, not migrated yet, with three workspaces (one archived)."""
    org = make_org(name="Fjord Shipping")
    actor = actor_for(primary_owner(org).user)
    open_ws = residency_services.workspace_create(actor=actor, organization=org, name="Logistics")
    both = residency_services.workspace_create(actor=actor, organization=org, name="Customs",
                                     data_residency={"allowed_inference_geos": ["global", "us"]})
    done = residency_services.workspace_create(actor=actor, organization=org, name="Already US",
                                     data_residency={"allowed_inference_geos": ["us"], "default_inference_geo": "us"})
    gone = residency_services.workspace_create(actor=actor, organization=org, name="Gone")
    residency_services.workspace_archive(actor=actor, workspace=gone)
    return flag_as_before_the_rule(org), open_ws, both, done, gone


def test_dry_run_lists_changes_and_changes_nothing(legacy):
    org = legacy[0]
    other = make_org(name="Regular")
    before = snapshot()
    out = run("--dry-run")
    assert snapshot() == before
    assert "Dry run" in out
    assert f"[1/1] Fjord Shipping ({org.pk}): would lock US-only inference on (legacy_opt_out)" in out
    assert 'would set the data residency policy to allowed ["us"], default "us"' in out
    assert 'would set 2 workspaces (Logistics, Customs) to allowed ["us"], default "us"' in out
    assert "would migrate 1 (2 workspaces)" in out and "nothing was changed" in out
    assert other.pk not in out


def test_migration_locks_restricts_and_audits_once(legacy):
    org, open_ws, both, done, gone = legacy
    regular = make_org(name="Regular")
    regular_events = AuditEvent.objects.filter(organization=regular).count()
    out = run()
    assert (f"[1/1] Fjord Shipping ({org.pk}): locked US-only inference on (legacy_opt_out); set the data residency "
            'policy to allowed ["us"], default "us"; set 2 workspaces') in out
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
        ("data_residency_policy.updated", org.pk),
        ("workspace.updated", open_ws.pk),
        ("workspace.updated", both.pk),
    ]
    for event in events:
        assert (event.actor_type, event.actor_id, event.actor_label) == ("system", "", "legacy opt-out migration")
    assert events[0].before == {"us_only": False, "lock_reason": None}
    assert events[0].after == {"us_only": True, "lock_reason": "legacy_opt_out"}
    assert events[1].before == {"allowed_inference_geos": "unrestricted", "default_inference_geo": "global"}
    assert events[1].after == {"allowed_inference_geos": ["us"], "default_inference_geo": "us"}
    assert events[2].before == {"data_residency": {"allowed_inference_geos": "unrestricted",
                                                   "default_inference_geo": "global"}}
    assert events[2].after == {"data_residency": {"allowed_inference_geos": ["us"], "default_inference_geo": "us"}}
    assert events[3].before == {"data_residency": {"allowed_inference_geos": ["global", "us"],
                                                   "default_inference_geo": "global"}}
    assert events[3].after == {"data_residency": {"allowed_inference_geos": ["us"], "default_inference_geo": "us"}}
    policy = DataResidencyPolicy.objects.get(organization=org)
    assert (policy.allowed_inference_geos, policy.default_inference_geo, policy.locked) == (["us"], "us", False)
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
    org = make_org(name="Cedar", lock_reason="contract")
    ws = residency_services.workspace_create(actor=actor_for(primary_owner(org).user), organization=org,
                                             name="Contracts")
    org = flag_as_before_the_rule(org, lock_reason="legacy_opt_out")
    count = AuditEvent.objects.filter(organization=org).count()
    out = run()
    assert "locked US-only" not in out and "set 1 workspace (Contracts)" in out
    assert AuditEvent.objects.filter(organization=org).count() == count + 2  # the policy, the workspace
    ws.refresh_from_db()
    assert ws.allowed_inference_geos == ["us"]


def test_contract_lock_is_kept(db):
    org = flag_as_before_the_rule(make_org(name="Borealis", lock_reason="contract"))
    out = run()
    org.refresh_from_db()
    assert org.lock_reason == "contract" and "kept its existing contract lock" in out


@pytest.mark.parametrize("plan", ["team", "enterprise_seat"])
def test_other_plans_get_the_policy_and_workspaces_but_no_lock(db, plan):
    org = make_org(name="Small", plan=plan)
    ws = residency_services.workspace_create(actor=actor_for(primary_owner(org).user), organization=org, name="W")
    org = flag_as_before_the_rule(org)
    out = run()
    org.refresh_from_db()
    ws.refresh_from_db()
    assert org.lock_reason is None and not org.us_only_inference and "locked US-only" not in out
    assert DataResidencyPolicy.objects.get(organization=org).allowed_inference_geos == ["us"]
    assert ws.allowed_inference_geos == ["us"] and ws.default_inference_geo == "us"


def test_owners_may_include_global_again_and_a_rerun_does_not_undo_it(legacy):
    org = legacy[0]
    run()
    owner = actor_for(primary_owner(org).user)
    residency_services.data_residency_policy_set(actor=owner, organization=org, values={
        "allowed_inference_geos": ["global", "us"]})
    residency_services.workspace_update(actor=owner, workspace=legacy[1], data_residency={
        "allowed_inference_geos": ["global", "us"], "default_inference_geo": "global"})
    before = snapshot()
    assert "already migrated, nothing to change" in run()
    assert snapshot() == before


def test_no_legacy_orgs(db):
    make_org(name="Regular")
    assert "0 legacy opt-out organizations: migrated 0 (0 workspaces), 0 already migrated." in run()


def test_only_operators_may_migrate(legacy):
    org = legacy[0]
    with pytest.raises(PermissionDenied):
        legacy_optout_migrate(actor=actor_for(primary_owner(org).user), organization=org)


def test_a_legacy_opt_out_flagged_now_is_in_force_from_its_first_request(db, api, key_for):
    """SPEC §2: no API request of it routes global while it waits for the command."""
    org = make_org(name="Fjord", legacy_opt_out=True)
    org.refresh_from_db()
    assert (org.lock_reason, org.us_only_inference) == ("legacy_opt_out", True)
    owner = primary_owner(org)
    ws = residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="New")
    assert (ws.allowed_inference_geos, ws.default_inference_geo) == (["us"], "us")
    client = api(key_for(owner))
    answer = client.post("/v1/residency/decisions", {"workspace_id": ws.pk, "model": "claude-opus-4-6"},
                         format="json").json()
    assert answer["routing_geo"] == "us"
    apps = client.post("/v1/residency/decisions", {"organization_id": org.pk, "surface": "apps",
                                                   "model": "claude-opus-4-6"}, format="json").json()
    assert apps["routing_geo"] == "us"
    assert "already migrated" in run()


def test_seed_demo_legacy_orgs_are_migrated(db):
    call_command("seed_demo", stdout=StringIO())
    fjord = Organization.objects.get(name="Fjord Shipping")
    assert fjord.legacy_opt_out and fjord.lock_reason == "legacy_opt_out" and fjord.us_only_inference
    out = run()
    assert "Fjord Shipping" in out and "already migrated" in out
