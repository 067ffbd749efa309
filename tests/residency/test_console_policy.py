"""Settings → Privacy → Data residency policy in the console (SPEC §5): role matrix with the audit
rows, the confirmation with its cost and the workspaces it concerns, apply to workspaces, locks,
invalid input, the menu, pinned query counts."""


import pytest
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from residency import services
from residency.selectors import policy_of
from tests.factories import SYSTEM, actor_for, add_member, make_org
from tests.orgs.matrix import build_people, console_client, expect
from tests.residency.helpers import member_with, page_text, priced_usage, workspace

pytestmark = pytest.mark.django_db

URL = "/settings/privacy/data-residency-policy/"
US = {"allowed_mode": "restricted", "allowed_geos": ["us"], "default_inference_geo": "us"}
OPEN = {"allowed_mode": "unrestricted", "default_inference_geo": "global"}


def events(org, action):
    return list(AuditEvent.objects.filter(organization=org, action=action).order_by("seq"))


@pytest.fixture
def people(org):
    return build_people(org)


def test_url_name():
    assert reverse("console:residency_policy") == URL


# --- role matrix ------------------------------------------------------------------------------

GET_STATUS = expect(404, primary_owner=200, owner=200, privacy_manage=200, privacy_view=200, other_org=200,
                    anonymous=302)


@pytest.mark.parametrize("who,status", GET_STATUS)
def test_page_role_matrix(people, org, who, status):
    response = console_client(people, who).get(URL)
    assert response.status_code == status
    html = page_text(response)
    if status == 200:
        assert "Data residency policy" in html and "Unrestricted (any geo)" in html
        disabled = who == "privacy_view"
        assert ("<fieldset disabled" in response.content.decode()) is disabled
        assert ("You can see the policy but not change it" in html) is disabled
        assert ("members whose custom role has Privacy: Can manage can change it" in " ".join(html.split())) is disabled
    if who == "other_org":
        assert "Other Co" in html and "Acme" not in html
    if status == 302:
        assert response["Location"].startswith("/login/")


POST_STATUS = expect(404, primary_owner=302, owner=302, privacy_manage=302, privacy_view=403, other_org=302,
                     anonymous=302)


@pytest.mark.parametrize("who,status", POST_STATUS)
def test_confirmed_change_role_matrix_and_audit(people, org, who, status):
    response = console_client(people, who).post(URL, {**US, "confirmed": "on"})
    assert response.status_code == status
    changed = who in ("primary_owner", "owner", "privacy_manage")
    updates, denials = events(org, "data_residency_policy.updated"), events(org, "data_residency_policy.change_denied")
    if changed:
        assert policy_of(org).allowed_inference_geos == ["us"]
        (event,) = updates
        assert (event.actor_user_id, event.source, event.ip) == (people[who].user_id, "console", "127.0.0.1")
        assert event.after == {"allowed_inference_geos": ["us"], "default_inference_geo": "us",
                               "apply_to_workspaces": False}
    else:
        assert policy_of(org) is None and not updates
    if who == "privacy_view":
        (denied,) = denials
        assert denied.actor_user_id == people[who].user_id and denied.outcome == "denied"
        assert denied.after == {"allowed_inference_geos": ["us"], "default_inference_geo": "us",
                                "apply_to_workspaces": False, "denied": "permission"}
        assert "Privacy: Can manage" in page_text(response)
    elif who in ("admin", "user", "privacy_none", "auditor"):
        (denied,) = denials
        assert (denied.actor_user_id, denied.after) == (people[who].user_id, {"denied": "permission"})
    else:
        assert not denials
    if who == "other_org":
        assert policy_of(people["other_org"].organization).allowed_inference_geos == ["us"]


def test_post_needs_csrf(org, owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner.user)
    assert client.post(URL, {**US, "confirmed": "on"}).status_code == 403
    assert policy_of(org) is None


# --- the confirmation ---------------------------------------------------------------------------


