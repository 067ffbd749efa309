"""Emails to the people who answer for residency (SPEC §8): every owner and Privacy: manage
member, for each change request and its outcome, and for every residency change made without a
request; linking to the console page; sent after commit, and a mail server that fails never fails
the change (the message waits for `send_pending_email`)."""

import socket
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client

from orgs.models import OutgoingEmail
from residency import services
from residency.models import ChangeRequest
from tests.factories import actor_for, add_member, api_key_for, primary_owner
from tests.orgs.matrix import build_people
from tests.residency.helpers import workspace

pytestmark = pytest.mark.django_db

BASE = "https://console.example.test"
ANSWER_FOR_RESIDENCY = ("primary_owner", "owner", "privacy_manage")


@pytest.fixture(autouse=True)
def console_address(settings):
    settings.CONSOLE_BASE_URL = BASE


@pytest.fixture
def people(org):
    people = build_people(org)
    services.inference_residency_set(actor=actor_for(people["primary_owner"].user), organization=org, us_only=True)
    services.approval_settings_set(actor=actor_for(people["primary_owner"].user), organization=org,
                                   loosening_requires_approval=True)
    return people


def addressees(mails):
    return sorted(address for mail in mails for address in mail.to)


def emails_of(people, *who):
    return sorted(people[w].user.email for w in who)


def test_a_request_emails_everyone_who_answers_for_residency_with_a_link(org, people, mailoutbox,
                                                                        django_capture_on_commit_callbacks):
    people["owner"].user.first_name, people["owner"].user.last_name = "Bo", "Lind"
    people["owner"].user.save()
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        held = services.inference_residency_set(actor=actor_for(people["owner"].user), organization=org,
                                                us_only=False)
    assert isinstance(held, ChangeRequest)
    assert addressees(mailoutbox) == emails_of(people, *ANSWER_FOR_RESIDENCY)
    mail = mailoutbox[0]
    assert mail.subject == "[Acme] Approval needed: US-only inference"
    assert "Bo Lind asked to change US-only inference in Acme" in mail.body
    assert "US-only inference: on -> off" in mail.body
    assert f"{BASE}/settings/privacy/change-requests/{held.pk}/" in mail.body
    assert "expires unapproved at" in mail.body
    # the link opens the request for a recipient
    client = Client()
    client.force_login(people["privacy_manage"].user)
    assert client.get(f"/settings/privacy/change-requests/{held.pk}/").status_code == 200


def test_each_outcome_is_emailed(org, people, mailoutbox, django_capture_on_commit_callbacks):
    owner = people["primary_owner"]
    held = services.inference_residency_set(actor=actor_for(owner.user), organization=org, us_only=False)
    twin = services.inference_residency_set(actor=actor_for(owner.user), organization=org, us_only=False)
    rejected = services.inference_residency_set(actor=actor_for(owner.user), organization=org, us_only=False)
    approver = actor_for(people["owner"].user)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.change_request_reject(actor=approver, organization=org, change_request=rejected,
                                       reason="Wait for the contract")
    assert addressees(mailoutbox) == emails_of(people, *ANSWER_FOR_RESIDENCY)
    assert mailoutbox[0].subject == "[Acme] US-only inference: rejected"
    assert "Reason: Wait for the contract" in mailoutbox[0].body
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.change_request_approve(actor=approver, organization=org, change_request=held)
    assert [m.subject for m in mailoutbox] == ["[Acme] US-only inference: approved and applied"] * 3
    assert f"by {people['owner'].user.display_name}" in mailoutbox[0].body
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Exception, match="changed"):
        services.change_request_approve(actor=approver, organization=org, change_request=twin)
    assert [m.subject for m in mailoutbox] == ["[Acme] US-only inference: not applied"] * 3
    assert "changed after it was asked" in mailoutbox[0].body


def test_with_approvals_off_every_residency_change_is_emailed(org, owner, mailoutbox,
                                                             django_capture_on_commit_callbacks):
    viewer = add_member(org, "privacy_view")
    manager = add_member(org, "privacy_manage")
    ws = workspace(org, "Prod")
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.inference_residency_set(actor=actor_for(owner.user), organization=org, us_only=True)
    assert addressees(mailoutbox) == sorted([owner.user.email, manager.user.email])
    assert viewer.user.email not in addressees(mailoutbox)
    assert mailoutbox[0].subject == "[Acme] US-only inference changed"
    assert "US-only inference: off -> on" in mailoutbox[0].body
    assert f"{BASE}/settings/privacy/data-residency/" in mailoutbox[0].body
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.workspace_update(actor=actor_for(manager.user), workspace=ws,
                                  data_residency={"allowed_inference_geos": ["us"], "default_inference_geo": "us"})
    assert mailoutbox[0].subject == "[Acme] Workspace Prod changed"
    assert f"{BASE}/workspaces/{ws.pk}/" in mailoutbox[0].body
    assert "allowed geos: unrestricted -> us" in mailoutbox[0].body
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.workspace_update(actor=actor_for(manager.user), workspace=ws, name="Production")
    assert mailoutbox == []  # a name is not residency


def test_an_inactive_person_is_not_emailed(org, people, mailoutbox, django_capture_on_commit_callbacks):
    gone = people["privacy_manage"].user
    gone.is_active = False
    gone.save()
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.inference_residency_set(actor=actor_for(people["owner"].user), organization=org, us_only=False)
    assert addressees(mailoutbox) == emails_of(people, "primary_owner", "owner")


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


def test_a_failing_mail_server_does_not_fail_the_change(org, people, settings, api, mailoutbox,
                                                        django_capture_on_commit_callbacks, caplog):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS, settings.EMAIL_TIMEOUT = \
        "127.0.0.1", closed_port(), False, 2
    OutgoingEmail.objects.update(sent_at="2026-01-01T00:00:00Z")  # the fixtures' own notices are not ours
    asker = api(api_key_for(people["owner"]))
    approver = api(api_key_for(people["privacy_manage"]))
    with django_capture_on_commit_callbacks(execute=True):
        response = asker.post("/v1/organizations/inference_residency", {"us_only": False}, format="json")
    assert response.status_code == 202
    with django_capture_on_commit_callbacks(execute=True):
        approved = approver.post(f"/v1/organizations/change_requests/{response.json()['id']}/approve")
    assert approved.status_code == 200 and approved.json()["status"] == "applied"
    org.refresh_from_db()
    assert org.us_only_inference is False  # the change stands
    waiting = OutgoingEmail.objects.filter(sent_at__isnull=True)
    assert waiting.count() == 6 and all(row.attempts == 1 and row.last_error for row in waiting)
    assert "send_pending_email" in caplog.text and mailoutbox == []
    # the server is back: the command sends every one of them, once
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    call_command("send_pending_email", stdout=StringIO())
    assert len(mailoutbox) == 6 and not OutgoingEmail.objects.filter(sent_at__isnull=True).exists()
    assert sorted({m.subject for m in mailoutbox}) == ["[Acme] Approval needed: US-only inference",
                                                       "[Acme] US-only inference: approved and applied"]


def test_mail_waits_for_the_commit(org, people, mailoutbox, django_capture_on_commit_callbacks):
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.inference_residency_set(actor=actor_for(primary_owner(org).user), organization=org, us_only=False)
    assert mailoutbox == [] and len(callbacks) == 3
