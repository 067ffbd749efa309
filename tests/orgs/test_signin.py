"""Sign-in protection (SPEC §6): 10 failures for one account or from one address lock sign-in for
15 minutes, the right password too, on /login/ and /admin/, with a message, audited in each of
the account's organizations; idle sessions end."""

import time
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from orgs import services
from orgs.models import User
from tests.factories import PASSWORD, actor_for, make_org, primary_owner

pytestmark = pytest.mark.django_db


def sign_in(email, password, *, ip="10.0.0.1", path="/login/"):
    return Client(REMOTE_ADDR=ip).post(path, {"username": email, "password": password})


def locked(response):
    return response.status_code == 429 and "locked for 15 minutes" in response.content.decode()


def test_the_tenth_failure_locks_the_account_the_right_password_too_and_it_expires(org, owner):
    other = make_org(name="Second Org")
    services.member_add(actor=actor_for(primary_owner(other).user), organization=other, email=owner.user.email,
                        role_id="user")
    email = owner.user.email
    for n in range(9):
        assert sign_in(email.upper() if n % 2 else email, "wrong-password", ip=f"10.0.1.{n}").status_code == 200
    assert sign_in(email, PASSWORD, ip="10.0.2.1").status_code == 302  # nine failures: not locked yet
    assert sign_in(email, "wrong-password", ip="10.0.1.99").status_code in (200, 429)  # the tenth
    refused = sign_in(email, PASSWORD, ip="10.0.3.1")  # right password, fresh address: refused
    assert locked(refused)
    assert "Too many failed sign-in attempts" in refused.content.decode()
    # recorded once in each organization the account belongs to
    for organization in (org, other):
        events = AuditEvent.objects.filter(organization=organization, action="account.sign_in_locked_out")
        assert events.count() == 1
        event = events.get()
        assert event.outcome == "denied" and event.source == "console" and event.target_id == owner.user_id
        assert event.after == {"email": email, "failures": 10, "locked_minutes": 15}
        assert event.actor_label == "Sign-in protection"
    # 15 minutes later the lock is over
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=15, seconds=1))
    assert sign_in(email, PASSWORD, ip="10.0.3.1").status_code == 302


def test_ten_failures_from_one_address_lock_that_address(org, owner):
    for n in range(10):
        sign_in(f"nobody{n}@nowhere.test", "guess", ip="192.0.2.7")
    assert locked(sign_in(owner.user.email, PASSWORD, ip="192.0.2.7"))
    assert sign_in(owner.user.email, PASSWORD, ip="192.0.2.8").status_code == 302
    # no account was named that exists: nothing in any organization's log
    assert not AuditEvent.objects.filter(action="account.sign_in_locked_out").exists()


def test_the_django_admin_sign_in_is_locked_the_same_way(db):
    staff = User.objects.create_superuser(email="staff@residency.test", password="staff-password-2026")
    for _ in range(10):
        sign_in(staff.email, "wrong", path="/admin/login/", ip="198.51.100.1")
    refused = sign_in(staff.email, "staff-password-2026", path="/admin/login/", ip="198.51.100.2")
    assert locked(refused)
    # and the console sign-in of the same account too
    assert locked(sign_in(staff.email, "staff-password-2026", ip="198.51.100.3"))


def test_a_lockout_of_an_admin_sign_in_is_recorded_as_coming_from_the_admin(org, owner):
    for _ in range(10):
        sign_in(owner.user.email, "wrong", path="/admin/login/", ip="203.0.113.5")
    event = AuditEvent.objects.get(organization=org, action="account.sign_in_locked_out")
    assert event.source == "admin" and event.ip == "203.0.113.5"


def test_forwarded_for_cannot_dodge_the_address_lock(org, owner):
    for n in range(10):
        Client(REMOTE_ADDR="192.0.2.50", HTTP_X_FORWARDED_FOR=f"10.9.9.{n}").post(
            "/login/", {"username": f"x{n}@nowhere.test", "password": "guess"})
    assert locked(Client(REMOTE_ADDR="192.0.2.50", HTTP_X_FORWARDED_FOR="10.9.9.200").post(
        "/login/", {"username": owner.user.email, "password": PASSWORD}))


def test_sign_in_takes_the_email_in_any_case(org, owner):
    assert sign_in(owner.user.email.upper(), PASSWORD).status_code == 302


def test_sessions_end_after_the_idle_timeout(console, owner):
    assert settings.SESSION_IDLE_TIMEOUT == 12 * 3600 and settings.SESSION_COOKIE_AGE == 12 * 3600
    client = console(owner.user)
    assert client.get("/").status_code == 200
    session = client.session
    session["_last_seen"] = int(time.time()) - 12 * 3600 - 5
    session.save()
    response = client.get("/members/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?") and "idle=1" in response[
        "Location"]
    assert client.get("/").status_code == 302  # signed out


def test_an_active_session_is_renewed_at_most_once_a_minute(console, owner, django_assert_num_queries):
    client = console(owner.user)
    client.get("/")
    session = client.session
    session["_last_seen"] = int(time.time()) - 61
    session.save()
    client.get("/")
    assert client.session["_last_seen"] >= int(time.time()) - 2
    expiry = client.session.get_expiry_date()
    assert expiry > timezone.now() + timedelta(hours=11, minutes=58)
