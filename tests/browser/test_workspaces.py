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
    page.wait_for_load_state()  # the page's script (deferred) runs before "load"; under load it can lag
    expect(page.get_by_role("heading", name="Data residency")).to_be_visible()
    default = page.get_by_label("Default inference geo")
    expect(default.locator("option")).to_have_text(["Global (global)", "United States (us)"])

    page.get_by_label("United States (us)").check()  # picking a geo switches to "Only these geos"
    expect(page.get_by_label("Only these geos:")).to_be_checked()
    expect(default.locator("option")).to_have_text(["United States (us)"])
    expect(default).to_have_value("us")

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Change where Production's inference runs?")).to_be_visible()
    expect(page.locator("#impact")).to_contain_text("Over the last 30 days this would have cost the same")
    page.get_by_role("button", name="Save data residency").click()
    expect(page.get_by_role("status")).to_contain_text("Saved data residency for Production")
    ws.refresh_from_db()
    assert ws.allowed_inference_geos == ["us"] and ws.default_inference_geo == "us"
    # after the reload, the page still offers only us
    expect(page.get_by_label("Default inference geo").locator("option")).to_have_text(["United States (us)"])
    # and widening again offers both
    page.get_by_label("Unrestricted (any geo, including ones added later)").check()
    expect(page.get_by_label("Default inference geo").locator("option")).to_have_text(["Global (global)", "United States (us)"])
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


@pytest.mark.browser
def test_no_geo_ticked_is_one_error_next_to_the_geos_and_the_default_keeps_its_value(login, live_server):
    org = make_org(name="Acme Invalid")
    owner = primary_owner(org)
    ws = residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="Production")
    page = login(owner.user.email, PASSWORD)
    page.goto(f"{live_server.url}/workspaces/{ws.pk}/")
    default = page.get_by_label("Default inference geo")
    default.select_option("us")
    page.get_by_label("Only these geos:").check()  # and no geo ticked
    expect(default.locator("option")).to_have_text(["Global (global)", "United States (us)"])  # never an empty select
    expect(default).to_have_value("us")
    page.get_by_label("Name").fill("Production EU")
    page.get_by_role("button", name="Save").click()
    page.wait_for_load_state()

    error = page.locator("#id_allowed_geos_error")
    expect(error).to_have_text("Tick at least one geo, or choose Unrestricted.")
    expect(page.locator(".field-error")).to_have_count(1)
    expect(page.get_by_label("United States (us)")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#allowed-geos")).to_have_attribute("aria-describedby", "allowed-geos-help id_allowed_geos_error")
    expect(page.get_by_label("Name")).to_have_value("Production EU")  # what was typed stays
    expect(page.get_by_label("Only these geos:")).to_be_checked()
    expect(page.get_by_label("Default inference geo")).to_have_value("us")
    # ticking a geo now offers only it, and the saved page says so
    page.get_by_label("United States (us)").check()
    expect(page.get_by_label("Default inference geo").locator("option")).to_have_text(["United States (us)"])
    page.get_by_role("button", name="Save").click()
    page.get_by_role("button", name="Save data residency").click()
    expect(page.get_by_role("status")).to_contain_text("Saved data residency for Production EU")
    ws.refresh_from_db()
    assert (ws.name, ws.allowed_inference_geos, ws.default_inference_geo) == ("Production EU", ["us"], "us")
