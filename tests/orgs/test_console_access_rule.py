"""One rule for 403 versus 404 on every console page, inside one's own organization (issue 13,
SPEC §2 order of checks): a page of an area where the member holds no access answers 404 and
looks exactly like an unknown id; a page they can see, or an action they can see but may not
take, answers 403 saying what it needs, in the console's words ("Privacy: Can manage")."""

import pytest
from django.urls import reverse

from orgs import services
from orgs.models import Role
from residency import services as residency_services
from tests.browser.test_sweep import NOT_PAGES, console_pages
from tests.factories import actor_for, make_org, primary_owner
from tests.orgs.matrix import build_people, console_client, expect

OWNERS = {"primary_owner": 200, "owner": 200}
PRIVACY = {**OWNERS, "privacy_manage": 200, "privacy_view": 200}
# (url name, the URL parameters it takes, status per person); anyone unlisted gets the default
PAGES = [
    ("home", (), expect(200)),
    ("residency", (), expect(404, **PRIVACY)),
    ("residency_policy", (), expect(404, **PRIVACY)),  # Privacy: Can view sees the form disabled
    ("workspaces", (), expect(404, **PRIVACY)),
    ("workspace_create", (), expect(404, **{**PRIVACY, "privacy_view": 403})),
    ("workspace_detail", ("workspace_id",), expect(404, **PRIVACY)),
    ("workspace_archive", ("workspace_id",), expect(404, **{**PRIVACY, "privacy_view": 403})),
    ("usage", (), expect(404, **OWNERS, privacy_none=200)),  # privacy_none's role holds Billing: Can view
    ("members", (), expect(404, **OWNERS, admin=200)),
    ("member_add", (), expect(404, **OWNERS, admin=200)),
    ("member_detail", ("user_id",), expect(404, **OWNERS, admin=200)),
    ("member_remove", ("user_id",), expect(404, **OWNERS, admin=200)),
    ("member_transfer", ("user_id",), expect(404, primary_owner=200, owner=403, admin=403)),
    ("roles", (), expect(404, **OWNERS, admin=200)),
    ("role_create", (), expect(404, **OWNERS)),
    ("role_edit", ("role_id",), expect(404, **OWNERS)),
    ("api_keys", (), expect(200)),
    ("api_key_revoke", ("key_id",), expect(404, **OWNERS)),  # the primary owner's key
    ("security", (), expect(200)),
    ("audit_log", (), expect(404, **PRIVACY, auditor=200)),
    ("audit_verify", (), expect(404, **OWNERS, auditor=200)),
    ("approval_settings", (), expect(404, **PRIVACY)),
    ("change_requests", (), expect(404, **PRIVACY)),
    ("change_request", ("change_request_id",), expect(404, **PRIVACY)),
    # the owner asked for it: they may not approve it themself
    ("change_request_decide", ("change_request_id", "action"), expect(404, **{**PRIVACY, "owner": 403, "privacy_view": 403})),
]
CASES = [(name, params, who, status) for name, params, table in PAGES for who, status in table
         if who not in ("anonymous", "other_org")]


@pytest.fixture
def world(org):
    people = build_people(org)
    owner = people["primary_owner"]
    workspace = residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="Prod")
    key, _ = services.api_key_create(actor=actor_for(owner.user), organization=org, name="owner key")
    # approval is on, and the owner's turning US-only off waits for another person's
    residency_services.inference_residency_set(actor=actor_for(owner.user), organization=org, us_only=True)
    residency_services.approval_settings_set(actor=actor_for(owner.user), organization=org,
                                             loosening_requires_approval=True)
    pending = residency_services.inference_residency_set(actor=actor_for(people["owner"].user), organization=org,
                                                         us_only=False)
    ids = {"workspace_id": workspace.pk, "user_id": people["user"].user_id, "key_id": key.pk,
           "role_id": Role.objects.get(organization=org, name="privacy_view").pk,
           "change_request_id": pending.pk, "action": "approve"}
    return people, ids


@pytest.mark.parametrize("name,params,who,status", CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_every_console_page_follows_the_rule(world, name, params, who, status):
    people, ids = world
    response = console_client(people, who).get(reverse(f"console:{name}", kwargs={p: ids[p] for p in params}))
    assert response.status_code == status
    html = response.content.decode()
    if status == 404:
        # a hidden area reads like an unknown id (test_a_hidden_area_and_an_unknown_id_look_the_same)
        assert "Page not found" in html and "You can’t do this" not in html
    if status == 403:
        assert "You can’t do this" in html or 'role="alert"' in html or "disabled" in html


def test_every_console_page_is_in_the_table():
    """A page someone adds to the console is held to the rule: list it in PAGES (the URLconf's
    console namespace, less what the sweep names as not a page, e.g. a POST from another page)."""
    missing = {name for name, _ in console_pages()} - {name for name, _, _ in PAGES} - set(NOT_PAGES)
    assert missing == set(), f"console pages the 403/404 rule does not check: {sorted(missing)}; add them to PAGES"


def test_a_hidden_area_and_an_unknown_id_look_the_same(world):
    people, ids = world
    client = console_client(people, "privacy_none")
    hidden = client.get(reverse("console:workspace_detail", kwargs={"workspace_id": ids["workspace_id"]}))
    unknown = client.get(reverse("console:workspace_detail", kwargs={"workspace_id": "wrkspc_nope"}))
    assert hidden.status_code == unknown.status_code == 404
    assert "Prod" not in hidden.content.decode()
    def main(response, workspace_id):  # the page's own content (the layout carries a CSRF token)
        html = response.content.decode()
        return html[html.index("<main"):html.index("</main>")].replace(workspace_id, "ID")

    assert main(hidden, ids["workspace_id"]) == main(unknown, "wrkspc_nope")
    members = client.get(reverse("console:members"))
    assert members.status_code == 404 and "User management" not in members.content.decode()


def test_a_403_says_what_it_needs_in_the_consoles_words(world):
    people, _ = world
    response = console_client(people, "owner").get(reverse("console:member_transfer",
                                                           kwargs={"user_id": people["user"].user_id}))
    assert response.status_code == 403 and "Only the primary owner can transfer primary ownership." in (
        response.content.decode())
    refused = console_client(people, "privacy_view").post(reverse("console:residency"),
                                                          {"us_only": "true", "confirmed": "on"})
    assert refused.status_code == 403
    assert "needs Privacy: Can manage; your role (privacy_view) has Privacy: Can view." in refused.content.decode()
    policy = console_client(people, "privacy_view").post(reverse("console:residency_policy"), {
        "allowed_mode": "restricted", "allowed_geos": ["us"], "default_inference_geo": "us", "confirmed": "on"})
    assert policy.status_code == 403
    assert "needs Privacy: Can manage; your role (privacy_view) has Privacy: Can view." in policy.content.decode()


def test_the_team_plan_has_no_custom_roles_page_and_says_why(db, console):
    team = make_org(plan="team", name="Team Co")
    response = console(primary_owner(team).user).get(reverse("console:role_create"))
    assert response.status_code == 404
    assert "Custom roles are available on Enterprise plans; Team Co is on the Team plan." in response.content.decode()
