"""An API key's status (SPEC §9): GET and POST /v1/organizations/api_keys/{id}, the list's filters,
pausing, resuming and archiving under the rules of creating and revoking, and the rule that only
an active key authenticates, anywhere (REST, decisions, batches)."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from audit.models import AuditEvent
from orgs import services
from orgs.models import WORKSPACE_COLORS, ApiKey, Workspace, hash_api_key
from residency import services as residency_services
from tests.db import as_schema_owner
from tests.factories import actor_for, add_member, api_key_for
from tests.orgs.matrix import api_client, build_people, expect

KEYS = "/v1/organizations/api_keys"


@pytest.fixture
def people(org):
    return build_people(org)


@pytest.fixture
def ci_key(people):
    """A key of Acme's plain user that others try to see and change."""
    secret = api_key_for(people["user"], name="ci-bot")
    return ApiKey.objects.get(name="ci-bot"), secret


def key_of(secret):
    return ApiKey.objects.get(key_hash=hash_api_key(secret))


def events(org, action):
    return list(AuditEvent.objects.filter(organization=org, action=action).order_by("seq"))


# --- who may read and change a key --------------------------------------------------------------


@pytest.mark.parametrize("who,status", expect(404, primary_owner=200, owner=200, user=200, anonymous=401))
def test_retrieve_role_matrix(people, ci_key, who, status):
    key, _ = ci_key
    response = api_client(people, who).get(f"{KEYS}/{key.pk}")
    assert response.status_code == status
    if status == 200:
        body = response.json()
        assert (body["id"], body["name"], body["status"], body["principal"]["user_id"]) == (
            key.pk, "ci-bot", "active", people["user"].user_id)
        assert "key" not in body


@pytest.mark.parametrize("who,status", expect(404, primary_owner=200, owner=200, user=200, anonymous=401))
def test_pause_role_matrix(people, ci_key, who, status, api, org):
    key, secret = ci_key
    response = api_client(people, who).post(f"{KEYS}/{key.pk}", {"status": "inactive"}, format="json")
    assert response.status_code == status
    key.refresh_from_db()
    assert key.status == ("inactive" if status == 200 else "active")
    assert api(secret).get("/v1/organizations/me").status_code == (401 if status == 200 else 200)
    paused = events(org, "api_key.updated")
    assert len(paused) == (1 if status == 200 else 0)
    if paused:
        assert (paused[0].before, paused[0].after, paused[0].target_id) == (
            {"status": "active"}, {"status": "inactive"}, key.pk)


def test_an_identity_manager_renames_a_members_key(org, ci_key, api):
    key, secret = ci_key
    manager = api(api_key_for(add_member(org, "identity_manage"), name="m"))
    assert manager.post(f"{KEYS}/{key.pk}", {"name": "renamed"}, format="json").json()["name"] == "renamed"
    assert api(secret).get(f"{KEYS}/{key.pk}").json()["name"] == "renamed"  # its owner sees it
    (event,) = events(org, "api_key.updated")
    assert (event.before, event.after, event.actor_role) == ({"name": "ci-bot"}, {"name": "renamed"},
                                                             "identity_manage")


def test_another_organizations_key_is_404_for_read_and_change(people, api, db):
    theirs = key_of(api_key_for(people["other_org"], name="theirs"))
    client = api_client(people, "owner")
    assert client.get(f"{KEYS}/{theirs.pk}").status_code == 404
    response = client.post(f"{KEYS}/{theirs.pk}", {"status": "archived"}, format="json")
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "active"


# --- pause, resume, archive ----------------------------------------------------------------------


def test_a_paused_key_works_nowhere_until_resumed(org, owner, api):
    secret = api_key_for(owner, name="tool")
    other = api(api_key_for(owner, name="admin tool"))
    ws = residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="Prod")
    key = key_of(secret)
    decision = {"workspace_id": ws.pk, "model": "claude-opus-4-6"}
    batch = {"requests": [{"custom_id": "a", "params": decision}]}

    def works():
        client = api(secret)
        bearer = api()
        bearer.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return [client.get("/v1/organizations/me").status_code,
                client.post("/v1/residency/decisions", decision, format="json").status_code,  # the lean path
                client.post("/v1/residency/decisions/batch", batch, format="json").status_code,
                bearer.post("/v1/residency/decisions", decision, format="json").status_code]

    assert works() == [200, 200, 200, 200]
    assert other.post(f"{KEYS}/{key.pk}", {"status": "inactive"}, format="json").json()["status"] == "inactive"
    assert works() == [401, 401, 401, 401]
    assert other.post(f"{KEYS}/{key.pk}", {"status": "active"}, format="json").json()["status"] == "active"
    assert works() == [200, 200, 200, 200]


