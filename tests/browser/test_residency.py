"""The data residency page in headless Chromium: the real forms, the real menu."""

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, add_member, make_org, primary_owner

pytestmark = pytest.mark.browser


def test_owner_turns_us_only_on_through_the_confirmation_and_it_persists(login, live_server):
    org = make_org(plan="enterprise_usage", name="Acme")
    page = login(primary_owner(org).user.email, PASSWORD)
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Data residency", exact=True).click()
    expect(page.get_by_role("heading", name="Data residency", exact=True)).to_be_visible()
    switch = page.get_by_role("switch", name="US-only inference")
    expect(switch).to_have_attribute("aria-checked", "false")
    expect(switch).to_be_enabled()

    switch.click()
    expect(page.get_by_role("heading", name="Turn on US-only inference?")).to_be_visible()
    expect(page.get_by_text("1.1x standard API rates")).to_be_visible()
    expect(page.get_by_text("connectors and third-party services")).to_be_visible()
    page.get_by_role("button", name="Turn on US-only inference").click()

    expect(page.get_by_role("status")).to_contain_text("from now on, new requests from the Claude apps run in the United States")
    expect(page.get_by_role("status")).to_contain_text("Some apps may take a moment")
    page.reload()
    switch = page.get_by_role("switch", name="US-only inference")
    expect(switch).to_have_attribute("aria-checked", "true")
    expect(page.get_by_role("table")).to_contain_text("Turned it on")
    org.refresh_from_db()
    assert org.us_only_inference is True


def test_cancel_on_the_confirmation_changes_nothing(login, live_server):
    org = make_org(plan="enterprise_usage", name="Acme")
    page = login(primary_owner(org).user.email, PASSWORD)
    page.goto(f"{live_server.url}/settings/privacy/data-residency/")
    page.get_by_role("switch", name="US-only inference").click()
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("switch", name="US-only inference")).to_have_attribute("aria-checked", "false")
    org.refresh_from_db()
    assert org.us_only_inference is False


def test_view_only_member_sees_the_control_disabled(login, live_server):
    org = make_org(plan="enterprise_usage", name="Acme")
    viewer = add_member(org, "privacy_view")
    page = login(viewer.user.email, PASSWORD)
    page.get_by_role("link", name="Data residency", exact=True).click()
    switch = page.get_by_role("switch", name="US-only inference")
    expect(switch).to_be_visible()
    expect(switch).to_be_disabled()
    expect(page.get_by_text("You can see this setting but not change it.")).to_be_visible()


def test_locked_organization_shows_it_on_disabled_with_the_reason(login, live_server):
    org = make_org(plan="enterprise_usage", name="Borealis", lock_reason="contract")
    page = login(primary_owner(org).user.email, PASSWORD)
    page.get_by_role("link", name="Data residency", exact=True).click()
    switch = page.get_by_role("switch", name="US-only inference")
    expect(switch).to_have_attribute("aria-checked", "true")
    expect(switch).to_be_disabled()
    expect(page.get_by_text("part of your organization's contract")).to_be_visible()


def test_team_plan_owner_does_not_find_it(login, live_server):
    org = make_org(plan="team", name="Echo")
    page = login(primary_owner(org).user.email, PASSWORD)
    nav = page.get_by_role("navigation", name="Console")
    expect(nav.get_by_role("link", name="Members")).to_be_visible()
    expect(nav.get_by_role("link", name="Data residency", exact=True)).to_have_count(0)
    page.goto(f"{live_server.url}/settings/privacy/data-residency/")
    expect(page.get_by_text("US-only inference is available on usage-based Enterprise plans")).to_be_visible()
    expect(page.get_by_role("switch")).to_have_count(0)
