"""Settings → Privacy → Data residency in the console: role matrix, plans, locks, the
confirmation step, audit rows, the recent-changes panel and pinned query counts."""

from html import unescape

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from orgs.models import Organization
from residency import services as residency_services
from tests.factories import actor_for, add_member, make_org, primary_owner
from tests.orgs.matrix import build_people, console_client, expect

URL = "/settings/privacy/data-residency/"


@pytest.fixture
def people(org):
    return build_people(org)


def test_url_name_is_the_one_the_menu_links():
    assert reverse("console:residency") == URL


def page_text(response):
    """The HTML with whitespace runs collapsed, so phrases match across template line breaks."""
    return " ".join(unescape(response.content.decode()).split())


def events(org, action=None):
    qs = AuditEvent.objects.filter(organization=org).order_by("seq")
    return list(qs.filter(action=action) if action else qs)


# --- role matrix ------------------------------------------------------------------------------

GET_STATUS = expect(404, primary_owner=200, owner=200, privacy_manage=200, privacy_view=200,
                    other_org=200, anonymous=302)


@pytest.mark.parametrize("who,status", GET_STATUS)
def test_page_role_matrix(people, org, who, status):
    response = console_client(people, who).get(URL)
    assert response.status_code == status
    if status == 302:
        assert response["Location"].startswith("/login/")
    if who == "other_org":
        # their own organization's page: nothing of Acme's shows
        assert "Other Co" in response.content.decode() and "Acme" not in response.content.decode()


# Turning it on (confirmed): who succeeds, who is refused, and every refusal is audited.
POST_STATUS = expect(404, primary_owner=302, owner=302, privacy_manage=302, privacy_view=403,
                     other_org=302, anonymous=302)


@pytest.mark.parametrize("who,status", POST_STATUS)
def test_confirmed_turn_on_role_matrix(people, org, who, status):
    response = console_client(people, who).post(URL, {"us_only": "true", "confirmed": "on"})
    assert response.status_code == status
    org.refresh_from_db()
    if who in ("primary_owner", "owner", "privacy_manage"):
        assert org.us_only_inference is True
        [event] = events(org, "inference_residency.updated")
        assert event.actor_user_id == people[who].user_id
        assert (event.before, event.after, event.source) == ({"us_only": False}, {"us_only": True}, "console")
    else:
        assert org.us_only_inference is False
        assert not events(org, "inference_residency.updated")
    if who in ("privacy_view", "admin", "user", "privacy_none", "auditor"):
        [denied] = events(org, "inference_residency.change_denied")
        assert denied.outcome == "denied"
        assert denied.actor_user_id == people[who].user_id
        assert denied.before == {"us_only": False}
        assert denied.after == {"us_only": True, "denied": "permission"}
        assert denied.source == "console" and denied.ip == "127.0.0.1"
    if who == "other_org":
        assert Organization.objects.get(pk=people["other_org"].organization_id).us_only_inference is True


# --- what each level sees ---------------------------------------------------------------------


def test_manager_sees_an_enabled_switch_and_what_it_covers(people, org):
    html = page_text(console_client(people, "privacy_manage").get(URL))
    assert 'role="switch"' in html and 'aria-checked="false"' in html
    switch = html[html.index('role="switch"'):]
    assert "disabled" not in switch[: switch.index(">")]
    for text in ("Claude Code", "conversation titles and memory", "1.1x standard API rates",
                 "Claude Opus 4.6", "Claude Sonnet 4.6", "Seat fees don't change", "Connectors and third-party services",
                 "Data storage", "Recent changes"):
        assert text in html, text


def test_view_only_member_sees_it_disabled_and_who_can_change_it(people, org):
    html = page_text(console_client(people, "privacy_view").get(URL))
    switch = html[html.index('role="switch"'):]
    assert "disabled" in switch[: switch.index(">")]
    assert "Primary owners, owners, and members whose custom role has" in html
    assert "Can manage" in html


@pytest.mark.parametrize("who", ["privacy_none", "admin", "auditor", "user"])
def test_no_privacy_access_means_no_menu_entry(people, org, who):
    client = console_client(people, who)
    assert URL not in client.get("/").content.decode()


