"""The organization policy in headless Chromium (SPEC §5): the US-only toggle's confirmation with its
cost, a workspace created restricted in one step, the Overview dashboard, and a policy change
confirmed and applied to the workspaces outside it."""

import pytest
from playwright.sync_api import expect

from audit.models import AuditEvent
from orgs.models import Workspace
from residency import services
from residency.selectors import policy_of
from tests.factories import PASSWORD, actor_for, make_org, primary_owner
from tests.residency.helpers import priced_usage, workspace

pytestmark = pytest.mark.browser


def test_the_toggles_confirmation_shows_what_it_would_have_cost(login, live_server):
    org = make_org(plan="enterprise_usage", name="Acme")
    owner = primary_owner(org)
    priced_usage(org, owner)  # $25.00 of Claude apps usage on Opus 4.6 in global
    page = login(owner.user.email, PASSWORD)
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Data residency", exact=True).click()
    page.get_by_role("switch", name="US-only inference").click()
    expect(page.get_by_role("heading", name="Turn on US-only inference?")).to_be_visible()
    impact = page.get_by_role("note", name="What it would have cost")
    expect(impact).to_contain_text("Over the last 30 days this would have cost $2.50 more")
    expect(impact).to_contain_text("$44.00 instead of the $41.50 billed")
    expect(impact).to_contain_text("Counted: Claude apps usage")
    page.get_by_role("button", name="Turn on US-only inference").click()
    expect(page.get_by_role("status")).to_contain_text("from now on")
    org.refresh_from_db()
    assert org.us_only_inference is True


def test_a_workspace_is_created_restricted_in_one_step(login, live_server):
    org = make_org(plan="team", name="Acme Team")
    owner = primary_owner(org)
    page = login(owner.user.email, PASSWORD)
    page.get_by_role("navigation", name="Console").get_by_role("link", name="Workspaces").click()
    page.get_by_role("link", name="New workspace").click()
    page.wait_for_load_state()  # the page's script keeps the default within the allowed geos
    page.get_by_label("Name").fill("Research")
    expect(page.get_by_label("Unrestricted (any geo, including ones added later)")).to_be_checked()
    page.get_by_label("United States (us)").check()  # ticking a geo chooses "Only these geos"
    expect(page.get_by_label("Only these geos:")).to_be_checked()
    default = page.get_by_label("Default inference geo")
    expect(default.locator("option")).to_have_text(["United States (us)"])
    page.get_by_role("button", name="Create workspace").click()

    expect(page.get_by_role("status")).to_contain_text("Workspace Research created")
    expect(page.get_by_label("Only these geos:")).to_be_checked()
    expect(page.get_by_label("United States (us)")).to_be_checked()
    ws = Workspace.objects.get(organization=org, name="Research")
    assert ws.data_residency == {"workspace_geo": "us", "allowed_inference_geos": ["us"], "default_inference_geo": "us"}
    assert list(AuditEvent.objects.filter(target_id=ws.pk).values_list("action", flat=True)) == ["workspace.created"]


def test_the_dashboard_leads_to_the_policy_which_brings_workspaces_inside(login, live_server):
    org = make_org(plan="enterprise_usage", name="Acme")
    owner = primary_owner(org)
    prod = priced_usage(org, owner)
    workspace(org, "Inside", allowed_inference_geos=["us"], default_inference_geo="us")
    services.inference_residency_set(actor=actor_for(owner.user), organization=org, us_only=True)
    page = login(owner.user.email, PASSWORD)

    expect(page.get_by_role("region", name="Claude apps")).to_contain_text("US-only inference on")
    expect(page.get_by_role("region", name="Data residency policy (API)")).to_contain_text("Unrestricted")
    outside_us = page.get_by_role("region", name="Workspaces that can route outside the US")
    expect(outside_us).to_contain_text("1 of 2")
    expect(outside_us.get_by_role("link", name="Prod")).to_be_visible()
    expect(page.get_by_role("region", name="Spend by inference geo this month")).to_be_visible()
    expect(page.get_by_role("region", name="Recent residency changes")).to_contain_text("turned US-only inference on")

    page.get_by_role("link", name="Review the policy").click()
    expect(page.get_by_role("heading", name="Data residency policy", exact=True)).to_be_visible()
    page.wait_for_load_state()
    page.get_by_label("United States (us)").check()
    expect(page.get_by_label("Default inference geo").locator("option")).to_have_text(["United States (us)"])
    page.get_by_label("Bring workspaces outside the policy inside it now").check()
    page.get_by_role("button", name="Review the change").click()

    expect(page.get_by_role("heading", name="Change the data residency policy?")).to_be_visible()
    expect(page.locator("#outside-workspaces")).to_contain_text("Prod: unrestricted, default global → us, default us")
    expect(page.get_by_role("note", name="What it would have cost")).to_contain_text("$1.55 more")
    page.get_by_role("button", name="Save the policy").click()
    expect(page.get_by_role("status")).to_contain_text("Saved the data residency policy")
    expect(page.get_by_text("Every active workspace is inside the policy.")).to_be_visible()

    page.get_by_role("navigation", name="Console").get_by_role("link", name="Overview").click()
    expect(page.get_by_role("region", name="Workspaces that can route outside the US")).to_contain_text("0 of 2")
    expect(page.get_by_role("region", name="Data residency policy (API)")).to_contain_text("us only")
    prod.refresh_from_db()
    assert (prod.allowed_inference_geos, prod.default_inference_geo) == (["us"], "us")
    assert policy_of(org).allowed_inference_geos == ["us"]
