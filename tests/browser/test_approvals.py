"""Four-eyes approval in headless Chromium (SPEC §8): one owner asks to turn US-only inference off,
another owner approves it in a second browser, the change is applied and the audit log names both."""

import pytest
from playwright.sync_api import expect

from orgs.models import Organization
from residency import services
from tests.factories import PASSWORD, actor_for, add_member, make_org, primary_owner

pytestmark = pytest.mark.browser


def named(membership, first, last):
    membership.user.first_name, membership.user.last_name = first, last
    membership.user.save()
    return membership.user


def sign_in(page, base, email):
    page.goto(f"{base}/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    return page


def test_one_owner_asks_another_approves_and_the_log_names_both(login, page, browser, live_server,
                                                               no_csp_violations):
    org = make_org(plan="enterprise_usage", name="Acme")
    ana = named(primary_owner(org), "Ana", "Ruiz")
    bo = named(add_member(org, "owner"), "Bo", "Lind")
    services.inference_residency_set(actor=actor_for(ana), organization=org, us_only=True)

    # Ana turns approvals on, then asks to turn US-only inference off
    login(ana.email, PASSWORD)
    nav = page.get_by_role("navigation", name="Console")
    nav.get_by_role("link", name="Approvals").click()
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("status")).to_contain_text("Approval of loosening changes is now on")
    nav.get_by_role("link", name="Data residency", exact=True).click()
    page.get_by_role("switch", name="US-only inference").click()
    expect(page.get_by_text("This needs approval.")).to_be_visible()
    page.get_by_role("button", name="Ask to turn off US-only inference").click()
    expect(page.get_by_role("status")).to_contain_text("Sent for approval")
    expect(page.get_by_role("heading", name="US-only inference")).to_contain_text("Waiting for approval")
    expect(page.get_by_role("link", name="Approve…")).to_have_count(0)  # never her own
    assert Organization.objects.get(pk=org.pk).us_only_inference is True

    # Bo, in a browser of his own, sees it waiting and approves it
    context = browser.new_context()
    other = context.new_page()
    other.on("console", lambda msg: no_csp_violations.append(msg.text)
             if msg.type == "error" and "Content Security Policy" in msg.text else None)
    sign_in(other, live_server.url, bo.email)
    banner = other.get_by_role("note")
    expect(banner).to_contain_text("1 change waiting for approval")
    banner.get_by_role("link", name="US-only inference").click()
    expect(other.get_by_text("Asked by")).to_be_visible()
    expect(other.locator(".changes").first).to_contain_text("on → off")
    other.get_by_role("link", name="Approve…").click()
    expect(other.get_by_role("heading", name="Approve Ana Ruiz's change to US-only inference?")).to_be_visible()
    other.get_by_role("button", name="Approve change").click()
    expect(other.get_by_role("status")).to_contain_text("Change request approved and applied")
    expect(other.get_by_role("heading", name="US-only inference")).to_contain_text("Approved and applied")
    context.close()

    # Ana sees the change applied, and the audit log names both of them
    nav.get_by_role("link", name="Data residency", exact=True).click()
    expect(page.get_by_role("switch", name="US-only inference")).to_have_attribute("aria-checked", "false")
    expect(page.get_by_role("note")).to_have_count(0)  # nothing waits any more
    nav.get_by_role("link", name="Audit log").click()
    change = page.locator("table.audit-table tbody tr", has_text="turned US-only inference off")
    expect(change).to_have_count(1)
    expect(change).to_contain_text("Bo Lind")
    expect(change).to_contain_text("requested by Ana Ruiz")
    expect(page.locator("table.audit-table tbody tr", has_text="Bo Lind approved Ana Ruiz's change")).to_have_count(1)
    assert Organization.objects.get(pk=org.pk).us_only_inference is False
