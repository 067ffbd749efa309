"""Two-factor enrolment and sign-in in Chromium, the API docs and the Django admin under the
Content-Security-Policy (the autouse fixture fails any test that sees a violation)."""

import re
import time

import pytest
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from orgs.models import User
from tests.factories import PASSWORD, make_org, primary_owner


def totp_code(device, drift=0):
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + drift * device.step
    return f"{totp.token():06d}"


@pytest.mark.browser
def test_two_factor_enrolment_and_sign_in(login, live_server):
    owner = primary_owner(make_org(name="Acme"))
    page = login(owner.user.email, PASSWORD)
    expect(page.get_by_role("heading", name="Acme")).to_be_visible()
    page.get_by_role("link", name="Two-factor sign-in").click()
    page.get_by_role("link", name="Set up two-factor sign-in").click()
    expect(page.get_by_role("img", name="QR code for your authenticator app")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text()
    assert re.fullmatch(r"[A-Z2-7]{4}( [A-Z2-7]{4}){7}", secret)
    device = TOTPDevice.objects.get(user=owner.user, confirmed=False)
    page.get_by_role("textbox", name="Code").fill(totp_code(device))
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("heading", name="Two-factor sign-in is on")).to_be_visible()
    assert page.locator("#recovery-codes li").count() == 10

    # sign out, sign in again: the password is not enough
    page.get_by_role("button", name="Sign out").click()
    login(owner.user.email, PASSWORD)
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    page.goto(f"{live_server.url}/members/")
    expect(page.get_by_role("heading", name="Enter your code")).to_be_visible()
    page.get_by_role("textbox", name="Code").fill(totp_code(TOTPDevice.objects.get(pk=device.pk), drift=1))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="Members")).to_be_visible()


@pytest.mark.browser
def test_a_member_required_to_use_two_factor_is_sent_to_enrolment(login, live_server):
    from orgs import services
    from tests.factories import actor_for, add_member

    org = make_org(name="Acme")
    services.organization_two_factor_requirement_set(actor=actor_for(primary_owner(org).user), organization=org,
                                                     required=True)
    manager = add_member(org, "privacy_manage")
    page = login(manager.user.email, PASSWORD)
    expect(page.get_by_role("heading", name="Set up two-factor sign-in")).to_be_visible()
    expect(page.get_by_text("requires two-factor sign-in")).to_be_visible()


@pytest.mark.browser
def test_the_api_docs_render_under_the_policy(page, live_server):
    page.goto(f"{live_server.url}/v1/docs/swagger")
    expect(page.get_by_text("Residency Console API").first).to_be_visible(timeout=15000)
    expect(page.locator(".opblock").first).to_be_visible()


@pytest.mark.browser
def test_the_django_admin_renders_under_the_policy(page, live_server):
    User.objects.create_superuser(email="staff@residency.test", password="staff-password-2026")
    page.goto(f"{live_server.url}/admin/")
    page.get_by_label("Email address").fill("staff@residency.test")
    page.get_by_label("Password").fill("staff-password-2026")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="Organizations").first).to_be_visible()
    page.goto(f"{live_server.url}/admin/orgs/organization/")
    expect(page.locator("#result_list, .paginator").first).to_be_visible()
