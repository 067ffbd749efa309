"""Roles page: built-ins explained, custom roles with the seven-area matrix (Enterprise)."""

from html import unescape

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from orgs.models import AREAS, Role
from tests.factories import add_member, make_org, primary_owner
from tests.orgs.matrix import build_people, console_client, expect

ROLES = "/roles/"
NEW = "/roles/new/"


def page_text(response):
    return " ".join(unescape(response.content.decode()).split())


def matrix_post(name, **levels):
    return {"name": name, **{area: levels.get(area, "none") for area in AREAS}}


@pytest.fixture
def people(org):
    return build_people(org)


def test_url_names():
    assert reverse("console:roles") == ROLES
    assert reverse("console:role_create") == NEW


@pytest.mark.parametrize("who,status", expect(404, primary_owner=200, owner=200, admin=200, other_org=200, anonymous=302))
def test_list_role_matrix(people, who, status):
    response = console_client(people, who).get(ROLES)
    assert response.status_code == status
    if who == "other_org":
        assert "privacy_view" not in response.content.decode()  # Acme's custom roles stay Acme's


@pytest.mark.parametrize("who,status", expect(404, primary_owner=200, owner=200, other_org=200, anonymous=302))
def test_create_form_role_matrix(people, who, status):
    assert console_client(people, who).get(NEW).status_code == status


@pytest.mark.parametrize("who,status", expect(404, primary_owner=200, owner=200, other_org=404, anonymous=302))
def test_edit_form_role_matrix(people, who, status):
    role = people["privacy_view"].role
    assert console_client(people, who).get(f"/roles/{role.pk}/").status_code == status


@pytest.mark.parametrize("who,status", expect(404, primary_owner=302, owner=302, other_org=302, anonymous=302))
def test_create_role_matrix(people, who, status):
    response = console_client(people, who).post(NEW, matrix_post("Billing lead", billing="manage"))
    assert response.status_code == status
    created = Role.objects.filter(name="Billing lead").first()
    if who in ("primary_owner", "owner"):
        assert created.organization_id == people["primary_owner"].organization_id
    elif who == "other_org":
        assert created.organization_id == people["other_org"].organization_id
    else:
        assert created is None


def test_builtin_roles_are_explained(console, owner):
    html = page_text(console(owner.user).get(ROLES))
    for text in ("Primary owner", "transfers the primary-owner title", "Manages members only",
                 "no admin areas", "Identity & access", "Audit log", "Can manage", "Can view", "No access"):
        assert text in html, text


def test_create_custom_role_with_the_matrix(console, owner, org):
    client = console(owner.user)
    form = page_text(client.get(NEW))
    assert form.count('type="radio"') == 7 * 3 - 1  # audit_log has no "manage"
    response = client.post(NEW, matrix_post("Residency lead", privacy="manage", audit_log="view"), follow=True)
    assert "Role Residency lead created" in page_text(response)
    role = Role.objects.get(organization=org, name="Residency lead")
    assert role.permissions == {**{a: "none" for a in AREAS}, "privacy": "manage", "audit_log": "view"}
    event = AuditEvent.objects.get(organization=org, action="role.created", target_id=role.pk)
    assert event.after["permissions"]["privacy"] == "manage" and event.actor_user_id == owner.user_id


def test_errors_show_next_to_the_fields(console, owner, org):
    client = console(owner.user)
    html = page_text(client.post(NEW, matrix_post("", audit_log="manage")))
    assert "Give the role a name." in html
    assert "Audit log takes one of: none, view." in html
    add_member(org, "privacy_view")
    html = page_text(client.post(NEW, matrix_post("privacy_view")))
    assert "A role named 'privacy_view' already exists." in html
    html = page_text(client.post(NEW, matrix_post("Owner")))
    assert "is a built-in role name" in html


def test_editing_a_role_changes_its_members_access_on_the_next_request(console, owner, org, api, key_for):
    member = add_member(org, "privacy_view")
    secret = key_for(member)
    denied = api(secret).post("/v1/organizations/inference_residency", {"us_only": True}, format="json")
    assert denied.status_code == 403
    response = console(owner.user).post(f"/roles/{member.role_id}/",
                                        matrix_post("privacy_view", privacy="manage"), follow=True)
    assert "Role privacy_view saved" in page_text(response)
    allowed = api(secret).post("/v1/organizations/inference_residency", {"us_only": True}, format="json")
    assert allowed.status_code == 200
    event = AuditEvent.objects.filter(organization=org, action="role.updated").get()
    assert event.before["permissions"]["privacy"] == "view" and event.after["permissions"]["privacy"] == "manage"


def test_builtin_roles_cannot_be_edited(console, owner):
    assert console(owner.user).get("/roles/owner/").status_code == 404


@pytest.mark.parametrize("plan", ["team"])
def test_custom_roles_need_an_enterprise_plan(db, client, plan):
    team = make_org(plan=plan)
    client.force_login(primary_owner(team).user)
    html = page_text(client.get(ROLES))
    assert "Custom roles are available on Enterprise plans." in html and "New custom role" not in html
    response = client.post(NEW, matrix_post("Extra"))
    assert response.status_code == 404  # the feature does not exist on this plan, and the page says why
    assert "Custom roles are available on Enterprise plans;" in page_text(response)


def test_seat_plan_has_custom_roles(db, client):
    seat = make_org(plan="enterprise_seat")
    client.force_login(primary_owner(seat).user)
    assert client.post(NEW, matrix_post("Extra")).status_code == 302


@pytest.mark.parametrize("extra", [0, 199])
def test_list_query_count_is_pinned(console, owner, org, django_assert_num_queries, extra):
    for _ in range(extra):
        add_member(org, "privacy_view")
    client = console(owner.user)
    client.get("/")
    with django_assert_num_queries(6):
        assert client.get(ROLES).status_code == 200
    with django_assert_num_queries(5):
        assert client.get(NEW).status_code == 200


def test_every_column_of_the_role_tables_has_a_header(console, owner, org, people):
    html = console(owner.user).get(ROLES).content.decode()
    assert "<th></th>" not in html and '<span class="visually-hidden">Actions</span>' in html
