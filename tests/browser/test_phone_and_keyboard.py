"""The console on a phone and with the keyboard alone (issue 13), in Chromium.

Phone width is 390 px: the data pages fit, their actions are on screen, the usage chart's labels
are readable. Keyboard: a skip link, focus moved into each confirmation and back, every step
visibly focused; the US-only toggle, a workspace change, a policy change and an API key revoke done
with keys only.
"""

import pytest
from playwright.sync_api import expect

from orgs.models import ApiKey, Workspace
from residency.models import ChangeRequest
from residency.selectors import policy_of
from tests.browser.test_sweep import sign_in
from tests.browser.world import build_world
from tests.factories import PASSWORD, make_org, primary_owner

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def world():
    return build_world()


def overflow(page):
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def on_screen(page, locator):
    box = locator.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"]


# --- phone width ----------------------------------------------------------------------------------


def test_data_pages_fit_a_phone_and_their_actions_are_on_screen(page, live_server, world):
    ids = world.ids_for("primary_owner")
    sign_in(page, live_server.url, world.membership("primary_owner").user.email)
    page.set_viewport_size(PHONE)
    checks = [
        ("/members/", "link", "Manage"),
        ("/api-keys/", "link", "Revoke"),
        ("/roles/", "link", "Edit"),
        (f"/workspaces/{ids['workspace_id']}/", "button", "Remove"),
        ("/settings/privacy/data-residency-policy/", "button", "Review the change"),
        ("/settings/privacy/data-residency-policy/", "link", "Production"),  # outside the policy
        ("/workspaces/new/", "button", "Create workspace"),
        ("/", "link", "Bring them inside the policy"),
        ("/settings/privacy/change-requests/", "link", "Approve…"),
    ]
    for path, role, name in checks:
        page.goto(live_server.url + path)
        assert overflow(page) == 0, path
        action = page.get_by_role(role, name=name).first
        expect(action).to_be_visible()
        assert on_screen(page, action), (path, name)
    # the workspace id, a long unbroken string, wraps instead of pushing the page wider
    page.goto(f"{live_server.url}/workspaces/{ids['workspace_id']}/")
    assert on_screen(page, page.get_by_text(ids["workspace_id"]))


def test_usage_on_a_phone_cost_on_screen_and_chart_labels_readable(page, live_server, world):
    sign_in(page, live_server.url, world.membership("primary_owner").user.email)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/usage/")
    assert overflow(page) == 0
    by_geo = page.locator('section[aria-labelledby="geo-share"]')
    for row in by_geo.locator("tbody tr").all():  # each geo is a card: no blank 600 px rows
        assert row.bounding_box()["height"] < 400
        cost = row.locator('td[data-label="Cost"]')
        expect(cost).to_be_visible()
        assert on_screen(page, cost) and cost.inner_text().strip().startswith("$")
        assert cost.evaluate("e => getComputedStyle(e, '::before').content") == '"Cost"'  # labelled on a card
    # the chart drawn for phones is the one shown, and its labels are at least 10 px tall
    expect(page.locator('svg[data-chart="tokens"]')).to_be_hidden()
    narrow = page.locator('svg[data-chart="tokens-narrow"]')
    expect(narrow).to_be_visible()
    heights = narrow.locator("text.axis").evaluate_all("els => els.map(e => e.getBoundingClientRect().height)")
    assert heights and min(heights) >= 10, heights
    # the per-day table scrolls inside its own box, which the keyboard can reach
    box = page.get_by_role("region", name="Per-day table (scrolls sideways)")
    expect(box).to_have_attribute("tabindex", "0")


# --- keyboard ---------------------------------------------------------------------------------------


def focused(page):
    return page.evaluate(r"""() => { const e = document.activeElement;
        return {tag: e.tagName.toLowerCase(), id: e.id,
                text: (e.innerText || e.value || '').replace(/\s+/g, ' ').trim().slice(0, 80),
                label: e.getAttribute('aria-label') || (e.labels && e.labels[0] ? e.labels[0].innerText.trim() : ''),
                outline: getComputedStyle(e).outlineStyle, outlineWidth: parseFloat(getComputedStyle(e).outlineWidth)}; }""")


def assert_visibly_focused(page):
    state = focused(page)
    assert state["outline"] != "none" and state["outlineWidth"] >= 2, f"{state['tag']} {state['text']!r}: {state}"
    return state


def tab_until(page, matches, limit=30, key="Tab"):
    """Press Tab (or `key`) until the focused element matches; every stop must be visibly focused.
    Returns how many presses it took."""
    for presses in range(1, limit + 1):
        page.keyboard.press(key)
        state = assert_visibly_focused(page)
        if matches(state):
            return presses
    raise AssertionError(f"not reached in {limit} Tabs; last {focused(page)}")


