"""GET/POST /v1/organizations/roles, GET/POST /v1/organizations/api_keys and
POST /v1/organizations/api_keys/{id}/revoke (SPEC §3, contract)."""

import pytest

from audit.models import AuditEvent
from orgs.models import AREAS, ApiKey, Role
from orgs.services import hash_api_key
from tests.factories import add_member, api_key_for, make_org, primary_owner
from tests.orgs.matrix import api_client, build_people, expect

ROLES = "/v1/organizations/roles"
KEYS = "/v1/organizations/api_keys"
OWNER_LEVELS = {a: "manage" for a in AREAS} | {"audit_log": "view"}


@pytest.fixture
def people(org):
    return build_people(org)


# --- roles --------------------------------------------------------------------------------------


@pytest.mark.parametrize("who,status", expect(403, primary_owner=200, owner=200, admin=200, other_org=200,
                                              anonymous=401))
def test_roles_list_role_matrix(people, who, status):
    response = api_client(people, who).get(ROLES)
    assert response.status_code == status
    if status == 200:
        ids = [r["id"] for r in response.json()["data"]]
        assert {"primary_owner", "owner", "admin", "user"} <= set(ids)
        assert (people["privacy_view"].role_id in ids) == (who != "other_org")


@pytest.mark.parametrize("who,status", expect(403, primary_owner=200, owner=200, other_org=200, anonymous=401))
def test_roles_create_role_matrix(people, who, status):
    response = api_client(people, who).post(ROLES, {"name": "Billing lead", "permissions": {"billing": "manage"}},
                                            format="json")
    assert response.status_code == status
    role = Role.objects.filter(name="Billing lead").first()
    assert (role is not None) == (status == 200)


def test_roles_list_body(api, owner, org, key_for):
    custom = add_member(org, "privacy_view").role
    data = api(key_for(owner)).get(ROLES).json()["data"]
    by_id = {r["id"]: r for r in data}
    assert by_id["owner"] == {"id": "owner", "type": "role", "name": "Owner", "builtin": True,
                              "permissions": OWNER_LEVELS}
    assert by_id["admin"]["permissions"]["user_management"] == "manage"
    assert by_id[custom.pk] == {"id": custom.pk, "type": "role", "name": "privacy_view", "builtin": False,
                                "permissions": {**{a: "none" for a in AREAS}, "privacy": "view"}}


def test_create_role_fills_left_out_areas_with_none_and_audits(api, owner, org, key_for):
    response = api(key_for(owner)).post(ROLES, {"name": "Auditor 2", "permissions": {"audit_log": "view"}},
                                        format="json")
    assert response.status_code == 200
    role = response.json()
    assert role["id"].startswith("role_") and role["builtin"] is False
    assert role["permissions"] == {**{a: "none" for a in AREAS}, "audit_log": "view"}
    event = AuditEvent.objects.get(organization=org, action="role.created")
    assert event.target_id == role["id"] and event.after["permissions"] == role["permissions"]
    assert event.actor_type == "api_key" and event.source == "rest"


@pytest.mark.parametrize("payload,message", [
    ({"name": "X", "permissions": {"audit_log": "manage"}}, "audit_log: level 'manage' is not allowed; use one of none, view."),
    ({"name": "X", "permissions": {"payroll": "view"}}, "unknown area 'payroll'"),
    ({"permissions": {}}, "name: This field is required."),
    ({"name": "owner"}, "is a built-in role name"),
])
def test_create_role_validation(api, owner, key_for, payload, message):
    response = api(key_for(owner)).post(ROLES, payload, format="json")
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


