"""Console pages for workspaces and their data residency."""

import html
import re

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from orgs.models import Workspace
from residency import services as residency_services
from tests.factories import actor_for, make_org, primary_owner

LIST = reverse("console:workspaces")
CREATE = reverse("console:workspace_create")


def detail(ws):
    return reverse("console:workspace_detail", args=[ws.pk])


def archive_url(ws):
    return reverse("console:workspace_archive", args=[ws.pk])


def admins_url(ws):
    return reverse("console:workspace_admins", args=[ws.pk])


@pytest.fixture
def ws(org, owner):
    return residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="Production")


def residency_post(**overrides):
    data = {"name": "Production", "allowed_mode": "unrestricted", "default_inference_geo": "global"}
    data.update(overrides)
    return data


# --- list ---------------------------------------------------------------------------------

def test_empty_state_invites_the_owner_to_create(owner, console):
    page = console(owner.user).get(LIST).content.decode()
    assert "No workspaces yet" in page and CREATE in page


def test_list_shows_residency_summary_and_filters_archived(org, owner, console):
    actor = actor_for(owner.user)
    residency_services.workspace_create(actor=actor, organization=org, name="Alpha",
                              data_residency={"allowed_inference_geos": ["us"], "default_inference_geo": "us"})
    old = residency_services.workspace_create(actor=actor, organization=org, name="Bravo")
    residency_services.workspace_archive(actor=actor, workspace=old)
    client = console(owner.user)
    page = client.get(LIST).content.decode()
    assert "Alpha" in page and "Inference allowed in: us · default us · stored in us" in page
    assert "Bravo" not in page
    page = client.get(LIST, {"show": "archived"}).content.decode()
    assert "Bravo" in page and "Alpha" not in page and "Archived" in page
    page = client.get(LIST, {"show": "all"}).content.decode()
    assert "Alpha" in page and "Bravo" in page


def test_list_paginates(org, owner, console):
    actor = actor_for(owner.user)
    for i in range(27):
        residency_services.workspace_create(actor=actor, organization=org, name=f"WS-{i:02d}")
    client = console(owner.user)
    page = client.get(LIST).content.decode()
    assert "WS-24" in page and "WS-25" not in page
    next_link = re.search(r'href="\?show=active&amp;after_id=([^"]+)"', page).group(1)
    page = client.get(LIST, {"show": "active", "after_id": next_link}).content.decode()
    assert "WS-25" in page and "WS-26" in page and "WS-24" not in page and "Previous" in page