def test_a_change_is_confirmed_first_with_its_cost_and_the_workspaces_outside(org, owner, console):
    prod = priced_usage(org, owner)
    both = workspace(org, "Both", allowed_inference_geos=["global", "us"], default_inference_geo="us")
    workspace(org, "Inside", allowed_inference_geos=["us"], default_inference_geo="us")
    client = console(owner.user)
    before = AuditEvent.objects.count()
    response = client.post(URL, US)
    assert response.status_code == 200
    html = page_text(response)
    assert "Change the data residency policy?" in html
    # Opus $5.00 -> $5.50 and the batch $10.50 -> $11.55: $41.50 billed, $43.05 with the policy
    assert "Over the last 30 days this would have cost $1.55 more: $43.05 instead of the $41.50 billed." in html
    assert "API usage of every workspace on Claude Opus 4.6, Claude Sonnet 4.6 and later models" in html
    outside = html[html.index("Workspaces outside the new policy"):html.index("What it would have cost")]
    assert "will stay as they are" in outside and "Prod" in outside and "Both" in outside
    assert "Inside" not in outside
    assert f'href="/workspaces/{prod.pk}/"' in response.content.decode()
    assert 'name="confirmed" value="on"' in response.content.decode()
    assert AuditEvent.objects.count() == before and policy_of(org) is None  # nothing saved or recorded
    # confirming saves it, and says what stays outside
    done = client.post(URL, {**US, "confirmed": "on"}, follow=True)
    assert "Saved the data residency policy" in page_text(done) and "2 workspaces are outside it" in page_text(done)
    listed = page_text(done)[page_text(done).index("Workspaces outside the policy"):]
    assert "Prod" in listed and "Both" in listed
    both.refresh_from_db()
    assert both.allowed_inference_geos == ["global", "us"]  # never rewritten silently


def test_apply_to_workspaces_says_where_each_goes_and_brings_them_inside(org, owner, console):
    open_ws = workspace(org, "Open")
    both = workspace(org, "Both", allowed_inference_geos=["global", "us"], default_inference_geo="global")
    client = console(owner.user)
    html = page_text(client.post(URL, {**US, "apply_to_workspaces": "on"}))
    assert "will be brought inside it now" in html
    assert "Open: unrestricted, default global → us, default us" in html
    assert "Both: global, us, default global → us, default us" in html
    assert 'name="apply_to_workspaces" value="on"' in client.post(URL, {**US, "apply_to_workspaces": "on"}).content.decode()
    client.post(URL, {**US, "apply_to_workspaces": "on", "confirmed": "on"})
    for ws in (open_ws, both):
        ws.refresh_from_db()
        assert (ws.allowed_inference_geos, ws.default_inference_geo) == (["us"], "us")
    assert [e.target_id for e in events(org, "workspace.updated")] == [open_ws.pk, both.pk]
    assert events(org, "data_residency_policy.updated")[0].after["apply_to_workspaces"] is True
    assert "Every active workspace is inside the policy." in page_text(client.get(URL))


def test_without_billing_view_the_confirmation_says_the_figure_needs_billing_access(org, owner, console):
    priced_usage(org, owner)
    manager = add_member(org, "privacy_manage")
    html = page_text(console(manager.user).post(URL, US))
    assert "The cost figure needs billing access" in html and "$" not in html.split("What it would have cost")[1]
    both = member_with(org, "privacy and billing", {"privacy": "manage", "billing": "view"})
    assert "this would have cost $1.55 more" in page_text(console(both.user).post(URL, US))


def test_the_same_policy_again_changes_and_records_nothing(org, owner, console):
    client = console(owner.user)
    before = AuditEvent.objects.count()
    response = client.post(URL, OPEN, follow=True)
    assert "already says that; nothing changed" in page_text(response)
    assert AuditEvent.objects.count() == before


# --- locks, what a viewer sees, invalid input -----------------------------------------------------


