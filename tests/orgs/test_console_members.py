"""Members pages: list, add, change role, remove, transfer primary ownership."""

from html import unescape

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from orgs.models import Membership
from tests.factories import add_member, api_key_for
from tests.orgs.matrix import build_people, console_client, expect

MEMBERS = "/members/"
ADD = "/members/add/"


def page_text(response):
    return " ".join(unescape(response.content.decode()).split())


def last_event(org, action):
    return AuditEvent.objects.filter(organization=org, action=action).order_by("-seq").first()


@pytest.fixture
def people(org):
    return build_people(org)


@pytest.fixture
def target(org, people):
    """A plain user of Acme that the matrix acts on."""
    return add_member(org, "user", email="target@acme.test")


def test_url_names():
    assert reverse("console:members") == MEMBERS
    assert reverse("console:member_detail", args=["user_x"]) == "/members/user_x/"


# --- role matrix ------------------------------------------------------------------------------
# User management: No access is a 404 (the area does not exist for them); seeing a member but not
# being allowed to act is a 403 (tests/orgs/test_console_access_rule.py states the rule).

USER_MANAGERS = {"primary_owner": 200, "owner": 200, "admin": 200}


@pytest.mark.parametrize("who,status", expect(404, **USER_MANAGERS, other_org=200, anonymous=302))
def test_list_role_matrix(people, target, who, status):
    response = console_client(people, who).get(MEMBERS)
    assert response.status_code == status
    if who == "other_org":
        assert "target@acme.test" not in response.content.decode()
    elif status == 200:
        assert "target@acme.test" in response.content.decode()


@pytest.mark.parametrize("who,status", expect(404, **USER_MANAGERS, other_org=200, anonymous=302))
def test_add_form_role_matrix(people, who, status):
    assert console_client(people, who).get(ADD).status_code == status


@pytest.mark.parametrize("who,status", expect(404, **USER_MANAGERS, other_org=404, anonymous=302))
def test_detail_role_matrix(people, target, who, status):
    assert console_client(people, who).get(f"/members/{target.user_id}/").status_code == status


@pytest.mark.parametrize("who,status", expect(404, primary_owner=302, owner=302, admin=302, other_org=404, anonymous=302))
def test_change_role_role_matrix(people, target, org, who, status):
    response = console_client(people, who).post(f"/members/{target.user_id}/", {"role": "admin"})
    assert response.status_code == status
    target.refresh_from_db()
    assert target.role_id == ("admin" if status == 302 and who != "anonymous" else "user")


@pytest.mark.parametrize("who,status", expect(404, primary_owner=302, owner=302, admin=302, other_org=404, anonymous=302))
def test_remove_role_matrix(people, target, who, status):
    response = console_client(people, who).post(f"/members/{target.user_id}/remove/")
    assert response.status_code == status
    removed = not Membership.objects.filter(pk=target.pk).exists()
    assert removed == (status == 302 and who != "anonymous")


@pytest.mark.parametrize("who,status", expect(404, primary_owner=200, owner=403, admin=403, other_org=404, anonymous=302))
def test_transfer_confirm_role_matrix(people, target, who, status):
    assert console_client(people, who).get(f"/members/{target.user_id}/transfer/").status_code == status


# --- list -------------------------------------------------------------------------------------


def test_list_shows_roles_and_paginates(console, owner, org):
    for _ in range(55):
        add_member(org, "user")
    client = console(owner.user)
    first = page_text(client.get(MEMBERS))
    assert "56 members" in first and "Page 1 of 2" in first and "Primary owner" in first
    assert first.count("/members/user_") == 50
    second = client.get(MEMBERS + "?page=2").content.decode()
    assert second.count("/members/user_") == 6


def test_list_marks_who_can_be_managed(console, people, org):
    html = page_text(console_client(people, "admin").get(MEMBERS))
    # admin manages users but not owners (more access than theirs) nor the primary owner
    row_owner = html[html.index(people["owner"].user.email):][:300]
    row_user = html[html.index(people["user"].user.email):][:300]
    assert "View" in row_owner and "Manage" not in row_owner
    assert "Manage" in row_user


# --- add --------------------------------------------------------------------------------------


def test_add_member_with_a_role_audits_and_confirms(console, owner, org):
    response = console(owner.user).post(ADD, {"email": "New.Person@Acme.test", "role": "admin"}, follow=True)
    # a new person: the invitation is emailed to them; the page never shows a link
    text = page_text(response)
    assert "new.person@acme.test is now a member" in text and "We emailed them an invitation" in text
    assert "/accounts/invitation/" not in response.content.decode()
    membership = Membership.objects.get(organization=org, user__email="new.person@acme.test")
    assert membership.role_id == "admin"
    event = last_event(org, "member.added")
    assert event.after == {"email": "new.person@acme.test", "role": "admin"}
    assert event.actor_user_id == owner.user_id and event.source == "console"


def test_add_errors_show_next_to_the_fields(console, owner, org, member_factory):
    existing = member_factory(org, "user")
    client = console(owner.user)
    html = page_text(client.post(ADD, {"email": "not-an-email", "role": "admin"}))
    assert 'class="field has-error"' in html and "Enter a valid email address." in html
    html = page_text(client.post(ADD, {"email": existing.user.email, "role": "user"}))
    assert f"{existing.user.email} is already a member of Acme." in html
    assert html.index("already a member") > html.index('id="id_email"')
    html = page_text(client.post(ADD, {"email": "x@acme.test", "role": "primary_owner"}))
    assert "Select a valid choice" in html  # the title is transferred, never offered


