"""Accounts no organization can take over (SPEC §6): one account per email, whatever its case;
invitations emailed to the addressee alone, single use, 72 hours; notices for existing accounts;
mail after commit, never failing the change; bootstrap_org never touches an existing account."""

import re
from datetime import timedelta
from io import StringIO
from unittest import mock

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings

from audit.models import AuditEvent
from orgs import services
from orgs.models import Membership, Organization, OutgoingEmail, User
from orgs.tokens import invitation_tokens
from tests.factories import actor_for, api_key_for, make_org, primary_owner

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "prey-chooses-a-long-one"
LINK = re.compile(r"https?://\S+(/accounts/invitation/\S+/\S+/)")


def invitation_link(message):
    found = LINK.search(message.body)
    assert found, message.body
    return found.group(1)


def choose_password(link, password=NEW_PASSWORD):
    """Follow an invitation link as its addressee; returns (client, response of the form post)."""
    person = Client()
    form = person.get(link, follow=True)  # Django swaps the token for a session-bound URL
    assert "Choose a password" in form.content.decode(), form.content.decode()[:500]
    done = person.post(form.redirect_chain[-1][0], {"new_password1": password, "new_password2": password})
    return person, done


def refused(link):
    return "This link no longer works" in Client().get(link, follow=True).content.decode()