def test_resuming_is_for_those_who_may_create_keys_for_the_member(org, owner, api):
    manager = add_member(org, "identity_manage")
    manager_api = api(api_key_for(manager, name="manager"))
    owners = key_of(api_key_for(owner, name="owner tool"))
    plain = add_member(org, "user")
    users = key_of(api_key_for(plain, name="user tool"))
    for key in (owners, users):
        assert manager_api.post(f"{KEYS}/{key.pk}", {"status": "inactive"}, format="json").status_code == 200
    before = AuditEvent.objects.count()
    refused = manager_api.post(f"{KEYS}/{owners.pk}", {"status": "active", "name": "sneaky"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["error"]["message"].startswith("You cannot resume this key: only someone who may create "
                                                         f"keys for {owner.user.email}")
    owners.refresh_from_db()
    assert (owners.status, owners.name) == ("inactive", "owner tool")  # nothing of the request applied
    assert AuditEvent.objects.count() == before
    # a member strictly below them: the manager may create their keys, so may resume one
    assert manager_api.post(f"{KEYS}/{users.pk}", {"status": "active"}, format="json").json()["status"] == "active"
    # a member resumes their own key
    plain_api = api(api_key_for(plain, name="second"))
    assert plain_api.post(f"{KEYS}/{users.pk}", {"status": "inactive"}, format="json").status_code == 200
    assert plain_api.post(f"{KEYS}/{users.pk}", {"status": "active"}, format="json").status_code == 200


def test_archiving_is_final_and_revoke_still_works(org, owner, api):
    client = api(api_key_for(owner, name="admin"))
    secret = api_key_for(owner, name="tool")
    key = key_of(secret)
    body = client.post(f"{KEYS}/{key.pk}", {"status": "archived", "name": "old tool"}, format="json").json()
    assert (body["status"], body["name"]) == ("archived", "old tool")
    assert api(secret).get("/v1/organizations/me").status_code == 401
    assert [(e.before, e.after) for e in events(org, "api_key.updated")] == [({"name": "tool"}, {"name": "old tool"})]
    assert [(e.before, e.after) for e in events(org, "api_key.revoked")] == [({"status": "active"},
                                                                              {"status": "archived"})]
    for change, field in (({"status": "active"}, "status"), ({"status": "inactive"}, "status"),
                          ({"name": "again"}, "name")):
        response = client.post(f"{KEYS}/{key.pk}", change, format="json")
        assert response.status_code == 400
        assert response.json()["error"]["message"].startswith(f"{field}: This key is archived (revoked for good)")
    count = AuditEvent.objects.count()
    assert client.post(f"{KEYS}/{key.pk}", {"status": "archived"}, format="json").status_code == 200  # no change
    assert client.post(f"{KEYS}/{key.pk}/revoke").json()["status"] == "archived"
    assert client.post(f"{KEYS}/{key.pk}", {}, format="json").status_code == 200
    assert AuditEvent.objects.count() == count

    # revoking a paused key archives it too
    paused = key_of(api_key_for(owner, name="paused"))
    client.post(f"{KEYS}/{paused.pk}", {"status": "inactive"}, format="json")
    assert client.post(f"{KEYS}/{paused.pk}/revoke").json()["status"] == "archived"
    assert events(org, "api_key.revoked")[-1].before == {"status": "inactive"}


@pytest.mark.parametrize("body,message", [
    ({"status": "expired"}, "status: 'expired' is not a status a key can be given; use active, inactive, archived."),
    ({"status": "revoked"}, "status: 'revoked' is not a status a key can be given"),
    ({"name": "  "}, "name: Give the key a name"),
    ({"name": "x" * 101}, "name: Ensure this field has no more than 100 characters."),
    ({"name": 7}, "name: Must be a string."),
    ({"scope": {"type": "organization"}}, "scope: Unknown field"),
])
def test_update_validation(owner, api, body, message):
    client = api(api_key_for(owner, name="admin"))
    key = key_of(api_key_for(owner, name="tool"))
    response = client.post(f"{KEYS}/{key.pk}", body, format="json")
    assert response.status_code == 400 and response.json()["error"]["message"].startswith(message)
    key.refresh_from_db()
    assert (key.status, key.name) == ("active", "tool")


def test_two_pauses_at_once_record_one_change(org, owner):
    key = key_of(api_key_for(owner, name="tool"))
    actor = actor_for(owner.user)
    services.api_key_update(actor=actor, api_key=key, status="inactive")
    services.api_key_update(actor=actor, api_key=key, status="inactive")  # a stale copy asking the same
    assert len(events(org, "api_key.updated")) == 1


# --- the list's filters ---------------------------------------------------------------------


def test_list_filters(org, owner, api):
    client = api(api_key_for(owner, name="admin"))
    member = add_member(org, "user")
    api_key_for(member, name="theirs")
    paused = key_of(api_key_for(owner, name="paused"))
    gone = key_of(api_key_for(owner, name="gone"))
    client.post(f"{KEYS}/{paused.pk}", {"status": "inactive"}, format="json")
    client.post(f"{KEYS}/{gone.pk}/revoke")

    def names(**query):
        response = client.get(KEYS, query)
        assert response.status_code == 200, response.content
        return [k["name"] for k in response.json()["data"]]

    assert names() == ["admin", "theirs", "paused", "gone"]
    assert names(status="active") == ["admin", "theirs"]
    assert names(status="inactive") == ["paused"]
    assert names(status="archived") == ["gone"]
    assert names(status="expired") == []
    assert names(created_by_user_id=member.user_id) == ["theirs"]
    assert names(created_by_user_id=owner.user_id, status="active") == ["admin"]
    assert names(workspace_id="wrkspc_anything") == []  # every key belongs to the organization
    assert names(status="active", limit=1, after_id=key_of_name("admin").pk) == ["theirs"]
    assert client.get(KEYS, {"status": "revoked"}).json()["error"]["message"].startswith("status: 'revoked' is not")


def key_of_name(name):
    return ApiKey.objects.get(name=name)


@pytest.mark.parametrize("extra", [0, 30])
def test_filtered_list_and_retrieve_query_counts(api, owner, org, django_assert_num_queries, extra):
    for i in range(extra):
        api_key_for(owner, name=f"k{i}")
    client = api(api_key_for(owner, name="admin"))
    client.get(KEYS)
    with django_assert_num_queries(4):  # key, membership, permissions, the page
        assert client.get(KEYS, {"status": "active", "created_by_user_id": owner.user_id}).status_code == 200
    with django_assert_num_queries(3):  # expired and workspace_id match nothing without asking
        assert client.get(KEYS, {"workspace_id": "wrkspc_x"}).json()["data"] == []
    key = key_of_name("admin")
    with django_assert_num_queries(3):  # key, membership, the key asked for (its own: no permission needed)
        assert client.get(f"{KEYS}/{key.pk}").status_code == 200


# --- the console and the migration ---------------------------------------------------------------


def test_the_console_shows_paused_and_revoked_keys(org, owner, console):
    actor = actor_for(owner.user)
    paused = key_of(api_key_for(owner, name="paused"))
    services.api_key_update(actor=actor, api_key=paused, status="inactive")
    gone = key_of(api_key_for(owner, name="gone"))
    services.api_key_revoke(actor=actor, api_key=gone)
    page = console(owner.user).get("/api-keys/").content.decode()
    rows = {name: page.split(f"<td class=\"stack-title\">{name}</td>", 1)[1].split("</tr>", 1)[0] for name in ("paused", "gone")}
    assert "Paused" in rows["paused"] and "Revoke" in rows["paused"]  # a paused key can still be revoked
    assert "Revoked" in rows["gone"] and "/revoke/" not in rows["gone"]


@pytest.mark.django_db(transaction=True)
def test_the_migration_archives_revoked_keys():
    with as_schema_owner():  # migrations change tables, which only their owner may (SPEC §7)
        executor = MigrationExecutor(connection)
        executor.migrate([("orgs", "0007_role_levels_labelled")])
        try:
            old = executor.loader.project_state([("orgs", "0007_role_levels_labelled")]).apps
            Organization, User = old.get_model("orgs", "Organization"), old.get_model("orgs", "User")
            Membership, ApiKeyThen = old.get_model("orgs", "Membership"), old.get_model("orgs", "ApiKey")
            Role = old.get_model("orgs", "Role")
            Role.objects.get_or_create(pk="user", defaults={"name": "User", "builtin": True})
            org = Organization.objects.create(id="org_m", name="M", plan="team")
            user = User.objects.create(id="user_m", email="m@example.test")
            membership = Membership.objects.create(id="mbr_m", user=user, organization=org, role_id="user")
            ApiKeyThen.objects.create(id="apikey_live", membership=membership, name="live", key_hash="a" * 64,
                                      key_hint="x")
            ApiKeyThen.objects.create(id="apikey_old", membership=membership, name="old", key_hash="b" * 64,
                                      key_hint="y", revoked_at=timezone.now())
            WorkspaceThen = old.get_model("orgs", "Workspace")
            for n in range(3):
                WorkspaceThen.objects.create(id=f"wrkspc_{n}", organization=org, name=f"W{n}")
        finally:
            executor = MigrationExecutor(connection)
            executor.migrate(executor.loader.graph.leaf_nodes())
    assert dict(ApiKey.objects.values_list("pk", "status")) == {"apikey_live": "active", "apikey_old": "archived"}
    assert list(ApiKey.objects.usable().values_list("pk", flat=True)) == ["apikey_live"]
    workspaces = list(Workspace.objects.order_by("pk"))
    assert len({w.compartment_id for w in workspaces}) == 3 and all(w.compartment_id.startswith("cmpt_")
                                                                    for w in workspaces)
    assert all(w.display_color in WORKSPACE_COLORS and w.tags == {} for w in workspaces)