def test_the_skip_link_is_first_and_lands_in_the_page(page, live_server, world):
    sign_in(page, live_server.url, world.membership("owner").user.email)
    page.goto(f"{live_server.url}/members/")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    assert_visibly_focused(page)
    assert on_screen(page, skip)
    page.keyboard.press("Enter")
    assert focused(page)["id"] == "main"
    # the next Tab is inside the page, not the menu
    page.keyboard.press("Tab")
    assert page.evaluate("document.getElementById('main').contains(document.activeElement)")


def test_us_only_toggle_with_the_keyboard_alone(page, live_server):
    org = make_org(plan="enterprise_usage", name="Keys Inc")
    sign_in(page, live_server.url, primary_owner(org).user.email)
    page.goto(f"{live_server.url}/settings/privacy/data-residency/")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # skip to the page
    presses = tab_until(page, lambda s: s["id"] == "us-only-switch")
    assert presses <= 2, presses
    page.keyboard.press("Space")
    # the confirmation has the focus: its question, then one Tab to the button
    page.wait_for_url("**/settings/privacy/data-residency/")
    expect(page.get_by_role("heading", name="Turn on US-only inference?")).to_be_focused()
    assert tab_until(page, lambda s: s["text"] == "Turn on US-only inference") == 1
    page.keyboard.press("Enter")
    # back on the page, on the switch, which now says on
    expect(page.get_by_role("status")).to_contain_text("US-only inference is on")
    switch = page.get_by_role("switch", name="US-only inference")
    expect(switch).to_be_focused()
    expect(switch).to_have_attribute("aria-checked", "true")
    org.refresh_from_db()
    assert org.us_only_inference is True
    # and cancelling from the keyboard comes back to the switch too, with nothing changed
    page.keyboard.press("Space")
    expect(page.get_by_role("heading", name="Turn off US-only inference?")).to_be_focused()
    tab_until(page, lambda s: s["text"] == "Cancel", limit=3)
    page.keyboard.press("Enter")
    expect(page.get_by_role("switch", name="US-only inference")).to_be_focused()
    org.refresh_from_db()
    assert org.us_only_inference is True


def test_a_workspace_change_with_the_keyboard_alone(page, live_server, world):
    ids = world.ids_for("primary_owner")
    sign_in(page, live_server.url, world.membership("primary_owner").user.email)
    page.goto(f"{live_server.url}/workspaces/{ids['workspace_id']}/")
    page.wait_for_load_state()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    tab_until(page, lambda s: s["label"] == "United States (us)")
    page.keyboard.press("Space")  # ticking a geo picks "Only these geos" (static/console/workspaces.js)
    tab_until(page, lambda s: s["label"] == "Default inference geo", limit=3)
    page.keyboard.press("ArrowDown")  # the default follows: only "United States (us)" is offered
    expect(page.get_by_label("Default inference geo")).to_have_value("us")
    tab_until(page, lambda s: s["text"] == "Save", limit=3)
    page.keyboard.press("Enter")
    # the change moves inference, so it is confirmed first (with its cost); the focus is on the question
    question = page.get_by_role("heading", name="Change where Production's inference runs?")
    expect(question).to_be_focused()
    # cancelling from the keyboard comes back to the Save button, with nothing changed
    tab_until(page, lambda s: s["text"] == "Cancel", limit=3)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Save", exact=True)).to_be_focused()
    assert Workspace.objects.get(pk=ids["workspace_id"]).allowed_inference_geos is None
    # again, and confirm: one Tab from the question to the button
    tab_until(page, lambda s: s["label"] == "United States (us)", limit=4, key="Shift+Tab")
    page.keyboard.press("Space")
    tab_until(page, lambda s: s["text"] == "Save", limit=3)
    page.keyboard.press("Enter")
    expect(question).to_be_focused()
    assert tab_until(page, lambda s: s["text"] == "Save data residency", limit=3) == 1
    page.keyboard.press("Enter")
    status = page.get_by_role("status")
    expect(status).to_contain_text("Saved data residency for Production")
    expect(status).to_be_focused()  # the result is where the focus is
    workspace = Workspace.objects.get(pk=ids["workspace_id"])
    assert workspace.allowed_inference_geos == ["us"] and workspace.default_inference_geo == "us"