@pytest.mark.parametrize("who", ["primary_owner", "privacy_view"])
def test_menu_links_the_page_for_those_who_see_it(people, who):
    assert f'href="{URL}"' in console_client(people, who).get("/").content.decode()


# --- plans and locks --------------------------------------------------------------------------


@pytest.mark.parametrize("plan,label", [("team", "Team"), ("enterprise_seat", "Enterprise (seat-based)")])
def test_other_plans_explain_the_plan_requirement_with_404_and_no_menu(db, client, plan, label):
    other = make_org(plan=plan)
    client.force_login(primary_owner(other).user)
    response = client.get(URL)
    assert response.status_code == 404
    html = page_text(response)
    assert "US-only inference is available on usage-based Enterprise plans" in html
    assert f"on the {label} plan" in html
    assert 'role="switch"' not in html
    assert URL not in client.get("/").content.decode()
    # a crafted POST changes nothing and is not a residency change at all
    assert client.post(URL, {"us_only": "true", "confirmed": "on"}).status_code == 404
    other.refresh_from_db()
    assert other.us_only_inference is False


def test_usage_plan_shows_the_control(console, owner):
    assert console(owner.user).get(URL).status_code == 200


@pytest.mark.parametrize("reason,words", [
    ("contract", "part of your organization's contract"),
    ("legacy_opt_out", "opted out of global routing before this setting existed"),
])
def test_locked_is_on_disabled_with_the_reason_and_pricing_terms(db, client, reason, words):
    locked = make_org(plan="enterprise_usage", lock_reason=reason)
    po = primary_owner(locked)
    client.force_login(po.user)
    html = page_text(client.get(URL))
    assert 'aria-checked="true"' in html
    switch = html[html.index('role="switch"'):]
    assert "disabled" in switch[: switch.index(">")]
    assert words in html
    assert "existing pricing terms continue to apply" in html
    response = client.post(URL, {"us_only": "false", "confirmed": "on"})
    assert response.status_code == 403
    assert "locked" in response.content.decode()
    locked.refresh_from_db()
    assert locked.us_only_inference is True
    [denied] = events(locked, "inference_residency.change_denied")
    assert denied.after == {"us_only": False, "denied": f"locked:{reason}"}
    assert denied.actor_user_id == po.user_id


# --- the confirmation step --------------------------------------------------------------------


def test_turning_on_asks_for_confirmation_first_and_changes_nothing(console, owner, org):
    response = console(owner.user).post(URL, {"us_only": "true"})
    assert response.status_code == 200
    html = page_text(response)
    assert "Turn on US-only inference?" in html
    for text in ("servers in the United States", "Claude Code", "conversation titles and memory",
                 "1.1x standard API rates", "Older models are billed at the standard rate", "seat fees don't change",
                 "connectors and third-party services", "where your data is stored does not change"):
        assert text in html, text
    assert 'name="confirmed"' in html and "csrfmiddlewaretoken" in html
    org.refresh_from_db()
    assert org.us_only_inference is False
    assert not events(org, "inference_residency.updated")


def test_confirming_saves_audits_and_says_it_is_in_effect(console, owner, org):
    client = console(owner.user)
    response = client.post(URL, {"us_only": "true", "confirmed": "on"}, follow=True,
                           HTTP_USER_AGENT="Firefox/140", REMOTE_ADDR="203.0.113.9")
    # back on the page, at the switch (a keyboard user's focus returns there)
    assert response.redirect_chain == [(URL + "#us-only-switch", 302)]
    html = page_text(response)
    assert "US-only inference is on: from now on, new requests from the Claude apps run in the United States" in html
    assert "now on and in effect now" not in html
    assert "Some apps may take a moment" in html
    assert 'aria-checked="true"' in html
    org.refresh_from_db()
    assert org.us_only_inference is True
    [event] = events(org, "inference_residency.updated")
    assert event.actor_user_id == owner.user_id and event.actor_role == "Primary owner"
    assert (event.ip, event.user_agent, event.source) == ("203.0.113.9", "Firefox/140", "console")
    assert event.request_id.startswith("req_")


