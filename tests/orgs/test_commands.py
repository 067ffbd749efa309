import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditEvent
from orgs.models import ApiKey, Membership, Organization

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_bootstrap_org_prints_the_contract_json_and_the_key_works(api):
    out = run("bootstrap_org", "--name", "Initech", "--plan", "enterprise_usage", "--owner-email", "peter@initech.test",
              "--owner-password", "s3cret-pass-for-peter", "--json")
    body = json.loads(out)
    assert set(body) == {"organization_id", "owner_user_id", "api_key"}
    org = Organization.objects.get(pk=body["organization_id"])
    assert Membership.objects.get(organization=org, role_id="primary_owner").user_id == body["owner_user_id"]
    assert api(body["api_key"]).get("/v1/organizations/me").json()["name"] == "Initech"
    assert ApiKey.objects.filter(membership__organization=org).count() == 1
    actions = list(AuditEvent.objects.filter(organization=org).order_by("seq").values_list("action", "source"))
    assert actions == [("organization.created", "command"), ("member.added", "command"), ("api_key.created", "command")]


def test_bootstrap_org_with_lock_and_legacy_flag():
    body = json.loads(run("bootstrap_org", "--name", "L", "--plan", "enterprise_usage", "--owner-email", "l@l.test",
                          "--lock-reason", "contract", "--legacy-opt-out", "--json"))
    org = Organization.objects.get(pk=body["organization_id"])
    assert (org.lock_reason, org.us_only_inference, org.legacy_opt_out) == ("contract", True, True)


def test_bootstrap_org_bad_email_is_a_clear_error_and_creates_nothing():
    with pytest.raises(CommandError, match="owner_email"):
        run("bootstrap_org", "--name", "X", "--plan", "team", "--owner-email", "not-an-email", "--json")
    assert not Organization.objects.exists()


def test_bootstrap_org_rejects_unknown_plan():
    with pytest.raises(CommandError, match="invalid choice"):
        run("bootstrap_org", "--name", "X", "--plan", "platinum", "--owner-email", "a@b.test", "--json")


def test_seed_demo_has_every_plan_and_role_and_is_rerunnable():
    out = run("seed_demo")
    assert "ana@acme.test" in out and "demo-pass-2026" in out
    plans = set(Organization.objects.values_list("plan", flat=True))
    assert plans == {"team", "enterprise_seat", "enterprise_usage"}
    roles = set(Membership.objects.values_list("role__name", flat=True))
    assert {"Primary owner", "Owner", "Admin", "User", "Privacy manager", "Privacy viewer", "Auditor"} <= roles
    assert set(Organization.objects.exclude(lock_reason=None).values_list("lock_reason", flat=True)) == {
        "contract", "legacy_opt_out"}
    count = Organization.objects.count()
    assert "already present" in run("seed_demo")
    assert Organization.objects.count() == count
    run("verify_audit_log")


def test_bootstrap_json_is_the_only_thing_on_standard_output_whatever_mail_does(tmp_path):
    """Tools parse `--json` output; with no mail configured, the invitation goes to standard error."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent.parent
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base",
           "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"}
    env.pop("EMAIL_HOST", None)
    env.pop("EMAIL_FILE_PATH", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=root, env=env, check=True)
    done = subprocess.run([sys.executable, "manage.py", "bootstrap_org", "--name", "X", "--plan", "team",
                           "--owner-email", "new@x.test", "--json"], cwd=root, env=env, capture_output=True,
                          text=True, check=True)
    assert set(json.loads(done.stdout)) == {"organization_id", "owner_user_id", "api_key"}
    assert "Subject:" in done.stderr  # the invitation, where a developer sees it
