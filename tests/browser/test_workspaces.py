import pytest
from playwright.sync_api import expect

from orgs.models import Workspace
from residency import services as residency_services
from tests.factories import PASSWORD, actor_for, make_org, primary_owner


@pytest.mark.browser
def test_owner_restricts_a_workspace_to_us_and_the_default_only_offers_us(login, live_server):
    org = make_org(name="Acme Browser")
    owner = primary_owner(org)
    ws = residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="Production")
    page = login(owner.user.email, PASSWORD)
    page.goto(f"{live_server.url}/workspaces/")
    page.get_by_role("link", name="Production").click()
    expect(page.get_by_role("heading", name="Data residency")).to_be_visible()
    default = page.get_by_label("Default inference geo")
    expect(default.locator("option")).to_have_text(["global", "us"])

    page.get_by_label("United States (us)").check()  # picking a geo switches to "Only these geos"
    expect(page.get_by_label("Only these geos:")).to_be_checked()
    expect(default.locator("option")).to_have_text(["us"])
    expect(default).to_have_value("us")

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved data residency for Production")
    ws.refresh_from_db()
    assert ws.allowed_inference_geos == ["us"] and ws.default_inference_geo == "us"
    # after the reload, the page still offers only us
    expect(page.get_by_label("Default inference geo").locator("option")).to_have_text(["us"])
    # and widening again offers both
    page.get_by_label("Unrestricted (any geo, including ones added later)").check()
    expect(page.get_by_label("Default inference geo").locator("option")).to_have_text(["global", "us"])
    assert Workspace.objects.get(pk=ws.pk).default_inference_geo == "us"


@pytest.mark.browser
def test_archive_with_confirmation_in_the_browser(login, live_server):
    org = make_org(name="Acme Archive")
    owner = primary_owner(org)
    ws = residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="Old")
    page = login(owner.user.email, PASSWORD)
    page.goto(f"{live_server.url}/workspaces/{ws.pk}/")
    page.get_by_role("link", name="Archive workspace…").click()
    page.get_by_label("I understand that archiving Old is permanent").check()
    page.get_by_role("button", name="Archive workspace").click()
    expect(page.get_by_role("status")).to_contain_text("Workspace Old archived")
    ws.refresh_from_db()
    assert ws.is_archived
