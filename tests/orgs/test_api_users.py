"""GET/POST /v1/organizations/users and /users/{id} (SPEC §3, contract)."""

import pytest

from audit.models import AuditEvent
from orgs.models import Membership
from tests.factories import add_member, api_key_for, make_org
from tests.orgs.matrix import api_client, build_people, expect

USERS = "/v1/organizations/users"
MANAGERS = {"primary_owner": 200, "owner": 200, "admin": 200}


@pytest.fixture
def people(org):
    return build_people(org)


@pytest.fixture
def target(org, people):
    return add_member(org, "user", email="target@acme.test")


def user_body(m):
    return {"id": m.user_id, "type": "user", "email": m.user.email, "name": m.user.get_full_name(),
            "role": m.role_id, "added_at": m.created_at.isoformat().replace("+00:00", "Z")}


# --- role matrices ------------------------------------------------------------------------------


@pytest.mark.parametrize("who,status", expect(403, **MANAGERS, other_org=200, anonymous=401))
def test_list_role_matrix(people, target, who, status):
    response = api_client(people, who).get(USERS)
    assert response.status_code == status
    if status == 200:
        emails = [u["email"] for u in response.json()["data"]]
        assert ("target@acme.test" in emails) == (who != "other_org")
    elif status == 403:
        assert response.json()["error"]["type"] == "permission_error"
        assert "User management: Can view" in response.json()["error"]["message"]


@pytest.mark.parametrize("who,status", expect(403, **MANAGERS, other_org=200, anonymous=401))
def test_add_role_matrix(people, who, status):
    response = api_client(people, who).post(USERS, {"email": "new@acme.test", "role": "user"}, format="json")
    assert response.status_code == status
    added = Membership.objects.filter(user__email="new@acme.test").first()
    if status == 200:
        assert response.json() == user_body(added)
        assert added.organization_id == people[who].organization_id
    else:
        assert added is None


@pytest.mark.parametrize("who,status", expect(403, **MANAGERS, other_org=404, anonymous=401))
def test_read_role_matrix(people, target, who, status):
    response = api_client(people, who).get(f"{USERS}/{target.user_id}")
    assert response.status_code == status
    if status == 200:
        assert response.json() == user_body(target)
    if status == 404:
        assert response.json()["error"]["type"] == "not_found_error"


@pytest.mark.parametrize("who,status", expect(403, **MANAGERS, other_org=404, anonymous=401))
def test_change_role_role_matrix(people, target, org, who, status):
    response = api_client(people, who).post(f"{USERS}/{target.user_id}", {"role": "admin"}, format="json")
    assert response.status_code == status
    target.refresh_from_db()
    assert target.role_id == ("admin" if status == 200 else "user")
    if status == 200:
        assert response.json()["role"] == "admin"
        event = AuditEvent.objects.get(organization=org, action="member.role_changed")
        assert (event.before, event.after, event.actor_user_id, event.source) == (
            {"role": "user"}, {"role": "admin"}, people[who].user_id, "rest")


# --- behaviour --------------------------------------------------------------------------------


def test_add_audits_and_validates(api, owner, org, key_for):
    client = api(key_for(owner))
    response = client.post(USERS, {"email": "Someone@Acme.test", "role": "admin"}, format="json")
    assert response.status_code == 200
    assert response.json()["email"] == "someone@acme.test" and response.json()["id"].startswith("user_")
    event = AuditEvent.objects.get(organization=org, action="member.added", after__email="someone@acme.test")
    assert event.after == {"email": "someone@acme.test", "role": "admin"} and event.actor_type == "api_key"
    again = client.post(USERS, {"email": "someone@acme.test", "role": "user"}, format="json")
    assert again.status_code == 400
    assert again.json()["error"]["message"] == "email: someone@acme.test is already a member of Acme."
    bad_role = client.post(USERS, {"email": "x@acme.test", "role": "wizard"}, format="json")
    assert bad_role.status_code == 400 and "Unknown role 'wizard'" in bad_role.json()["error"]["message"]
    bad_email = client.post(USERS, {"email": "nope", "role": "user"}, format="json")
    assert bad_email.json()["error"]["message"] == "email: Enter a valid email address."
    primary = client.post(USERS, {"email": "x@acme.test", "role": "primary_owner"}, format="json")
    assert primary.status_code == 400 and "transfer the title" in primary.json()["error"]["message"]


def test_admin_cannot_grant_more_than_their_own_access(api, people):
    client = api_client(people, "admin")
    response = client.post(USERS, {"email": "boss@acme.test", "role": "owner"}, format="json")
    assert response.status_code == 403
    assert "more access than your own" in response.json()["error"]["message"]
    response = client.post(f"{USERS}/{people['owner'].user_id}", {"role": "user"}, format="json")
    assert response.status_code == 403


def test_custom_role_ids_can_be_assigned(api, owner, org, key_for, target):
    custom = add_member(org, "privacy_view").role
    response = api(key_for(owner)).post(f"{USERS}/{target.user_id}", {"role": custom.pk}, format="json")
    assert response.json()["role"] == custom.pk


