"""Two-factor sign-in (SPEC §6): enrolment with a QR code, sign-in with a code or a recovery code,
and the primary owner's requirement for members who manage an area."""

import re
import time

import pytest
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEvent
from orgs import services
from tests.factories import PASSWORD, actor_for, add_member

pytestmark = pytest.mark.django_db


def code_for(device, drift=0):
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + drift * device.step
    return f"{totp.token():06d}"


def unthrottle():
    """django-otp slows a device down after a wrong code (1 s, doubling); tests do not wait."""
    from django_otp.plugins.otp_static.models import StaticDevice

    for model in (TOTPDevice, StaticDevice):
        model.objects.update(throttling_failure_count=0, throttling_failure_timestamp=None)


def password_sign_in(email, password=PASSWORD):
    client = Client()
    response = client.post("/login/", {"username": email, "password": password})
    assert response.status_code == 302
    return client


def enrol(client):
    page = client.get("/account/two-factor/setup/")
    assert page.status_code == 200 and "<svg" in page.content.decode()
    device = TOTPDevice.objects.get(user=page.wsgi_request.user, confirmed=False)
    secret = re.search(r'id="totp-secret">([^<]+)<', page.content.decode()).group(1)
    assert len(secret.replace(" ", "")) == 32  # the key in base32, to type by hand
    done = client.post("/account/two-factor/setup/", {"code": code_for(device)})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z0-9]+)</code></li>", done.content.decode())
    assert len(codes) == 10
    return TOTPDevice.objects.get(pk=device.pk), codes


def test_enrol_then_sign_in_with_a_code_or_a_recovery_code(org, owner):
    client = password_sign_in(owner.user.email)
    device, codes = enrol(client)
    assert device.confirmed
    event = AuditEvent.objects.get(organization=org, action="account.two_factor_changed")
    assert event.after == {"email": owner.user.email, "enabled": True} and event.actor_user_id == owner.user_id

    # a new sign-in: the password alone opens nothing
    client = password_sign_in(owner.user.email)
    for path in ("/", "/members/", "/api-keys/", "/admin/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/account/two-factor/verify/"), path
    api = client.get("/v1/organizations/me")
    assert api.status_code == 401 and "two-factor" in api.json()["error"]["message"]
    assert client.post("/account/two-factor/verify/", {"code": "000000", "next": "/members/"}).status_code == 400
    unthrottle()
    ok = client.post("/account/two-factor/verify/", {"code": code_for(device, drift=1), "next": "/members/"})
    assert ok.status_code == 302 and ok["Location"] == "/members/"
    assert client.get("/members/").status_code == 200
    assert client.get("/v1/organizations/me").status_code == 200

    # a recovery code works once
    client = password_sign_in(owner.user.email)
    assert client.post("/account/two-factor/verify/", {"code": codes[0]}).status_code == 302
    assert client.get("/").status_code == 200
    client = password_sign_in(owner.user.email)
    assert client.post("/account/two-factor/verify/", {"code": codes[0]}).status_code == 400


def test_a_next_url_elsewhere_is_not_followed(org, owner):
    client = password_sign_in(owner.user.email)
    device, _ = enrol(client)
    client = password_sign_in(owner.user.email)
    response = client.post("/account/two-factor/verify/", {"code": code_for(device, drift=1),
                                                          "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/"


def test_turning_off_needs_a_code_and_is_refused_while_required(org, owner):
    client = password_sign_in(owner.user.email)
    device, _ = enrol(client)
    client.post("/account/two-factor/turn-off/", {"code": "123456"})
    assert TOTPDevice.objects.filter(pk=device.pk).exists()
    unthrottle()
    services.organization_two_factor_requirement_set(actor=actor_for(owner.user), organization=org, required=True)
    client.post("/account/two-factor/turn-off/", {"code": code_for(device, drift=1)})
    assert TOTPDevice.objects.filter(pk=device.pk).exists()
    services.organization_two_factor_requirement_set(actor=actor_for(owner.user), organization=org, required=False)
    client.post("/account/two-factor/turn-off/", {"code": code_for(device, drift=1)})
    assert not TOTPDevice.objects.filter(user=owner.user).exists()
    assert AuditEvent.objects.filter(organization=org, action="account.two_factor_changed",
                                     after__enabled=False).exists()


def test_only_the_primary_owner_sets_the_requirement_and_it_is_audited(org, owner):
    admin = add_member(org, "owner")
    as_owner = Client()
    as_owner.force_login(admin.user)
    assert as_owner.post("/settings/security/", {"require_two_factor": "on"}).status_code == 403
    org.refresh_from_db()
    assert not org.require_two_factor
    as_primary = Client()
    as_primary.force_login(owner.user)
    assert "Require two-factor sign-in" in as_primary.get("/settings/security/").content.decode()
    assert as_primary.post("/settings/security/", {"require_two_factor": "on"}).status_code == 302
    org.refresh_from_db()
    assert org.require_two_factor
    event = AuditEvent.objects.get(organization=org, action="organization.two_factor_requirement_changed")
    assert (event.before, event.after, event.actor_user_id) == (
        {"require_two_factor": False}, {"require_two_factor": True}, owner.user_id)


def test_a_member_who_manages_an_area_is_sent_to_enrolment_before_anything_else(org, owner):
    manager, plain = add_member(org, "privacy_manage"), add_member(org, "user")
    services.organization_two_factor_requirement_set(actor=actor_for(owner.user), organization=org, required=True)
    client = password_sign_in(manager.user.email)
    for path in ("/", "/workspaces/", "/settings/security/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"].startswith("/account/two-factor/setup/"), path
    page = client.get("/account/two-factor/setup/")
    assert "requires two-factor sign-in" in page.content.decode()
    enrol(client)
    assert client.get("/workspaces/").status_code == 200
    # a member who manages nothing is not asked
    assert password_sign_in(plain.user.email).get("/").status_code == 200


def test_a_requirement_reaches_a_session_already_signed_in_within_a_minute(org, owner):
    manager = add_member(org, "privacy_manage")
    client = password_sign_in(manager.user.email)
    assert client.get("/").status_code == 200
    services.organization_two_factor_requirement_set(actor=actor_for(owner.user), organization=org, required=True)
    session = client.session
    session["_last_seen"] = int(time.time()) - 61
    session.save()
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/account/two-factor/setup/")