def test_a_policy_change_with_the_keyboard_alone(page, live_server, world):
    """Acme's policy keeps API inference in the US; the owner opens it to any geo (cancelling once),
    which waits for approval."""
    sign_in(page, live_server.url, world.membership("primary_owner").user.email)
    page.goto(f"{live_server.url}/settings/privacy/data-residency-policy/")
    page.wait_for_load_state()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")

    def choose_unrestricted_and_review(key):
        tab_until(page, lambda s: s["label"] == "Only these geos:", key=key)
        page.keyboard.press("ArrowUp")  # the radio group: Unrestricted is the one above
        expect(page.get_by_label("Unrestricted (any geo, including ones added later)")).to_be_checked()
        tab_until(page, lambda s: s["text"] == "Review the change", limit=8)
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", name="Change the data residency policy?")).to_be_focused()

    choose_unrestricted_and_review("Tab")
    tab_until(page, lambda s: s["text"] == "Cancel", limit=3)
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Review the change")).to_be_focused()
    assert policy_of(world.acme).allowed_inference_geos == ["us"]
    choose_unrestricted_and_review("Shift+Tab")
    # Acme asks for approval of loosening changes: the change is sent, not saved
    assert tab_until(page, lambda s: s["text"] == "Send for approval", limit=3) == 1
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Sent for approval")
    expect(page.get_by_role("status")).to_be_focused()
    assert policy_of(world.acme).allowed_inference_geos == ["us"]
    assert ChangeRequest.objects.filter(organization=world.acme, status="pending",
                                        target_type="data_residency_policy").exists()


def test_a_change_request_confirmation_takes_the_focus_and_gives_it_back(page, live_server, world):
    ids = world.ids_for("primary_owner")
    sign_in(page, live_server.url, world.membership("primary_owner").user.email)
    page.goto(f"{live_server.url}/settings/privacy/change-requests/{ids['change_request_id']}/")
    page.wait_for_load_state()
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    tab_until(page, lambda s: s["text"] == "Reject…")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_be_focused()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Reject")
    tab_until(page, lambda s: s["text"] == "Cancel", limit=4)
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Reject…")).to_be_focused()
    assert ChangeRequest.objects.get(pk=ids["change_request_id"]).status == "pending"


def test_an_api_key_revoke_with_the_keyboard_alone(page, live_server, world):
    key = ApiKey.objects.get(name="Provisioning script", membership__organization=world.acme)
    sign_in(page, live_server.url, world.membership("primary_owner").user.email)
    page.goto(f"{live_server.url}/api-keys/")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    tab_until(page, lambda s: s["text"] == "Revoke Provisioning script")
    # cancel first: focus comes back to the same Revoke link
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Revoke API key “Provisioning script”?")).to_be_focused()
    tab_until(page, lambda s: s["text"] == "Cancel", limit=3)
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name="Revoke Provisioning script")).to_be_focused()
    # then revoke
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Revoke API key “Provisioning script”?")).to_be_focused()
    assert tab_until(page, lambda s: s["text"] == "Revoke key", limit=3) == 1
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("API key Provisioning script is revoked")
    expect(page.get_by_role("status")).to_be_focused()
    key.refresh_from_db()
    assert not key.is_active


# --- the rest of what a new person hits ------------------------------------------------------------


def test_sign_in_ignores_the_case_of_the_email(page, live_server):
    org = make_org(name="Case Co", owner_email="ana.ruiz@case.test")
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Email").fill("Ana.Ruiz@CASE.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Case Co")).to_be_visible()
    assert primary_owner(org).user.email == "ana.ruiz@case.test"


def test_privacy_none_has_no_workspaces_in_the_menu(page, live_server, world):
    sign_in(page, live_server.url, world.membership("privacy_none").user.email)
    menu = page.get_by_role("navigation", name="Console")
    expect(menu.get_by_role("link", name="Usage & cost")).to_be_visible()
    expect(menu.get_by_role("link", name="Workspaces")).to_have_count(0)
    expect(menu.get_by_role("link", name="Data residency")).to_have_count(0)


def test_a_deep_link_into_another_organization_offers_to_switch(page, live_server, world):
    owner = world.membership("owner")  # in Acme Research and Team Co
    workspace_id = world.ids_for("owner")["workspace_id"]
    sign_in(page, live_server.url, owner.user.email)
    page.get_by_label("Organization").select_option(label="Team Co")
    page.get_by_role("button", name="Switch").click()
    expect(page.get_by_role("status")).to_contain_text("Switched to Team Co")
    page.goto(f"{live_server.url}/workspaces/{workspace_id}/")
    offer = page.get_by_role("heading", name="This is in Acme Research")
    expect(offer).to_be_focused()
    page.get_by_role("button", name="Switch to Acme Research").click()
    expect(page.get_by_role("heading", name="Production")).to_be_visible()
    assert page.url.endswith(f"/workspaces/{workspace_id}/")