def test_custom_roles_need_an_enterprise_plan(db, api):
    team = make_org(plan="team")
    response = api(api_key_for(primary_owner(team))).post(ROLES, {"name": "X"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "Custom roles are available on Enterprise plans."


# --- API keys ---------------------------------------------------------------------------------


@pytest.fixture
def ci_key(people):
    """A key of Acme's plain user that others try to see and revoke."""
    secret = api_key_for(people["user"], name="ci-bot")
    return ApiKey.objects.get(name="ci-bot"), secret


@pytest.mark.parametrize("who,status", expect(200, anonymous=401))
def test_keys_list_role_matrix(people, ci_key, who, status):
    response = api_client(people, who).get(KEYS)
    assert response.status_code == status
    if status == 200:
        names = [k["name"] for k in response.json()["data"]]
        assert ("ci-bot" in names) == (who in ("primary_owner", "owner", "user"))
        assert f"{who} key" in names
        assert all("key" not in k for k in response.json()["data"])


@pytest.mark.parametrize("who,status", expect(200, anonymous=401))
def test_keys_create_role_matrix(people, who, status, api):
    response = api_client(people, who).post(KEYS, {"name": "deploy"}, format="json")
    assert response.status_code == status
    if status == 200:
        body = response.json()
        assert body["user_id"] == people[who].user_id
        assert api(body["key"]).get("/v1/organizations/me").status_code == 200


@pytest.mark.parametrize("who,status", expect(404, primary_owner=200, owner=200, user=200, anonymous=401))
def test_revoke_role_matrix(people, ci_key, who, status, api):
    key, secret = ci_key
    response = api_client(people, who).post(f"{KEYS}/{key.pk}/revoke")
    assert response.status_code == status
    works = api(secret).get("/v1/organizations/me").status_code
    assert works == (401 if status == 200 else 200)
    if status == 404:
        assert response.json()["error"]["message"] == f"No API key with id {key.pk!r} in this organization."


def test_create_returns_the_secret_once(api, owner, org, key_for):
    client = api(key_for(owner))
    response = client.post(KEYS, {"name": "provisioning"}, format="json")
    body = response.json()
    key = ApiKey.objects.get(pk=body["id"])
    assert set(body) == {"id", "type", "name", "user_id", "created_at", "key", "last_used_at", "status",
                         "partial_key_hint", "scope", "principal", "created_by", "expires_at"}
    assert (body["type"], body["name"], body["user_id"], body["status"]) == ("api_key", "provisioning",
                                                                              owner.user_id, "active")
    # the Admin API's fields (SPEC §9): an organization-scoped key acting as its member, made by its maker
    assert (body["scope"], body["principal"], body["created_by"], body["expires_at"]) == (
        {"type": "organization"}, {"type": "user_actor", "user_id": owner.user_id},
        {"id": owner.user_id, "type": "user"}, None)
    assert key.key_hash == hash_api_key(body["key"]) and body["key"] not in str(key.__dict__)
    listed = {k["id"]: k for k in client.get(KEYS).json()["data"]}[key.pk]
    assert "key" not in listed and listed["partial_key_hint"].endswith(body["key"][-4:])
    event = AuditEvent.objects.get(organization=org, action="api_key.created", target_id=key.pk)
    assert event.after == {"name": "provisioning", "user_id": owner.user_id, "hint": body["key"][-4:]}


def test_identity_managers_create_keys_for_others_and_others_cannot(api, people):
    target = people["user"].user_id
    response = api_client(people, "owner").post(KEYS, {"name": "for user", "user_id": target}, format="json")
    assert response.status_code == 200 and response.json()["user_id"] == target
    refused = api_client(people, "admin").post(KEYS, {"name": "for user", "user_id": target}, format="json")
    assert refused.status_code == 403
    assert "Identity & access: Can manage" in refused.json()["error"]["message"]
    unknown = api_client(people, "owner").post(KEYS, {"name": "x", "user_id": people["other_org"].user_id},
                                               format="json")
    assert unknown.status_code == 400
    assert "No member with id" in unknown.json()["error"]["message"]


def test_create_key_needs_a_name(api, owner, key_for):
    response = api(key_for(owner)).post(KEYS, {"name": " "}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "name: Give the key a name, e.g. the tool that will use it."


def test_revoked_key_stops_at_once_and_is_listed_as_archived(api, owner, org, key_for):
    client = api(key_for(owner))
    secret = api_key_for(owner, name="old")
    key = ApiKey.objects.get(name="old")
    response = client.post(f"{KEYS}/{key.pk}/revoke")
    # SPEC §9: a revoked key's status is `archived`, as the Admin API calls it (was "revoked")
    assert response.status_code == 200 and response.json()["status"] == "archived"
    assert api(secret).get(KEYS).status_code == 401
    assert client.post(f"{KEYS}/{key.pk}/revoke").status_code == 200  # idempotent, audited once
    assert AuditEvent.objects.filter(organization=org, action="api_key.revoked").count() == 1
    event = AuditEvent.objects.get(organization=org, action="api_key.revoked")
    assert (event.before, event.after, event.actor_type) == ({"status": "active"}, {"status": "archived"}, "api_key")


def test_a_key_can_revoke_itself(api, owner, key_for):
    secret = key_for(owner)
    key = ApiKey.objects.get(key_hash=hash_api_key(secret))
    assert api(secret).post(f"{KEYS}/{key.pk}/revoke").status_code == 200
    assert api(secret).get(KEYS).status_code == 401


def test_revoke_is_post_only(api, owner, key_for):
    key = ApiKey.objects.get(key_hash=hash_api_key(key_for(owner)))
    response = api(key_for(owner)).get(f"{KEYS}/{key.pk}/revoke")
    assert response.status_code == 405


@pytest.mark.parametrize("extra", [0, 199])
def test_list_query_counts_are_pinned(api, owner, org, django_assert_num_queries, extra):
    for _ in range(extra):
        member = add_member(org, "privacy_view")
        api_key_for(member)
    client = api(api_key_for(owner))
    client.get(KEYS)
    with django_assert_num_queries(4):
        assert client.get(KEYS, {"limit": 1000}).status_code == 200
    with django_assert_num_queries(4):
        assert client.get(ROLES, {"limit": 1000}).status_code == 200