def test_list_query_count_is_the_same_for_one_and_many(org, owner, console, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = console(owner.user)
    client.get(LIST)  # the first page view remembers the organization in the session
    actor = actor_for(owner.user)
    counts = []
    for n in (1, 20):
        while Workspace.objects.filter(organization=org).count() < n:
            residency_services.workspace_create(actor=actor, organization=org, name="W")
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(LIST).status_code == 200
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
    with django_assert_num_queries(counts[0]):
        client.get(LIST)


def test_member_without_privacy_sees_only_delegated_workspaces(org, owner, ws, member_factory, console):
    user = member_factory(org, "user")
    # Privacy: No access and admin of no workspace: there is no Workspaces page nor menu entry for them
    response = console(user.user).get(LIST)
    assert response.status_code == 404 and "Production" not in response.content.decode()
    assert 'href="/workspaces/"' not in console(user.user).get("/").content.decode()
    residency_services.workspace_admin_set(actor=actor_for(owner.user), workspace=ws, membership=user, admin=True)
    page = console(user.user).get(LIST).content.decode()
    assert "Production" in page and CREATE not in page and 'href="/workspaces/"' in page


# --- create ---------------------------------------------------------------------------------

def test_owner_creates_a_workspace_with_a_permanent_geo(org, owner, console):
    client = console(owner.user)
    page = client.get(CREATE).content.decode()
    assert "This is permanent." in page and 'name="workspace_geo"' in page
    response = client.post(CREATE, {"name": "Research", "workspace_geo": "us"})
    ws = Workspace.objects.get(organization=org, name="Research")
    assert response.status_code == 302 and response["Location"] == detail(ws)
    assert ws.data_residency == {"workspace_geo": "us", "allowed_inference_geos": "unrestricted",
                                 "default_inference_geo": "global"}
    event = AuditEvent.objects.get(organization=org, action="workspace.created", target_id=ws.pk)
    assert (event.source, event.actor_user_id, event.before) == ("console", owner.user_id, None)


@pytest.mark.parametrize(("data", "words"), [
    ({"name": "", "workspace_geo": "us"}, "Give the workspace a name"),
    ({"name": "X", "workspace_geo": "global"}, "is not an available workspace geo"),
])
def test_create_errors_show_next_to_the_field(org, owner, console, data, words):
    response = console(owner.user).post(CREATE, data)
    assert response.status_code == 400
    assert words in response.content.decode()
    assert not Workspace.objects.filter(organization=org).exists()


@pytest.mark.parametrize("role,status", [("privacy_view", 403), ("privacy_none", 404), ("user", 404)])
def test_create_needs_privacy_manage(org, member_factory, console, role, status):
    member = member_factory(org, role)
    client = console(member.user)
    response = client.get(CREATE)
    assert response.status_code == status
    if status == 403:  # they see workspaces: the form, disabled, says what it needs
        assert "needs Privacy: Can manage" in response.content.decode()
    assert client.post(CREATE, {"name": "Sneaky", "workspace_geo": "us"}).status_code == status
    assert not Workspace.objects.filter(organization=org).exists()
    # the refused attempt is recorded either way (SPEC §2: denials at steps 1 and 3 are audited)
    denied = AuditEvent.objects.get(organization=org, action="workspace.residency_change_denied")
    assert denied.actor_user_id == member.user_id and denied.after["name"] == "Sneaky"


# --- detail: data residency -------------------------------------------------------------------

def test_owner_restricts_to_us(org, owner, ws, console):
    client = console(owner.user)
    page = client.get(detail(ws)).content.decode()
    assert 'id="default-geo"' in page and "Chosen at creation; it cannot be changed." in page
    change = residency_post(allowed_mode="restricted", allowed_geos=["us"], default_inference_geo="us")
    confirm = client.post(detail(ws), change)  # a change of where inference runs is confirmed first
    assert confirm.status_code == 200
    assert "Change where Production's inference runs?" in confirm.content.decode()
    assert not AuditEvent.objects.filter(organization=org, action="workspace.updated").exists()
    response = client.post(detail(ws), {**change, "confirmed": "on"})
    assert response.status_code == 302
    ws.refresh_from_db()
    assert ws.data_residency == {"workspace_geo": "us", "allowed_inference_geos": ["us"],
                                 "default_inference_geo": "us"}
    event = AuditEvent.objects.filter(organization=org, action="workspace.updated").latest("seq")
    assert event.source == "console" and event.actor_user_id == owner.user_id
    assert event.before == {"data_residency": {"allowed_inference_geos": "unrestricted",
                                               "default_inference_geo": "global"}}
    assert event.after == {"data_residency": {"allowed_inference_geos": ["us"], "default_inference_geo": "us"}}


@pytest.mark.parametrize(("data", "words"), [
    ({"allowed_mode": "restricted", "allowed_geos": ["us"], "default_inference_geo": "global"},
     "global is not one of the allowed geos; choose the default from: us."),
    ({"allowed_mode": "restricted", "default_inference_geo": "global"}, "Tick at least one geo, or choose Unrestricted."),
    ({"allowed_mode": "restricted", "allowed_geos": ["mars"]}, "Unknown geo mars"),
    ({"default_inference_geo": "mars"}, "is not a valid inference geo"),
    ({"name": " "}, "Give the workspace a name"),
])
def test_default_must_be_allowed_server_side(owner, ws, console, data, words):
    response = console(owner.user).post(detail(ws), residency_post(**data))
    assert response.status_code == 400
    assert words in response.content.decode()
    ws.refresh_from_db()
    assert ws.allowed_inference_geos is None and ws.default_inference_geo == "global"


def test_view_only_sees_the_form_disabled_and_cannot_post(org, ws, member_factory, console):
    viewer = member_factory(org, "privacy_view")
    client = console(viewer.user)
    page = client.get(detail(ws)).content.decode()
    assert "<fieldset disabled" in page and "You can view this workspace" in page
    assert archive_url(ws) not in page and "Make workspace admin" not in page
    response = client.post(detail(ws), residency_post(default_inference_geo="us"))
    assert response.status_code == 403
    ws.refresh_from_db()
    assert ws.default_inference_geo == "global"
    event = AuditEvent.objects.get(organization=org, action="workspace.residency_change_denied")
    assert event.actor_user_id == viewer.user_id and event.source == "console" and event.outcome == "denied"


@pytest.mark.parametrize("role", ["privacy_none", "user", "admin", "auditor"])
def test_members_without_privacy_get_404(org, ws, member_factory, console, role):
    client = console(member_factory(org, role).user)
    assert client.get(detail(ws)).status_code == 404
    assert client.post(detail(ws), residency_post(default_inference_geo="us")).status_code == 404
    assert client.get(archive_url(ws)).status_code == 404


def test_another_orgs_workspace_is_404(ws, console, db):
    stranger = primary_owner(make_org(name="Other"))
    client = console(stranger.user)
    assert client.get(detail(ws)).status_code == 404
    assert client.post(archive_url(ws), {"confirm": "yes"}).status_code == 404
    assert client.post(admins_url(ws), {"membership_id": stranger.pk, "admin": "on"}).status_code == 404
    ws.refresh_from_db()
    assert not ws.is_archived


def test_anonymous_is_sent_to_login(ws, client):
    for url in (LIST, CREATE, detail(ws), archive_url(ws)):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]