def test_a_locked_policy_shows_why_and_refuses_the_owner(org, owner, console):
    services.data_residency_policy_set(actor=actor_for(owner.user), organization=org,
                                       values={"allowed_inference_geos": ["us"], "default_inference_geo": "us"})
    services.data_residency_policy_lock_set(actor=SYSTEM, organization=org, locked=True, reason="contract 42")
    client = console(owner.user)
    html = page_text(client.get(URL))
    assert "Locked by contract" in html and "part of your organization's contract" in html
    assert "<fieldset disabled" in client.get(URL).content.decode()
    response = client.post(URL, {**OPEN, "confirmed": "on"})
    assert response.status_code == 403 and "locked" in page_text(response)
    (denied,) = events(org, "data_residency_policy.change_denied")
    assert denied.after["denied"] == "locked:contract"
    # an unconfirmed POST is not asked to confirm either: the service refuses it at once
    assert client.post(URL, OPEN).status_code == 403
    assert policy_of(org).allowed_inference_geos == ["us"]


@pytest.mark.parametrize("data,field,words", [
    ({"allowed_mode": "restricted", "default_inference_geo": "us"}, "allowed_geos",
     "Tick at least one geo, or choose Unrestricted."),
    ({**US, "default_inference_geo": "global"}, "default_inference_geo",
     "global is not one of the allowed geos; choose the default from: us."),
    ({**US, "allowed_geos": ["mars"]}, "allowed_geos", "Unknown geo mars"),
    ({"default_inference_geo": "us"}, "allowed_mode", "Choose unrestricted or a set of geos."),
])
def test_invalid_input_is_a_400_next_to_the_field_and_records_nothing(org, owner, console, data, field, words):
    before = AuditEvent.objects.count()
    for confirmed in ({}, {"confirmed": "on"}):
        response = console(owner.user).post(URL, {**data, **confirmed})
        assert response.status_code == 400
        assert words in page_text(response)
        assert f'<div id="id_{field}_error">' in response.content.decode()
    assert AuditEvent.objects.count() == before and policy_of(org) is None


def test_invalid_input_from_someone_who_cannot_see_it_is_a_404_and_audited(org, console):
    hidden = add_member(org, "user")
    response = console(hidden.user).post(URL, {"allowed_mode": "sometimes"})
    assert response.status_code == 404
    (denied,) = events(org, "data_residency_policy.change_denied")
    assert (denied.actor_user_id, denied.after, denied.source) == (hidden.user_id, {"denied": "permission"},
                                                                   "console")


# --- the menu -------------------------------------------------------------------------------------


@pytest.mark.parametrize("plan,role", [("team", "owner"), ("enterprise_seat", "privacy_view"),
                                       ("enterprise_usage", "privacy_view")])
def test_the_menu_shows_the_page_on_every_plan(db, client, plan, role):
    other = make_org(plan=plan)
    client.force_login(add_member(other, role).user)
    assert f'href="{URL}"' in client.get("/api-keys/").content.decode()


@pytest.mark.parametrize("who", ["privacy_none", "user", "admin", "auditor"])
def test_no_privacy_access_means_no_menu_entry(people, who):
    assert URL not in console_client(people, who).get("/api-keys/").content.decode()


# --- query counts ---------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 40])
def test_page_and_confirmation_query_counts_are_pinned(org, owner, console, django_assert_num_queries, count):
    for i in range(count):
        workspace(org, f"ws{i}")  # unrestricted: outside any restricted policy
    services.data_residency_policy_set(actor=actor_for(owner.user), organization=org, values={
        "allowed_inference_geos": ["global", "us"], "default_inference_geo": "us"})
    client = console(owner.user)
    client.get(URL)
    # session, user, membership, permissions, policy, workspaces outside it, geos, history, org switcher,
    # the pending change requests' banner
    with django_assert_num_queries(10):
        response = client.get(URL)
    assert len(response.context["state"].nonconforming) == count
    # session, user, membership twice (current, then the service's), permissions, policy, workspaces
    # outside it, geos, the preview's workspaces; the impact: its access (membership, permissions), policy,
    # inference geos, workspace defaults, catalog, geo multipliers, rollups; the models it names; whether
    # approvals are on; org switcher
    with django_assert_num_queries(21):
        response = client.post(URL, US)
    assert response.status_code == 200 and len(response.context["outside"]) == count