def test_admin_cannot_add_an_owner(console, people, org):
    client = console_client(people, "admin")
    html = client.get(ADD).content.decode()
    assert 'value="owner"' not in html and 'value="admin"' in html
    response = client.post(ADD, {"email": "boss@acme.test", "role": "owner"})
    assert response.status_code == 200
    assert "Select a valid choice" in page_text(response)
    assert not Membership.objects.filter(user__email="boss@acme.test").exists()


# --- change role ------------------------------------------------------------------------------


def test_change_role_with_a_custom_role(console, owner, org, member_factory, target):
    custom = member_factory(org, "privacy_view").role
    response = console(owner.user).post(f"/members/{target.user_id}/", {"role": custom.pk}, follow=True)
    assert f"target@acme.test is now {custom.name}." in page_text(response)
    target.refresh_from_db()
    assert target.role_id == custom.pk
    event = last_event(org, "member.role_changed")
    assert (event.before, event.after) == ({"role": "user"}, {"role": custom.pk})


def test_primary_owner_role_cannot_be_changed_here(console, people, org):
    po = people["primary_owner"]
    client = console_client(people, "owner")
    html = page_text(client.get(f"/members/{po.user_id}/"))
    assert "Change role" not in html and "This is the primary owner" in html
    response = client.post(f"/members/{po.user_id}/", {"role": "user"})
    assert response.status_code == 403
    assert "transfer the title" in page_text(response)


# --- remove -----------------------------------------------------------------------------------


def test_remove_asks_then_removes_and_keys_stop_working(console, owner, org, target, api):
    secret = api_key_for(target)
    client = console(owner.user)
    html = page_text(client.get(f"/members/{target.user_id}/remove/"))
    assert "Remove" in html and "target@acme.test" in html and "1 active API key stops working" in html
    assert Membership.objects.filter(pk=target.pk).exists()
    response = client.post(f"/members/{target.user_id}/remove/", follow=True)
    assert "target@acme.test was removed from Acme" in page_text(response)
    assert not Membership.objects.filter(pk=target.pk).exists()
    assert api(secret).get("/v1/organizations/me").status_code == 401
    event = last_event(org, "member.removed")
    assert event.before == {"email": "target@acme.test", "role": "user"}
    assert event.actor_user_id == owner.user_id


def test_primary_owner_cannot_be_removed(console, people):
    po = people["primary_owner"]
    client = console_client(people, "owner")
    assert client.get(f"/members/{po.user_id}/remove/").status_code == 403
    response = client.post(f"/members/{po.user_id}/remove/", follow=True)
    assert "transfer the title first" in page_text(response)
    assert Membership.objects.filter(pk=po.pk).exists()


# --- transfer ---------------------------------------------------------------------------------


def test_primary_owner_transfers_the_title_after_confirming(console, people, org):
    po, new = people["primary_owner"], people["owner"]
    client = console_client(people, "primary_owner")
    detail = page_text(client.get(f"/members/{new.user_id}/"))
    assert "Transfer primary ownership" in detail
    confirm = page_text(client.get(f"/members/{new.user_id}/transfer/"))
    assert f"Make {new.user.display_name} the primary owner?" in confirm and "You stay an <strong>owner</strong>" in confirm
    response = client.post(f"/members/{new.user_id}/transfer/", follow=True)
    assert f"{new.user.email} is now the primary owner; you are now an owner." in page_text(response)
    po.refresh_from_db()
    new.refresh_from_db()
    assert (po.role_id, new.role_id) == ("owner", "primary_owner")
    event = last_event(org, "primary_owner.transferred")
    assert event.before["primary_owner"] == po.user.email and event.after["primary_owner"] == new.user.email
    assert event.actor_user_id == po.user_id


def test_only_the_primary_owner_sees_the_transfer_button(console, people):
    html = page_text(console_client(people, "owner").get(f"/members/{people['admin'].user_id}/"))
    assert "Transfer primary ownership" not in html
    response = console_client(people, "owner").post(f"/members/{people['admin'].user_id}/transfer/")
    assert response.status_code == 403
    assert "Only the primary owner" in page_text(response)


# --- query counts -------------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [0, 199])
def test_list_query_count_is_pinned(console, owner, org, django_assert_num_queries, extra):
    for _ in range(extra):
        add_member(org, "user")
    client = console(owner.user)
    client.get(MEMBERS)
    with django_assert_num_queries(7):
        assert client.get(MEMBERS).status_code == 200


@pytest.mark.parametrize("extra", [0, 199])
def test_detail_and_add_query_counts_are_pinned(console, owner, org, django_assert_num_queries, extra):
    for _ in range(extra):
        add_member(org, "user")
    target = add_member(org, "user")
    client = console(owner.user)
    client.get("/")  # the first request stores the chosen organization in the session
    with django_assert_num_queries(8):
        assert client.get(f"/members/{target.user_id}/").status_code == 200
    with django_assert_num_queries(6):
        assert client.get(ADD).status_code == 200