# --- archive ----------------------------------------------------------------------------------

def test_archive_needs_confirmation(org, owner, ws, console):
    client = console(owner.user)
    page = client.get(archive_url(ws)).content.decode()
    assert "Archiving is permanent." in page
    response = client.post(archive_url(ws), {})
    assert response.status_code == 400 and "Tick the box" in response.content.decode()
    ws.refresh_from_db()
    assert not ws.is_archived
    response = client.post(archive_url(ws), {"confirm": "yes"})
    assert response.status_code == 302
    ws.refresh_from_db()
    assert ws.is_archived
    page = client.get(detail(ws)).content.decode()
    assert "This workspace is archived" in page and "<fieldset disabled" in page
    response = client.post(detail(ws), residency_post(default_inference_geo="us"))
    assert response.status_code == 400 and "archived workspaces cannot be changed" in response.content.decode()
    assert AuditEvent.objects.filter(organization=org, action="workspace.archived").count() == 1


@pytest.mark.parametrize("role", ["privacy_view"])
def test_viewer_cannot_archive(org, ws, member_factory, console, role):
    client = console(member_factory(org, role).user)
    assert client.get(archive_url(ws)).status_code == 403
    assert client.post(archive_url(ws), {"confirm": "yes"}).status_code == 403
    ws.refresh_from_db()
    assert not ws.is_archived


# --- delegation -------------------------------------------------------------------------------

def test_owner_delegates_one_workspace_to_a_member(org, owner, ws, member_factory, console, client):
    other_ws = residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="Other")
    member = member_factory(org, "user")
    owner_client = console(owner.user)
    assert member.user.email in owner_client.get(detail(ws)).content.decode()
    response = owner_client.post(admins_url(ws), {"membership_id": member.pk, "admin": "on"})
    assert response.status_code == 302
    event = AuditEvent.objects.get(organization=org, action="workspace.admin_granted")
    assert event.target_id == ws.pk and event.after["user_id"] == member.user_id and event.source == "console"

    client.force_login(member.user)
    page = client.get(detail(ws)).content.decode()
    assert "<fieldset disabled" not in page
    change = residency_post(allowed_mode="restricted", allowed_geos=["us"], default_inference_geo="us")
    confirm = client.post(detail(ws), change).content.decode()
    assert "The cost figure needs billing access" in confirm  # a plain user has no Billing: view
    response = client.post(detail(ws), {**change, "confirmed": "on"})
    assert response.status_code == 302
    ws.refresh_from_db()
    assert ws.default_inference_geo == "us"
    # only that workspace, and only its residency
    assert client.get(detail(other_ws)).status_code == 404
    assert client.get(archive_url(ws)).status_code == 403
    assert client.post(admins_url(ws), {"membership_id": member.pk, "admin": "off"}).status_code == 403

    owner_client = console(owner.user)
    owner_client.post(admins_url(ws), {"membership_id": member.pk, "admin": "off"})
    client.force_login(member.user)
    assert client.get(detail(ws)).status_code == 404