def test_the_pre_hijack_story_end_to_end(api, mailoutbox, django_capture_on_commit_callbacks):
    attacker_org, victim_org = make_org(name="Attacker Co"), make_org(name="Victim Co")
    attacker = primary_owner(attacker_org).user
    mailoutbox.clear()

    # Organization A adds the email in the console: the page shows no link, anywhere
    a_console = Client()
    a_console.force_login(attacker)
    with django_capture_on_commit_callbacks(execute=True):
        added = a_console.post("/members/add/", {"email": "Prey@Victim.test", "role": "user"}, follow=True)
    assert added.status_code == 200 and "We emailed them an invitation" in added.content.decode()
    prey = User.objects.get(email="prey@victim.test")
    assert not prey.has_usable_password()
    a_key = api_key_for(primary_owner(attacker_org))
    seen_by_a = [added.content.decode(), a_console.get(f"/members/{prey.pk}/").content.decode(),
                 a_console.get("/members/").content.decode(),
                 api(a_key).get(f"/v1/organizations/users/{prey.pk}").content.decode(),
                 api(a_key).get("/v1/organizations/users").content.decode()]
    for text in seen_by_a:
        assert "/accounts/invitation/" not in text and invitation_tokens.make_token(prey) not in text
    # ... the invitation went to the addressee alone
    assert [m.to for m in mailoutbox] == [["prey@victim.test"]]
    first_link = invitation_link(mailoutbox[0])
    assert "Attacker Co" in mailoutbox[0].subject

    # Organization B adds the same email over REST, as an owner: same account, no link in the answer
    with django_capture_on_commit_callbacks(execute=True):
        response = api(api_key_for(primary_owner(victim_org))).post(
            "/v1/organizations/users", {"email": "PREY@victim.TEST", "role": "owner"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["email"] == "prey@victim.test" and response.json()["id"] == prey.pk
    assert "/accounts/invitation/" not in response.content.decode()
    assert User.objects.filter(email__iexact="prey@victim.test").count() == 1
    # no password yet, so the person gets a fresh invitation: to them again, never to B
    assert [m.to for m in mailoutbox] == [["prey@victim.test"], ["prey@victim.test"]]
    second_link = invitation_link(mailoutbox[1])

    # The addressee follows the link from their mailbox and chooses a password
    person, done = choose_password(first_link)
    assert done.status_code == 302 and "password_set=1" in done["Location"]
    # used once: refused the second time, and every other link made before is dead too
    assert refused(first_link) and refused(second_link)

    # B's member signs in (any case) and has sole control: only their password works
    signed_in = Client().post("/login/", {"username": "Prey@VICTIM.test", "password": NEW_PASSWORD})
    assert signed_in.status_code == 302 and signed_in["Location"] == "/"
    prey.refresh_from_db()
    assert prey.check_password(NEW_PASSWORD)
    # a third organization adding them now only notifies them: no link, no credentials
    third = make_org(name="Third Co")
    with django_capture_on_commit_callbacks(execute=True):
        services.member_add(actor=actor_for(primary_owner(third).user), organization=third,
                            email="prey@victim.test", role_id="admin")
    notice = mailoutbox[-1]
    assert notice.to == ["prey@victim.test"] and "/accounts/invitation/" not in notice.body
    assert "your existing account" in notice.body
    prey.refresh_from_db()
    assert prey.check_password(NEW_PASSWORD)
    assert set(Membership.objects.filter(user=prey).values_list("organization__name", flat=True)) == {
        "Attacker Co", "Victim Co", "Third Co"}


def test_an_invitation_expires_after_72_hours(org, owner, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.member_add(actor=actor_for(owner.user), organization=org, email="late@acme.test", role_id="user")
    link = invitation_link(mailoutbox[-1])
    assert "expires in 72 hours" in mailoutbox[-1].body
    real_now = invitation_tokens._now()
    with mock.patch.object(invitation_tokens, "_now", return_value=real_now + timedelta(hours=71, minutes=59)):
        assert not refused(link)
    with mock.patch.object(invitation_tokens, "_now", return_value=real_now + timedelta(hours=72, minutes=1)):
        assert refused(link)
    # still unused, so within the 72 hours it works once
    _, done = choose_password(link)
    assert done.status_code == 302


def test_the_invitation_password_follows_the_password_rules(org, owner, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.member_add(actor=actor_for(owner.user), organization=org, email="weak@acme.test", role_id="user")
    person = Client()
    form = person.get(invitation_link(mailoutbox[-1]), follow=True)
    for weak in ("short-pass", "12345678901234", "password12345", "weak@acme.test1"):
        response = person.post(form.redirect_chain[-1][0], {"new_password1": weak, "new_password2": weak})
        assert response.status_code == 200, weak  # refused, the form again
    assert not User.objects.get(email="weak@acme.test").has_usable_password()


def test_all_four_password_validators_with_a_12_character_minimum():
    user = User(email="someone@acme.test")
    for weak, reason in (("abcdefghijk", "too short"), ("123456789012345", "entirely numeric"),
                         ("password1234", "too common"), ("someone@acme.test", "too similar")):
        with pytest.raises(ValidationError) as exc:
            validate_password(weak, user=user)
        assert any(reason in m for m in exc.value.messages), (weak, exc.value.messages)
    validate_password("a-perfectly-fine-passphrase", user=user)


def test_a_failed_send_never_fails_the_change_and_the_command_retries_it(
        org, owner, mailoutbox, django_capture_on_commit_callbacks, caplog):
    with mock.patch("django.core.mail.EmailMessage.send", side_effect=ConnectionRefusedError("smtp down")):
        with django_capture_on_commit_callbacks(execute=True):
            membership = services.member_add(actor=actor_for(owner.user), organization=org,
                                             email="later@acme.test", role_id="user")
    assert Membership.objects.filter(pk=membership.pk).exists()  # the change stands
    pending = OutgoingEmail.objects.get(user=membership.user)
    assert pending.sent_at is None and pending.attempts == 1 and "smtp down" in pending.last_error
    assert "send_pending_email" in caplog.text and mailoutbox == []
    waiting = OutgoingEmail.objects.filter(sent_at__isnull=True).count()  # the fixture's own notices too
    out = StringIO()
    call_command("send_pending_email", stdout=out)
    assert f"Sent {waiting} pending email" in out.getvalue()
    pending.refresh_from_db()
    assert pending.sent_at is not None and pending.last_error == ""
    later = [m for m in mailoutbox if m.to == ["later@acme.test"]]
    assert len(later) == 1 and invitation_link(later[0])
    call_command("send_pending_email", stdout=out)  # nothing left: nothing sent twice
    assert len(mailoutbox) == waiting


def test_mail_is_sent_only_after_the_change_commits(org, owner, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.member_add(actor=actor_for(owner.user), organization=org, email="commit@acme.test", role_id="user")
    assert mailoutbox == [] and len(callbacks) == 1


def test_one_account_per_email_whatever_the_case(org, owner, django_capture_on_commit_callbacks):
    other = make_org(name="Other")
    services.member_add(actor=actor_for(owner.user), organization=org, email="Mixed.Case@Acme.test", role_id="user")
    services.member_add(actor=actor_for(primary_owner(other).user), organization=other,
                        email="MIXED.case@acme.TEST", role_id="user")
    assert User.objects.filter(email__iexact="mixed.case@acme.test").count() == 1
    user = User.objects.get(email="mixed.case@acme.test")
    assert Membership.objects.filter(user=user).count() == 2
    with pytest.raises(ValidationError, match="already a member"):
        services.member_add(actor=actor_for(owner.user), organization=org, email="MIXED.CASE@ACME.TEST", role_id="user")


def test_emails_are_stored_lowercased_by_the_database_too(db):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(pk=User.objects.create_user(email="x@acme.test").pk).update(email="X@acme.test")


def test_the_migration_lowercases_existing_rows_and_refuses_case_twins():
    import importlib

    migration = importlib.import_module("orgs.migrations.0008_lowercase_emails")

    class Rows:
        def __init__(self, rows):
            self.rows = dict(rows)

        def values_list(self, *fields):
            return list(self.rows.items())

        def filter(self, pk):
            rows = self.rows

            class One:
                def update(self, email):
                    rows[pk] = email
            return One()

    class Apps:
        def __init__(self, rows):
            self.model = type("User", (), {"objects": Rows(rows)})

        def get_model(self, app, name):
            return self.model

    apps = Apps({"user_1": "Ana@Acme.test", "user_2": "bo@acme.test"})
    migration.lowercase_emails(apps, None)
    assert apps.model.objects.rows == {"user_1": "ana@acme.test", "user_2": "bo@acme.test"}
    with pytest.raises(RuntimeError, match="user_1 and user_2"):
        migration.lowercase_emails(Apps({"user_1": "ana@acme.test", "user_2": "ANA@acme.test"}), None)


def test_bootstrap_refuses_a_password_for_an_existing_account_and_creates_nothing(org, owner):
    owner.user.set_password("the-owners-own-password")
    owner.user.save()
    counts = (Organization.objects.count(), Membership.objects.count(), AuditEvent.objects.count())
    with pytest.raises(CommandError, match="already exists"):
        call_command("bootstrap_org", "--name", "Hijack", "--plan", "enterprise_usage",
                     "--owner-email", owner.user.email.title(), "--owner-password", "attacker-chosen-pass", "--json",
                     stdout=StringIO())
    assert (Organization.objects.count(), Membership.objects.count(), AuditEvent.objects.count()) == counts
    owner.user.refresh_from_db()
    assert owner.user.check_password("the-owners-own-password")


def test_bootstrap_for_an_existing_account_in_another_case_uses_it_and_notifies(
        org, owner, mailoutbox, django_capture_on_commit_callbacks):
    import json

    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("bootstrap_org", "--name", "Second", "--plan", "team",
                     "--owner-email", owner.user.email.upper(), "--json", stdout=out)
    assert json.loads(out.getvalue())["owner_user_id"] == owner.user_id
    assert mailoutbox[-1].to == [owner.user.email] and "/accounts/invitation/" not in mailoutbox[-1].body


def test_bootstrap_for_a_new_account_without_password_emails_an_invitation(
        mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("bootstrap_org", "--name", "Fresh", "--plan", "team", "--owner-email", "New.Owner@Fresh.test",
                     "--json", stdout=StringIO())
    assert mailoutbox[-1].to == ["new.owner@fresh.test"]
    _, done = choose_password(invitation_link(mailoutbox[-1]))
    assert done.status_code == 302


def test_bootstrap_refuses_a_weak_password_for_a_new_account(db):
    with pytest.raises(CommandError, match="too short"):
        call_command("bootstrap_org", "--name", "Weak", "--plan", "team", "--owner-email", "w@weak.test",
                     "--owner-password", "short", "--json", stdout=StringIO())
    assert not Organization.objects.filter(name="Weak").exists()


# --- where mail goes, and the demo's mail page --------------------------------------------------


def test_email_settings_choose_the_backend(tmp_path):
    import subprocess
    import sys

    def backend(**env):
        import os

        code = "import django; django.setup(); from django.conf import settings; print(settings.EMAIL_BACKEND)"
        clean = {k: v for k, v in os.environ.items() if not k.startswith("EMAIL_")}
        return subprocess.run([sys.executable, "-c", code], env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings.base",
                              **env}, capture_output=True, text=True, check=True).stdout.strip()

    assert backend() == "core.mail.StderrEmailBackend"  # the terminal, on standard error
    assert backend(EMAIL_FILE_PATH=str(tmp_path)) == "django.core.mail.backends.filebased.EmailBackend"
    assert backend(EMAIL_HOST="smtp.example.com", EMAIL_FILE_PATH=str(tmp_path)) == (
        "django.core.mail.backends.smtp.EmailBackend")


def test_the_demo_mail_page_is_for_staff_outside_production_with_a_mail_folder(tmp_path, owner):
    (tmp_path / "20260101-000000-1.log").write_text("Subject: You are invited\n\nhello <script>x</script>")
    staff = User.objects.create_superuser(email="staff@residency.test", password="staff-password-2026")
    as_staff, as_owner = Client(), Client()
    as_staff.force_login(staff)
    as_owner.force_login(owner.user)
    file_backend = "django.core.mail.backends.filebased.EmailBackend"
    with override_settings(EMAIL_FILE_PATH=str(tmp_path), EMAIL_BACKEND=file_backend):
        page = as_staff.get("/dev/sent-mail/")
        assert page.status_code == 200 and "You are invited" in page.content.decode()
        assert "<script>x" not in page.content.decode()  # shown as text
        assert as_owner.get("/dev/sent-mail/").status_code == 404
        assert Client().get("/dev/sent-mail/").status_code == 302  # sign in first
        with override_settings(PRODUCTION=True):
            assert as_staff.get("/dev/sent-mail/").status_code == 404
    with override_settings(EMAIL_FILE_PATH=""):
        assert as_staff.get("/dev/sent-mail/").status_code == 404
