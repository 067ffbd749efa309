"""/v1/organizations/workspaces (SPEC §2 Workspaces, §3 contract)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent
from orgs.models import MAX_ACTIVE_WORKSPACES, Workspace
from residency import services as residency_services
from tests.factories import actor_for, make_org, primary_owner

URL = "/v1/organizations/workspaces"
DEFAULTS = {"workspace_geo": "us", "allowed_inference_geos": "unrestricted", "default_inference_geo": "global"}


@pytest.fixture
def ws(org, owner):
    return residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="Production")


@pytest.fixture
def owner_api(owner, api, key_for):
    return api(key_for(owner))


def error(response):
    body = response.json()
    assert body["type"] == "error"
    return response.status_code, body["error"]["type"], body["error"]["message"]


def last_event(org, action):
    return AuditEvent.objects.filter(organization=org, action=action).order_by("-seq").first()


# --- shape and defaults ---------------------------------------------------------------------

def test_create_with_defaults_and_read_back(org, owner, owner_api):
    response = owner_api.post(URL, {"name": "  Research  "}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["id"].startswith("wrkspc_") and len(body["id"]) > 12
    assert body["type"] == "workspace" and body["name"] == "Research"
    assert body["archived_at"] is None and body["created_at"].endswith("Z")
    assert body["data_residency"] == DEFAULTS
    assert owner_api.get(f"{URL}/{body['id']}").json() == body
    event = last_event(org, "workspace.created")
    assert (event.actor_type, event.actor_user_id, event.source, event.target_id) == (
        "api_key", owner.user_id, "rest", body["id"])
    assert event.before is None
    assert event.after == {"name": "Research", "data_residency": DEFAULTS, "display_color": body["display_color"],
                           "tags": {}}


def test_create_with_residency(owner_api):
    residency = {"workspace_geo": "us", "allowed_inference_geos": ["us"], "default_inference_geo": "us"}
    body = owner_api.post(URL, {"name": "US", "data_residency": residency}, format="json").json()
    assert body["data_residency"] == residency
    body = owner_api.post(URL, {"name": "Both", "data_residency": {"allowed_inference_geos": ["global", "us"]}},
                          format="json").json()
    assert body["data_residency"] == {"workspace_geo": "us", "allowed_inference_geos": ["global", "us"],
                                      "default_inference_geo": "global"}


def test_partial_update_keeps_what_is_left_out(org, owner, owner_api, ws):
    url = f"{URL}/{ws.id}"
    response = owner_api.post(url, {"data_residency": {"allowed_inference_geos": ["us"],
                                                       "default_inference_geo": "us"}}, format="json")
    assert response.status_code == 200
    assert response.json()["data_residency"] == {"workspace_geo": "us", "allowed_inference_geos": ["us"],
                                                 "default_inference_geo": "us"}
    event = last_event(org, "workspace.updated")
    assert event.actor_user_id == owner.user_id and event.actor_role == "Primary owner"
    assert event.before == {"data_residency": {"allowed_inference_geos": "unrestricted",
                                               "default_inference_geo": "global"}}
    assert event.after == {"data_residency": {"allowed_inference_geos": ["us"], "default_inference_geo": "us"}}
    # only the name: residency untouched
    body = owner_api.post(url, {"name": "Prod"}, format="json").json()
    assert body["name"] == "Prod" and body["data_residency"]["allowed_inference_geos"] == ["us"]
    # widen allowed; default stays us
    body = owner_api.post(url, {"data_residency": {"allowed_inference_geos": "unrestricted"}}, format="json").json()
    assert body["data_residency"] == {"workspace_geo": "us", "allowed_inference_geos": "unrestricted",
                                      "default_inference_geo": "us"}
    # a no-op writes no audit row
    count = AuditEvent.objects.filter(organization=org).count()
    assert owner_api.post(url, {"data_residency": {"default_inference_geo": "us"}}, format="json").status_code == 200
    assert owner_api.post(url, {}, format="json").status_code == 200
    assert AuditEvent.objects.filter(organization=org).count() == count


# --- every validation error -----------------------------------------------------------------

# (null, in data_residency or for one of its members, means the default since SPEC §9: those cases
# are in test_workspaces_sdk_fields now)
CREATE_ERRORS = [
    ({}, "name: Give the workspace a name"),
    ({"name": "   "}, "name: Give the workspace a name"),
    ({"name": 7}, "name: Must be a string"),
    ({"name": "x" * 201}, "name: Use at most 200 characters"),
    ({"name": "W", "colour": "red"}, "colour: Unknown field"),
    ({"name": "W", "data_residency": ["us"]}, "data_residency: Must be an object"),
    ({"name": "W", "data_residency": {"region": "us"}}, "data_residency.region: Unknown field"),
    ({"name": "W", "data_residency": {"workspace_geo": "global"}}, "data_residency.workspace_geo: 'global' is not"),
    ({"name": "W", "data_residency": {"workspace_geo": "eu"}}, "use one of: us"),
    ({"name": "W", "data_residency": {"allowed_inference_geos": []}}, "non-empty list"),
    ({"name": "W", "data_residency": {"allowed_inference_geos": "us"}}, 'Must be "unrestricted" or a non-empty list'),
    ({"name": "W", "data_residency": {"allowed_inference_geos": "all"}}, 'Must be "unrestricted"'),
    ({"name": "W", "data_residency": {"allowed_inference_geos": [1]}}, 'Must be "unrestricted"'),
    ({"name": "W", "data_residency": {"allowed_inference_geos": ["us", "us"]}}, "List each geo at most once"),
    ({"name": "W", "data_residency": {"allowed_inference_geos": ["us", "eu"]}}, "Unknown geo eu; valid values are global, us"),
    ({"name": "W", "data_residency": {"default_inference_geo": "eu"}}, "'eu' is not a valid inference geo"),
    ({"name": "W", "data_residency": {"allowed_inference_geos": ["us"]}},
     "'global' is not in allowed_inference_geos (us)"),
    ({"name": "W", "data_residency": {"allowed_inference_geos": ["global"], "default_inference_geo": "us"}},
     "'us' is not in allowed_inference_geos (global); choose one of those."),
]


@pytest.mark.parametrize(("body", "words"), CREATE_ERRORS)
def test_create_validation_errors(org, owner_api, body, words):
    status, error_type, message = error(owner_api.post(URL, body, format="json"))
    assert (status, error_type) == (400, "invalid_request_error")
    assert words in message
    assert not Workspace.objects.filter(organization=org).exists()


UPDATE_ERRORS = [
    ({"data_residency": {"workspace_geo": "us"}}, "workspace_geo is chosen when a workspace is created"),
    ({"name": ""}, "name: Give the workspace a name"),
    ({"name": None}, "name: Must be a string"),
    ({"data_residency": {"allowed_inference_geos": ["us"]}},
     "'global' is not in allowed_inference_geos (us); choose one of those and send default_inference_geo too."),
    ({"data_residency": {"default_inference_geo": "mars"}}, "'mars' is not a valid inference geo"),
    ({"data_residency": {"allowed_inference_geos": []}}, "non-empty list"),
    ({"id": "wrkspc_x"}, "id: Unknown field"),
]


@pytest.mark.parametrize(("body", "words"), UPDATE_ERRORS)
def test_update_validation_errors(owner_api, ws, body, words):
    status, error_type, message = error(owner_api.post(f"{URL}/{ws.id}", body, format="json"))
    assert (status, error_type) == (400, "invalid_request_error")
    assert words in message
    ws.refresh_from_db()
    assert (ws.name, ws.data_residency) == ("Production", DEFAULTS)


# --- archived workspaces and the limit ---------------------------------------------------------

def test_archive_hides_from_list_and_refuses_changes(org, owner, owner_api, ws):
    other = owner_api.post(URL, {"name": "Other"}, format="json").json()
    response = owner_api.post(f"{URL}/{ws.id}/archive", format="json")
    assert response.status_code == 200
    archived_at = response.json()["archived_at"]
    assert archived_at is not None
    event = last_event(org, "workspace.archived")
    assert event.actor_user_id == owner.user_id and event.before == {"archived_at": None}
    assert event.after["archived_at"].startswith(archived_at[:19])
    assert [w["id"] for w in owner_api.get(URL).json()["data"]] == [other["id"]]
    assert [w["id"] for w in owner_api.get(URL, {"include_archived": "true"}).json()["data"]] == [ws.id, other["id"]]
    assert owner_api.get(f"{URL}/{ws.id}").json()["archived_at"] == archived_at
    status, _, message = error(owner_api.post(f"{URL}/{ws.id}", {"name": "Back"}, format="json"))
    assert status == 400 and "archived" in message
    # archiving is permanent and idempotent: again is a no-op, with no second audit row
    assert owner_api.post(f"{URL}/{ws.id}/archive", format="json").json()["archived_at"] == archived_at
    assert AuditEvent.objects.filter(organization=org, action="workspace.archived").count() == 1


def test_include_archived_must_be_a_boolean(owner_api, db):
    status, _, message = error(owner_api.get(URL, {"include_archived": "yes"}))
    assert status == 400 and "include_archived" in message


def test_at_most_100_active_workspaces(org, owner, owner_api):
    actor = actor_for(owner.user)
    made = [residency_services.workspace_create(actor=actor, organization=org, name=f"W{i}")
            for i in range(MAX_ACTIVE_WORKSPACES)]
    status, error_type, message = error(owner_api.post(URL, {"name": "One too many"}, format="json"))
    assert (status, error_type) == (400, "invalid_request_error")
    assert "100 active workspaces" in message and "archive one" in message
    owner_api.post(f"{URL}/{made[0].id}/archive", format="json")
    assert owner_api.post(URL, {"name": "Now it fits"}, format="json").status_code == 200
    # the limit is per organization
    other = make_org(name="Other")
    assert residency_services.workspace_create(actor=actor_for(primary_owner(other).user), organization=other, name="Fine")


# --- lists ----------------------------------------------------------------------------------

def test_list_pagination(org, owner, owner_api):
    actor = actor_for(owner.user)
    ids = [residency_services.workspace_create(actor=actor, organization=org, name=f"W{i}").id for i in range(5)]
    page = owner_api.get(URL, {"limit": 2}).json()
    assert [w["id"] for w in page["data"]] == ids[:2]
    assert page["has_more"] is True and page["first_id"] == ids[0] and page["last_id"] == ids[1]
    page = owner_api.get(URL, {"limit": 2, "after_id": ids[1]}).json()
    assert [w["id"] for w in page["data"]] == ids[2:4]
    page = owner_api.get(URL, {"limit": 2, "after_id": ids[3]}).json()
    assert [w["id"] for w in page["data"]] == ids[4:] and page["has_more"] is False
    page = owner_api.get(URL, {"limit": 2, "before_id": ids[4]}).json()
    assert [w["id"] for w in page["data"]] == ids[2:4]
    assert error(owner_api.get(URL, {"limit": 0}))[0] == 400
    assert error(owner_api.get(URL, {"after_id": "wrkspc_nope"}))[0] == 400


def test_empty_list(owner_api, db):
    assert owner_api.get(URL).json() == {"data": [], "has_more": False, "first_id": None, "last_id": None}


@pytest.mark.parametrize("role", ["privacy_view", "user"])
def test_list_query_count_is_the_same_for_one_and_many_rows(org, owner, member_factory, api, key_for,
                                                            django_assert_num_queries, role):
    member = member_factory(org, role)
    client = api(key_for(member))
    actor = actor_for(owner.user)
    counts = []
    for n in (1, 30):
        while Workspace.objects.filter(organization=org).count() < n:
            w = residency_services.workspace_create(actor=actor, organization=org, name="W")
            if role == "user":
                residency_services.workspace_admin_set(actor=actor, workspace=w, membership=member, admin=True)
        client.get(URL)  # warm up the key's last_used_at
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(URL, {"limit": 100})
        assert len(response.json()["data"]) == n
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1]
    with django_assert_num_queries(counts[0]):
        client.get(URL, {"limit": 100})


# --- role and tenant matrix -------------------------------------------------------------------

# role -> (list sees it, create, read, update, archive)
MATRIX = {
    "primary_owner": (True, 200, 200, 200, 200),
    "owner": (True, 200, 200, 200, 200),
    "privacy_manage": (True, 200, 200, 200, 200),
    "privacy_view": (True, 403, 200, 403, 403),
    "privacy_none": (False, 403, 404, 404, 404),
    "auditor": (False, 403, 404, 404, 404),
    "admin": (False, 403, 404, 404, 404),
    "user": (False, 403, 404, 404, 404),
    "workspace_admin": (True, 403, 200, 200, 403),  # a user delegated admin of this workspace
    "other_org": (False, None, 404, 404, 404),
    "anonymous": (False, 401, 401, 401, 401),
}


@pytest.mark.parametrize("role", list(MATRIX))
def test_role_and_tenant_matrix(org, owner, ws, member_factory, api, key_for, role):
    sees, create, read, update, archive = MATRIX[role]
    if role == "anonymous":
        client = api()
    elif role == "other_org":
        client = api(key_for(primary_owner(make_org(name="Other"))))
    else:
        member = member_factory(org, "user" if role == "workspace_admin" else role)
        if role == "workspace_admin":
            residency_services.workspace_admin_set(actor=actor_for(owner.user), workspace=ws, membership=member, admin=True)
        client = api(key_for(member))
    listing = client.get(URL)
    if role == "anonymous":
        assert listing.status_code == 401
        assert error(listing)[1] == "authentication_error"
    else:
        assert listing.status_code == 200
        assert (ws.id in [w["id"] for w in listing.json()["data"]]) is sees
    if create is not None:
        response = client.post(URL, {"name": "New"}, format="json")
        assert response.status_code == create
        if create == 403:
            assert "Privacy: Can manage" in error(response)[2]
    assert client.get(f"{URL}/{ws.id}").status_code == read
    body = {"data_residency": {"allowed_inference_geos": ["us"], "default_inference_geo": "us"}}
    assert client.post(f"{URL}/{ws.id}", body, format="json").status_code == update
    assert client.post(f"{URL}/{ws.id}/archive", format="json").status_code == archive
    ws.refresh_from_db()
    assert (ws.data_residency["default_inference_geo"] == "us") is (update == 200)
    assert ws.is_archived is (archive == 200)


def test_a_viewers_denied_change_is_audited(org, ws, member_factory, api, key_for):
    viewer = member_factory(org, "privacy_view")
    response = api(key_for(viewer)).post(f"{URL}/{ws.id}", {"data_residency": {"default_inference_geo": "us"}},
                                         format="json")
    status, error_type, message = error(response)
    assert (status, error_type) == (403, "permission_error")
    assert "Privacy: Can manage or workspace admin" in message
    event = last_event(org, "workspace.residency_change_denied")
    assert event.outcome == "denied" and event.actor_user_id == viewer.user_id
    assert event.actor_role == "privacy_view" and event.source == "rest"
    assert event.before == {"data_residency": DEFAULTS}
    assert event.after == {"name": None, "data_residency": {"default_inference_geo": "us"}}


def test_workspace_admin_manages_only_their_workspace(org, owner, member_factory, api, key_for):
    actor = actor_for(owner.user)
    mine = residency_services.workspace_create(actor=actor, organization=org, name="Mine")
    theirs = residency_services.workspace_create(actor=actor, organization=org, name="Theirs")
    member = member_factory(org, "user")
    residency_services.workspace_admin_set(actor=actor, workspace=mine, membership=member, admin=True)
    event = last_event(org, "workspace.admin_granted")
    assert event.target_id == mine.id and event.after["user_id"] == member.user_id
    client = api(key_for(member))
    assert [w["id"] for w in client.get(URL).json()["data"]] == [mine.id]
    body = {"data_residency": {"default_inference_geo": "us"}}
    assert client.post(f"{URL}/{mine.id}", body, format="json").status_code == 200
    assert client.post(f"{URL}/{theirs.id}", body, format="json").status_code == 404
    residency_services.workspace_admin_set(actor=actor, workspace=mine, membership=member, admin=False)
    assert client.post(f"{URL}/{mine.id}", body, format="json").status_code == 404


def test_another_orgs_workspace_is_404_even_for_a_member_of_both(org, owner, api, key_for, ws):
    other = make_org(name="Other", owner_email=owner.user.email)
    client = api(key_for(primary_owner(other)))  # the same person, acting with the other org's key
    assert client.get(f"{URL}/{ws.id}").status_code == 404
    assert client.post(f"{URL}/{ws.id}", {"name": "x"}, format="json").status_code == 404
    assert client.post(f"{URL}/{ws.id}/archive", format="json").status_code == 404
    assert ws.id not in [w["id"] for w in client.get(URL, {"include_archived": "true"}).json()["data"]]


def test_console_session_can_use_the_api(owner, ws, client):
    client.force_login(owner.user)
    response = client.get(f"{URL}/{ws.id}")
    assert response.status_code == 200

