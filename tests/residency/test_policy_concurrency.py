"""Two owners changing the organization policy at the same moment, each bringing every workspace
inside it (SPEC §5). The organization row lock taken by `data_residency_policy_set` serializes them:
whichever wins last, every workspace ends inside the final policy, and the audit chain holds every
change in order."""

import threading

from django.db import connection
from rest_framework.test import APIClient

from audit.chain import verify_chain
from audit.models import AuditEvent
from orgs.models import Workspace
from residency.selectors import nonconforming_workspaces, policy_info, policy_of
from tests.factories import add_member, api_key_for, make_org, primary_owner
from tests.residency.helpers import workspace

URL = "/v1/organizations/data_residency_policy"
ROUNDS = 4
POLICIES = {"us": {"allowed_inference_geos": ["us"], "default_inference_geo": "us"},
            "global": {"allowed_inference_geos": ["global"], "default_inference_geo": "global"}}


# Runs on both databases: the SQLite test database is a file, so the threads share it.
def test_two_owners_applying_policies_at_once_leave_every_workspace_inside_the_last(committed_db):
    org = make_org(plan="team", name="Race Co")
    for i in range(6):
        workspace(org, f"ws{i}")
    keys = {"us": api_key_for(primary_owner(org)), "global": api_key_for(add_member(org, "owner"))}
    barrier = threading.Barrier(2, timeout=30)
    failures = []

    def apply(name):
        try:
            client = APIClient()
            client.credentials(HTTP_X_API_KEY=keys[name])
            for _ in range(ROUNDS):
                barrier.wait()
                response = client.post(URL, {**POLICIES[name], "apply_to_workspaces": True}, format="json")
                if response.status_code != 200:
                    failures.append(f"{name}: {response.status_code} {response.content[:200]!r}")
        except Exception as exc:  # reported below; a thread must not die silently
            failures.append(f"{name}: {exc!r}")
            barrier.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=apply, args=(name,)) for name in POLICIES]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures

    final = policy_of(org)
    assert nonconforming_workspaces(org, policy_info(final)) == []
    assert {tuple(ws.allowed_inference_geos) for ws in Workspace.objects.filter(organization=org)} == {
        tuple(final.allowed_inference_geos)}
    changes = list(AuditEvent.objects.filter(organization=org, action="data_residency_policy.updated").order_by("seq"))
    for earlier, later in zip(changes, changes[1:], strict=False):
        # each change starts from where the previous one left the policy
        assert later.before["allowed_inference_geos"] == earlier.after["allowed_inference_geos"]
    assert changes[-1].after["allowed_inference_geos"] == final.allowed_inference_geos
    assert verify_chain(org).ok


# --- a workspace change validated just before a policy tightening lands --------------------------
# Deterministic interleaving: the tightening (with apply_to_workspaces) commits at the moment the
# workspace change has validated its input but not yet taken the organization lock.

def _tighten_in_between(monkeypatch, actor, org):
    from residency import services

    real = services._clean_workspace_extras

    def interleave(*args, **kwargs):
        monkeypatch.setattr(services, "_clean_workspace_extras", real)
        services.data_residency_policy_set(actor=actor, organization=org, values=POLICIES["us"],
                                           apply_to_workspaces=True)
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "_clean_workspace_extras", interleave)


def test_a_workspace_loosened_while_the_policy_tightens_is_refused(db, monkeypatch):
    import pytest
    from django.core.exceptions import ValidationError

    from residency import services
    from tests.factories import actor_for

    org = make_org(plan="team")
    actor = actor_for(primary_owner(org).user)
    ws = workspace(org, "W", allowed_inference_geos=["us"], default_inference_geo="us")
    _tighten_in_between(monkeypatch, actor, org)
    with pytest.raises(ValidationError) as refused:
        services.workspace_update(actor=actor, workspace=ws, data_residency={"allowed_inference_geos": ["global", "us"]})
    assert "organization's data residency policy (us)" in str(refused.value)
    ws.refresh_from_db()
    assert ws.allowed_inference_geos == ["us"]
    assert nonconforming_workspaces(org, policy_info(policy_of(org))) == []


def test_a_workspace_created_while_the_policy_tightens_starts_inside_it(db, monkeypatch):
    from residency import services
    from tests.factories import actor_for

    org = make_org(plan="team")
    actor = actor_for(primary_owner(org).user)
    _tighten_in_between(monkeypatch, actor, org)
    ws = services.workspace_create(actor=actor, organization=org, name="New")
    assert (ws.allowed_inference_geos, ws.default_inference_geo) == (["us"], "us")
    assert nonconforming_workspaces(org, policy_info(policy_of(org))) == []