def test_making_someone_primary_owner_transfers_the_title(api, people, org):
    po, owner = people["primary_owner"], people["owner"]
    refused = api_client(people, "owner").post(f"{USERS}/{owner.user_id}", {"role": "primary_owner"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["message"] == "Only the primary owner can transfer primary ownership."
    response = api_client(people, "primary_owner").post(f"{USERS}/{owner.user_id}", {"role": "primary_owner"},
                                                        format="json")
    assert response.status_code == 200 and response.json()["role"] == "primary_owner"
    po.refresh_from_db()
    assert po.role_id == "owner"
    event = AuditEvent.objects.get(organization=org, action="primary_owner.transferred")
    assert event.before["primary_owner"] == po.user.email and event.after["primary_owner"] == owner.user.email


def test_primary_owner_role_cannot_be_changed_directly(api, people):
    po = people["primary_owner"]
    response = api_client(people, "primary_owner").post(f"{USERS}/{po.user_id}", {"role": "user"}, format="json")
    assert response.status_code == 400
    assert "transfer the title first" in response.json()["error"]["message"]


def test_unknown_user_is_404(api, owner, key_for):
    response = api(key_for(owner)).get(f"{USERS}/user_nobody")
    assert response.status_code == 404
    assert response.json()["error"]["message"] == "No user with id 'user_nobody' in this organization."


def test_change_role_needs_a_role(api, owner, key_for, target):
    response = api(key_for(owner)).post(f"{USERS}/{target.user_id}", {}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "role: This field is required."


def test_removal_is_not_part_of_the_contract(api, owner, key_for, target):
    response = api(key_for(owner)).delete(f"{USERS}/{target.user_id}")
    assert response.status_code == 405
    assert response.json()["error"]["type"] == "invalid_request_error"


# --- pagination ---------------------------------------------------------------------------------


def test_list_pages_with_after_and_before_id(api, owner, org, key_for):
    added = [add_member(org, "user") for _ in range(4)]
    client = api(key_for(owner))
    ids = [owner.user_id] + [m.user_id for m in added]
    first = client.get(USERS, {"limit": 2}).json()
    assert [u["id"] for u in first["data"]] == ids[:2]
    assert (first["has_more"], first["first_id"], first["last_id"]) == (True, ids[0], ids[1])
    second = client.get(USERS, {"limit": 2, "after_id": first["last_id"]}).json()
    assert [u["id"] for u in second["data"]] == ids[2:4] and second["has_more"] is True
    last = client.get(USERS, {"limit": 2, "after_id": second["last_id"]}).json()
    assert [u["id"] for u in last["data"]] == ids[4:] and last["has_more"] is False
    back = client.get(USERS, {"limit": 2, "before_id": last["first_id"]}).json()
    assert [u["id"] for u in back["data"]] == ids[2:4]
    assert client.get(USERS).json()["has_more"] is False


@pytest.mark.parametrize("params,message", [
    ({"limit": 0}, "limit: must be from 1 to 1000, got 0."),
    ({"limit": 1001}, "limit: must be from 1 to 1000, got 1001."),
    ({"limit": "ten"}, "limit: must be an integer from 1 to 1000, got 'ten'."),
    ({"after_id": "user_gone"}, "after_id: no object with id 'user_gone' in this list."),
])
def test_bad_list_params_are_400(api, owner, key_for, params, message):
    response = api(key_for(owner)).get(USERS, params)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == message


def test_another_orgs_user_id_is_not_a_cursor(api, owner, key_for, people):
    response = api(key_for(owner)).get(USERS, {"after_id": people["other_org"].user_id})
    assert response.status_code == 400


@pytest.mark.parametrize("extra", [0, 199])
def test_list_query_count_is_pinned(api, owner, org, django_assert_num_queries, extra):
    for _ in range(extra):
        add_member(org, "user")
    client = api(api_key_for(owner))
    client.get(USERS)
    with django_assert_num_queries(4):
        assert client.get(USERS, {"limit": 1000}).status_code == 200
    with django_assert_num_queries(4):
        assert client.get(f"{USERS}/{owner.user_id}").status_code == 200


# --- the list's filters (SPEC §9) ----------------------------------------------------------------


def test_list_filters_by_email_and_roles(api, owner, org):
    client = api(api_key_for(owner))
    dana = add_member(org, "admin", email="dana@acme.test")
    lee = add_member(org, "user", email="lee@acme.test")
    custom = add_member(org, "privacy_view", email="pat@acme.test")

    def ids(**query):
        response = client.get(USERS, query)
        assert response.status_code == 200, response.content
        return [u["id"] for u in response.json()["data"]]

    assert ids(email="Dana@ACME.test") == [dana.user_id]  # emails compare case-insensitively
    assert ids(email="dana@acme") == []  # the whole address, not a part of it
    assert ids(email="") == ids()  # empty means not given
    assert ids(**{"roles[]": ["user", "admin"]}) == [dana.user_id, lee.user_id]
    assert ids(**{"roles[]": [custom.role_id]}) == [custom.user_id]
    assert ids(**{"roles[]": ["user"], "email": "dana@acme.test"}) == []
    assert ids(**{"roles[]": ["admin", "user"], "limit": 1, "after_id": dana.user_id}) == [lee.user_id]
    refused = client.get(USERS, {"roles[]": ["user", "developer", "role_elsewhere"]})
    assert refused.status_code == 400
    assert refused.json()["error"]["message"] == ("roles[]: no role developer, role_elsewhere in this organization; use "
                                                  "primary_owner, owner, admin, user or a custom role id.")
    other_custom = add_member(make_org(plan="enterprise_usage", name="Other"), "privacy_view").role_id
    assert client.get(USERS, {"roles[]": other_custom}).status_code == 400  # another organization's role


@pytest.mark.parametrize("extra", [0, 30])
def test_filtered_list_query_count_is_pinned(api, owner, org, django_assert_num_queries, extra):
    for _ in range(extra):
        add_member(org, "user")
    client = api(api_key_for(owner))
    client.get(USERS)
    with django_assert_num_queries(5):  # key, member, permissions, the roles asked for, the page
        assert client.get(USERS, {"roles[]": ["user", "owner"], "email": "x@y.test"}).status_code == 200