def test_turning_off_confirms_too(console, owner, org):
    client = console(owner.user)
    client.post(URL, {"us_only": "true", "confirmed": "on"})
    html = page_text(client.post(URL, {"us_only": "false"}))
    assert "Turn off US-only inference?" in html and "the 1.1x rate stops" in html
    response = client.post(URL, {"us_only": "false", "confirmed": "on"}, follow=True)
    assert "US-only inference is off: from now on, inference may be routed to other regions again" in response.content.decode()
    org.refresh_from_db()
    assert org.us_only_inference is False
    assert [e.after for e in events(org, "inference_residency.updated")] == [{"us_only": True}, {"us_only": False}]


def test_already_in_that_state_says_nothing_changed(console, owner, org):
    client = console(owner.user)
    response = client.post(URL, {"us_only": "false", "confirmed": "on"}, follow=True)
    assert "was already off; nothing changed" in response.content.decode()
    assert not events(org, "inference_residency.updated")


def test_invalid_choice_is_a_400_with_the_page(console, owner):
    response = console(owner.user).post(URL, {"us_only": "maybe"})
    assert response.status_code == 400
    assert "Choose on or off." in response.content.decode()


def test_post_needs_csrf(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner.user)
    assert client.post(URL, {"us_only": "true", "confirmed": "on"}).status_code == 403
    owner.organization.refresh_from_db()
    assert owner.organization.us_only_inference is False


def test_forms_carry_csrf_tokens(console, owner):
    html = console(owner.user).get(URL).content.decode()
    assert "csrfmiddlewaretoken" in html


# --- recent changes panel ---------------------------------------------------------------------


def test_recent_changes_show_who_when_and_from_where(console, owner, org, member_factory):
    viewer = member_factory(org, "privacy_view")
    residency_services.inference_residency_set(actor=actor_for(owner.user), organization=org, us_only=True)
    with pytest.raises(PermissionDenied):
        residency_services.inference_residency_set(actor=actor_for(viewer.user, source="rest"), organization=org, us_only=False)
    html = page_text(console(viewer.user).get(URL))
    panel = html[html.index("Recent changes"):]
    assert owner.user.display_name in panel and "Turned it on" in panel
    assert viewer.user.display_name in panel and "Refused" in panel and "Tried to turn it off" in panel
    assert "console · 127.0.0.1" in panel and "REST API · 127.0.0.1" in panel
    assert panel.index(viewer.user.display_name) < panel.index(owner.user.display_name)  # newest first


def test_recent_changes_leave_out_other_settings(console, owner, org, member_factory):
    member_factory(org, "user")
    html = console(owner.user).get(URL).content.decode()
    assert "No changes yet." in html


# --- query counts -------------------------------------------------------------------------------


def _with_members(org, n):
    for _ in range(n):
        add_member(org, "user")


@pytest.mark.parametrize("extra,workspaces", [(0, 1), (199, 60)])
def test_page_query_count_is_pinned(console, owner, org, django_assert_num_queries, extra, workspaces):
    _with_members(org, extra)
    actor = actor_for(owner.user)
    for i in range(workspaces):
        residency_services.workspace_create(actor=actor, organization=org, name=f"ws{i}")
    for value in (True, False, True):
        residency_services.inference_residency_set(actor=actor, organization=org, us_only=value)
    client = console(owner.user)
    client.get(URL)
    # session, user, membership, permissions, catalog, policy, geos, workspaces, history, org switcher,
    # and the pending change requests' banner
    with django_assert_num_queries(11):
        response = client.get(URL)
    assert response.context["outside_us"] and len(response.context["outside_us"]) == workspaces


def test_switching_organization_shows_that_organizations_setting(db, client):
    from orgs import services

    free = make_org(plan="enterprise_usage", name="Alpha")
    locked = make_org(plan="enterprise_usage", name="Beta", lock_reason="contract")
    person = primary_owner(free).user
    services.member_add(actor=actor_for(primary_owner(locked).user), organization=locked, email=person.email,
                        role_id="owner")
    client.force_login(person)
    first = page_text(client.get(URL))
    assert "Alpha" in first and 'aria-checked="false"' in first
    client.post("/switch-organization/", {"organization_id": locked.pk})
    second = page_text(client.get(URL))
    assert "Beta" in second and 'aria-checked="true"' in second and "part of your organization's contract" in second
