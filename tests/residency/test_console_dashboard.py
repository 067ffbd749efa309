"""The Overview page as a residency dashboard (SPEC §5), and what the US-only page, the New workspace
form, the workspace confirmation and the usage page now say about the organization policy, the API
and the cost of a change. Each panel as each role; query counts pinned at 1 and many workspaces."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from audit.models import AuditEvent
from orgs.models import Organization, Workspace
from residency import services
from tests.factories import actor_for, add_member, make_org, primary_owner
from tests.orgs.matrix import build_people, console_client
from tests.residency.helpers import member_with, page_text, priced_usage, workspace

pytestmark = pytest.mark.django_db

HOME = "/"
US_ONLY = "/settings/privacy/data-residency/"
CREATE = "/workspaces/new/"
US = {"allowed_inference_geos": ["us"], "default_inference_geo": "us"}
PANELS = ("apps-panel", "policy-panel", "outside-policy-panel", "outside-us-panel", "spend-panel", "changes-panel")


def panels(response):
    html = response.content.decode()
    return {p for p in PANELS if f'id="{p}"' in html}


def panel(response, name):
    html = response.content.decode()
    start = html.index(">", html.index(f'id="{name}"')) + 1
    return page_text(html[start:html.index("</section>", start)])


@pytest.fixture
def people(org):
    return build_people(org)


# --- the dashboard --------------------------------------------------------------------------------

SEES = {
    "primary_owner": set(PANELS), "owner": set(PANELS),
    "privacy_manage": set(PANELS) - {"spend-panel"},
    "privacy_view": set(PANELS) - {"spend-panel"},
    "privacy_none": {"spend-panel"},  # the shorthand role holds Billing: view only
    "auditor": {"changes-panel"},  # the whole log, so its residency changes too
    "admin": set(), "user": set(),
}


@pytest.mark.parametrize("who", sorted(SEES))
def test_each_role_sees_the_panels_it_may(people, org, who):
    response = console_client(people, who).get(HOME)
    assert response.status_code == 200
    assert panels(response) == SEES[who]
    assert "Your access" in page_text(response)


def test_anonymous_is_sent_to_sign_in(client):
    assert client.get(HOME)["Location"].startswith("/login/")


def test_the_dashboard_shows_the_residency_of_the_whole_organization(org, owner, console):
    actor = actor_for(owner.user)
    open_ws = workspace(org, "Open")
    us_ws = workspace(org, "Locked down", **US)
    services.inference_residency_set(actor=actor, organization=org, us_only=True)
    services.data_residency_policy_set(actor=actor, organization=org,
                                       values={"allowed_inference_geos": ["global", "us"],
                                               "default_inference_geo": "us"})
    member = add_member(org, "user")  # not a residency change
    response = console(owner.user).get(HOME)
    assert "US-only inference on" in panel(response, "apps-panel")
    assert "global, us only" in panel(response, "policy-panel") and "Default us" in panel(response, "policy-panel")
    outside = panel(response, "outside-policy-panel")
    assert outside.startswith("Workspaces outside the policy 1 ") and "Open" in outside and "Locked down" not in outside
    assert f'href="/workspaces/{open_ws.pk}/"' in response.content.decode()
    assert "1 of 2" in panel(response, "outside-us-panel") and us_ws.name not in panel(response, "outside-us-panel")
    changes = panel(response, "changes-panel")
    assert "changed the organization's data residency policy" in changes
    assert "turned US-only inference on" in changes
    assert member.user.email not in changes  # adding a member is not a residency change
    assert changes.index("data residency policy") < changes.index("US-only inference on")  # newest first
    assert "legacy-pending" not in response.content.decode()


def test_spend_by_geo_this_month_comes_from_the_rollups(org, owner, console):
    prod = workspace(org, "Prod")
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    last_month = today.replace(day=1) - timedelta(days=1)
    rows = [
        # this month: $5.50 in us (Opus 4.6, 1.1x), $5.00 global, $1.00 for an older model
        ("a", today, "claude-opus-4-6", "us", 1_000_000), ("b", today, "claude-opus-4-6", "global", 1_000_000),
        ("c", today, "claude-haiku-4-5", "not_available", 1_000_000),
        # last month: not this month's spend
        ("d", last_month, "claude-opus-4-6", "us", 9_000_000),
    ]
    services.usage_ingest(actor=actor_for(owner.user), organization=org, records=[
        {"id": i, "workspace_id": prod.pk, "model": m, "inference_geo": g, "service_tier": "standard",
         "occurred_at": when.isoformat(), "uncached_input_tokens": n} for i, when, m, g, n in rows])
    response = console(owner.user).get(HOME)
    spend = panel(response, "spend-panel")
    assert f"{today:%Y-%m}-01 to {today:%Y-%m-%d}" in spend
    assert "global 1,000,000 $5.00" in spend
    assert "us 1,000,000 $5.50 includes $0.50" in spend
    assert "not available (older models) 1,000,000 $1.00" in spend
    assert "Total $11.50" in spend
    # analytics alone sees no cost panel
    analyst = member_with(org, "analytics", {"analytics": "view"})
    assert "spend-panel" not in panels(console(analyst.user).get(HOME))


def test_a_legacy_opt_out_waiting_for_its_migration_says_so_until_it_is_migrated(db, client):
    org = make_org(plan="team", name="Oldtimer")
    Organization.objects.filter(pk=org.pk).update(legacy_opt_out=True)  # flagged before flagging migrated
    owner = primary_owner(org)
    client.force_login(owner.user)
    response = client.get(HOME)
    assert "Legacy opt-out: migration pending" in page_text(response)
    assert "migrate_legacy_optouts" in page_text(response) and "locks US-only" not in page_text(response)
    viewer_client = console_client({"v": add_member(org, "user")}, "v")
    assert "migration pending" not in page_text(viewer_client.get(HOME))  # not a privacy viewer
    services.legacy_optout_migrate(actor=actor_for(None), organization=Organization.objects.get(pk=org.pk))
    assert "migration pending" not in page_text(client.get(HOME))


def test_team_plan_shows_the_policy_but_no_us_only_setting(db, client):
    team = make_org(plan="team", name="Small")
    client.force_login(primary_owner(team).user)
    response = client.get(HOME)
    assert "apps-panel" not in panels(response) and "policy-panel" in panels(response)
    assert US_ONLY not in response.content.decode()


@pytest.mark.parametrize("count", [1, 40])
def test_dashboard_query_count_is_pinned(org, owner, console, django_assert_num_queries, count):
    actor = actor_for(owner.user)
    priced_usage(org, owner)
    for i in range(count):
        workspace(org, f"ws{i}")
    services.data_residency_policy_set(actor=actor, organization=org, values=US)
    client = console(owner.user)
    client.get(HOME)
    # session, user, membership, permissions, policy, workspaces outside it, geos, workspaces, catalog,
    # geo multipliers, rollups, history, org switcher, the pending change requests' banner
    with django_assert_num_queries(14):
        response = client.get(HOME)
    assert len(response.context["policy"].nonconforming) == count + 1


# --- the US-only page: the toggle governs the Claude apps, the API the policy -------------------------


def test_the_us_only_page_counts_workspaces_that_can_still_route_outside_the_us(org, owner, console):
    actor = actor_for(owner.user)
    open_ws = workspace(org, "Open")
    workspace(org, "US", **US)
    both = workspace(org, "Both", allowed_inference_geos=["global", "us"], default_inference_geo="us")
    client = console(owner.user)
    response = client.get(US_ONLY)
    text = page_text(response)
    assert "This setting governs the Claude apps only. Requests to the API follow your organization's data " \
           "residency policy" in text
    assert "2 of 3 active workspaces can still route API requests outside the US: Open, Both." in text
    html = response.content.decode()
    assert f'href="/workspaces/{open_ws.pk}/"' in html and f'href="/workspaces/{both.pk}/"' in html
    assert 'href="/settings/privacy/data-residency-policy/"' in html
    # the policy bounds them all at once
    services.data_residency_policy_set(actor=actor, organization=org, values=US)
    assert "0 of 3 active workspaces can route API requests outside the US" in page_text(client.get(US_ONLY))


def test_the_us_only_confirmation_shows_its_cost_or_that_it_needs_billing_access(org, owner, console):
    priced_usage(org, owner)
    text = page_text(console(owner.user).post(US_ONLY, {"us_only": "true"}))
    # the apps' $25.00 on Opus 4.6 becomes $27.50 in the US
    assert "Over the last 30 days this would have cost $2.50 more: $44.00 instead of the $41.50 billed." in text
    today = datetime.now(UTC).date()
    assert f"Period: {today - timedelta(days=29)} to {today} (UTC)" in text
    assert "Counted: Claude apps usage on Claude Opus 4.6, Claude Sonnet 4.6 and later models" in text
    manager = add_member(org, "privacy_manage")
    assert "The cost figure needs billing access" in page_text(console(manager.user).post(US_ONLY, {"us_only": "true"}))
    org.refresh_from_db()
    assert org.us_only_inference is False


# --- the New workspace form: residency in one step, from the policy ---------------------------------


def test_a_workspace_is_created_restricted_in_one_step(org, owner, console):
    response = console(owner.user).post(CREATE, {"name": "Research", "workspace_geo": "us",
                                                 "allowed_mode": "restricted", "allowed_geos": "us",
                                                 "default_inference_geo": "us"})
    ws = Workspace.objects.get(organization=org, name="Research")
    assert response.status_code == 302
    assert ws.data_residency == {"workspace_geo": "us", "allowed_inference_geos": ["us"], "default_inference_geo": "us"}
    # created that way: never unrestricted, not even for one audit record
    assert [(e.action, e.after["data_residency"]) for e in AuditEvent.objects.filter(target_id=ws.pk)] == [
        ("workspace.created", ws.data_residency)]


def test_the_form_starts_from_the_policy_and_refuses_what_falls_outside(org, owner, console):
    services.data_residency_policy_set(actor=actor_for(owner.user), organization=org, values=US)
    client = console(owner.user)
    html = client.get(CREATE).content.decode()
    assert re.search(r'<input type="radio" name="allowed_mode" value="restricted"[^>]*checked', html)
    assert re.search(r'<input type="checkbox" name="allowed_geos" value="us"[^>]*checked', html)
    assert not re.search(r'<input type="checkbox" name="allowed_geos" value="global"[^>]*checked', html)
    assert re.search(r'<option value="us" selected>', html)
    assert "allows inference in us only (default us)" in page_text(client.get(CREATE))
    response = client.post(CREATE, {"name": "Wide", "workspace_geo": "us", "allowed_mode": "unrestricted",
                                    "default_inference_geo": "us"})
    assert response.status_code == 400
    assert "The organization's data residency policy allows only United States (us); tick only those geos." in page_text(response)
    assert '<div id="id_allowed_geos_error">' in response.content.decode()
    assert not Workspace.objects.filter(name="Wide").exists()
    # a POST that leaves the geos out gets the policy's
    assert client.post(CREATE, {"name": "Plain", "workspace_geo": "us"}).status_code == 302
    assert Workspace.objects.get(name="Plain").allowed_inference_geos == ["us"]


# --- the workspace confirmation -------------------------------------------------------------------


def test_a_workspace_residency_change_is_confirmed_with_its_cost(org, owner, console):
    prod = priced_usage(org, owner)
    change = {"name": "Prod", "allowed_mode": "restricted", "allowed_geos": "us", "default_inference_geo": "us"}
    client = console(owner.user)
    text = page_text(client.post(f"/workspaces/{prod.pk}/", change))
    assert "Over the last 30 days this would have cost $1.55 more: $43.05 instead of the $41.50 billed." in text
    assert "Counted: This workspace's API usage on Claude Opus 4.6" in text
    prod.refresh_from_db()
    assert prod.allowed_inference_geos is None
    # a rename alone is saved at once
    assert client.post(f"/workspaces/{prod.pk}/", {"name": "Production", "allowed_mode": "unrestricted",
                                                   "default_inference_geo": "global"}).status_code == 302
    prod.refresh_from_db()
    assert prod.name == "Production"


def test_a_workspace_change_outside_the_policy_is_refused_before_any_confirmation(org, owner, console):
    ws = workspace(org, "Prod", **US)
    services.data_residency_policy_set(actor=actor_for(owner.user), organization=org, values=US)
    response = console(owner.user).post(f"/workspaces/{ws.pk}/", {
        "name": "Prod", "allowed_mode": "restricted", "allowed_geos": ["global", "us"], "default_inference_geo": "us"})
    assert response.status_code == 400 and "organization's data residency policy" in page_text(response)
    assert "What it would have cost" not in page_text(response)


# --- usage by surface -----------------------------------------------------------------------------


def test_the_usage_page_splits_api_and_claude_apps(org, owner, console):
    priced_usage(org, owner)
    client = console(owner.user)
    text = page_text(client.get("/usage/"))
    by_surface = text[text.index("By surface"):text.index("By inference geo")]
    # API: $5.00 + $1.00 + $10.50; the Claude apps: $25.00 (of $41.50)
    assert "API 5,000,000 83.3% $16.50 39.8% none" in by_surface
    assert "Claude apps 1,000,000 16.7% $25.00 60.2% none" in by_surface
    apps_only = page_text(client.get("/usage/", {"surface": "apps"}))
    by_surface = apps_only[apps_only.index("By surface"):apps_only.index("By inference geo")]
    assert "Claude apps 1,000,000 100.0% $25.00 100.0%" in by_surface and "API 5,000,000" not in by_surface
    response = client.get("/usage/", {"surface": "desktop"})
    assert "Choose API, Claude apps, or both." in page_text(response)


def test_a_delegated_admin_with_billing_but_no_privacy_view_is_told_what_the_figure_needs(org, owner, console):
    prod = priced_usage(org, owner)
    billing = member_with(org, "billing", {"billing": "view"})
    services.workspace_admin_set(actor=actor_for(owner.user), workspace=prod, membership=billing, admin=True)
    text = page_text(console(billing.user).post(f"/workspaces/{prod.pk}/", {
        "name": "Prod", "allowed_mode": "restricted", "allowed_geos": "us", "default_inference_geo": "us"}))
    assert "needs billing access with Privacy: Can view" in text and "$1.55" not in text