def test_privacy_viewer_cannot_delegate(org, ws, member_factory, console):
    viewer = member_factory(org, "privacy_view")
    response = console(viewer.user).post(admins_url(ws), {"membership_id": viewer.pk, "admin": "on"})
    assert response.status_code == 403


@pytest.mark.parametrize("extra", [0, 30])
def test_detail_and_its_invalid_post_keep_their_query_counts(org, owner, ws, member_factory, console,
                                                            django_assert_num_queries, extra):
    for i in range(extra):
        member = member_factory(org, "user")
        if i % 2:
            residency_services.workspace_admin_set(actor=actor_for(owner.user), workspace=ws, membership=member,
                                                   admin=True)
    client = console(owner.user)
    client.get("/")
    # session, user, membership, workspace (+ membership, perms), geos, admins (2), perms, org switcher
    with django_assert_num_queries(11):
        assert client.get(detail(ws)).status_code == 200
    # the same queries (the form's geos instead of the page's): nothing is written or recorded
    with django_assert_num_queries(11):
        assert client.post(detail(ws), residency_post(allowed_mode="restricted")).status_code == 400
    with django_assert_num_queries(7):  # session, user, membership, geos, policy, org switcher
        assert client.get(CREATE).status_code == 200


# --- the organization policy's refusals, in the console's words (issue 13) -----------------------


@pytest.mark.parametrize(("data", "field", "words"), [
    ({"allowed_mode": "restricted", "allowed_geos": ["global", "us"], "default_inference_geo": "us"},
     "allowed_geos", "The organization's data residency policy allows only United States (us); "
                     "tick only those geos."),
    ({"allowed_mode": "unrestricted", "default_inference_geo": "us"},
     "allowed_geos", "The organization's data residency policy allows only United States (us); "
                     "tick only those geos."),
])
def test_a_change_outside_the_policy_is_refused_in_the_consoles_words(org, owner, ws, console, data, field, words):
    actor = actor_for(owner.user)
    residency_services.workspace_update(actor=actor, workspace=ws, data_residency={
        "allowed_inference_geos": ["us"], "default_inference_geo": "us"})
    residency_services.data_residency_policy_set(actor=actor, organization=org, values={
        "allowed_inference_geos": ["us"], "default_inference_geo": "us"})
    response = console(owner.user).post(detail(ws), residency_post(**data))
    assert response.status_code == 400
    page = html.unescape(response.content.decode())
    assert words in page
    assert "allowed_inference_geos" not in page.split('id="residency-form"', 1)[1].split("</form>", 1)[0]
    assert f'id="id_{field}_error"' in page  # the message sits at the field it is about
    ws.refresh_from_db()
    assert ws.allowed_inference_geos == ["us"]


def test_a_new_workspace_outside_the_policy_is_refused_in_the_consoles_words(org, owner, console):
    residency_services.data_residency_policy_set(actor=actor_for(owner.user), organization=org, values={
        "allowed_inference_geos": ["us"], "default_inference_geo": "us"})
    response = console(owner.user).post(CREATE, {"name": "Lab", "workspace_geo": "us", "allowed_mode": "restricted",
                                                 "allowed_geos": ["global"], "default_inference_geo": "global"})
    assert response.status_code == 400
    page = html.unescape(response.content.decode())
    assert "The organization's data residency policy allows only United States (us); tick only those geos." in page
    assert "allowed_inference_geos must" not in page
    assert not Workspace.objects.filter(organization=org, name="Lab").exists()
