"""GET /v1/organizations/audit_events: who sees what, filters, cursors, CSV."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.events import RESIDENCY_ACTIONS
from audit.models import AuditEvent
from residency import services as residency_services
from tests.factories import actor_for, make_org
from tests.residency.helpers import workspace

URL = "/v1/organizations/audit_events"


@pytest.fixture
def history(org, owner):
    """Residency and non-residency events in the org: us-only on, a workspace, a key."""
    actor = actor_for(owner.user)
    residency_services.inference_residency_set(actor=actor, organization=org, us_only=True)
    ws = workspace(org, "Prod")
    residency_services.workspace_update(actor=actor, workspace=ws, data_residency={"allowed_inference_geos": ["us"],
                                                                          "default_inference_geo": "us"})
    return ws


ALL, RESIDENCY, HIDDEN = "all", "residency", 404


@pytest.mark.django_db
@pytest.mark.parametrize("role, expected", [
    ("primary_owner", ALL), ("owner", ALL), ("auditor", ALL), ("privacy_manage", RESIDENCY),
    ("privacy_view", RESIDENCY), ("privacy_none", HIDDEN), ("admin", HIDDEN), ("user", HIDDEN),
])
def test_role_matrix(org, history, member_factory, key_for, api, role, expected):
    member = member_factory(org, role)
    response = api(key_for(member)).get(URL, {"limit": 1000})
    if expected == HIDDEN:
        assert response.status_code == 404
        assert response.json()["error"]["type"] == "not_found_error"
        return
    assert response.status_code == 200
    actions = {e["action"] for e in response.json()["data"]}
    if expected == ALL:
        assert {"organization.created", "member.added", "api_key.created", "inference_residency.updated"} <= actions
    else:
        assert actions and actions <= set(RESIDENCY_ACTIONS)
        assert {"inference_residency.updated", "workspace.updated"} <= actions


@pytest.mark.django_db
def test_anonymous_is_401_and_nothing_can_be_written(api, org, owner, key_for):
    assert api().get(URL).status_code == 401
    client = api(key_for(owner))
    for method in ("post", "put", "patch", "delete"):
        assert getattr(client, method)(URL, {}, format="json").status_code == 405


@pytest.mark.django_db
def test_another_organizations_events_are_invisible(org, owner, history, api, key_for):
    other = make_org(name="Other")
    from tests.factories import primary_owner

    other_owner = primary_owner(other)
    body = api(key_for(other_owner)).get(URL, {"limit": 1000}).json()
    ours = set(AuditEvent.objects.filter(organization=org).values_list("pk", flat=True))
    assert body["data"] and not {int(e["id"]) for e in body["data"]} & ours
    # a cursor pointing at our events is unknown to them
    response = api(key_for(other_owner)).get(URL, {"after_id": str(max(ours))})
    assert response.status_code == 400
    assert "after_id" in response.json()["error"]["message"]
    # and filtering by our ids finds nothing
    assert api(key_for(other_owner)).get(URL, {"target_id": history.pk}).json()["data"] == []


@pytest.mark.django_db
def test_event_shape_newest_first(org, owner, history, api, key_for):
    body = api(key_for(owner)).get(URL).json()
    first = body["data"][0]
    assert first["action"] == "api_key.created"  # the key made for this request is the newest event
    update = next(e for e in body["data"] if e["action"] == "workspace.updated")
    assert update["description"] == (f"{owner.user} changed workspace Prod: allowed geos unrestricted → us; "
                                     "default geo global → us")
    assert update["id"].isdigit() and update["type"] == "audit_event"
    assert update["actor"] == {"type": "user", "id": owner.user_id, "user_id": owner.user_id,
                               "label": str(owner.user), "role": "Primary owner", "key_created_by": None}
    assert update["target"] == {"type": "workspace", "id": history.pk, "label": "Prod"}
    assert update["before"] == {"data_residency": {"allowed_inference_geos": "unrestricted",
                                                   "default_inference_geo": "global"}}
    assert update["source"] == "console" and update["ip"] == "127.0.0.1"
    seqs = [e["seq"] for e in body["data"]]
    assert seqs == sorted(seqs, reverse=True)
    assert body["first_id"] == body["data"][0]["id"] and body["last_id"] == body["data"][-1]["id"]


@pytest.mark.django_db
def test_filters(org, owner, history, api, key_for, member_factory):
    key_secret = key_for(owner)
    client = api(key_secret)
    data = client.get(URL, {"action": "workspace.updated"}).json()["data"]
    assert [e["action"] for e in data] == ["workspace.updated"]
    assert {e["target"]["id"] for e in client.get(URL, {"target_id": history.pk}).json()["data"]} == {history.pk}
    # a user id matches what they did in person and through their keys
    by_user = client.get(URL, {"actor_id": owner.user_id, "limit": 1000}).json()["data"]
    assert by_user and all(e["actor"]["user_id"] == owner.user_id for e in by_user)
    system = client.get(URL, {"actor_id": "system"}).json()["data"]
    assert {e["action"] for e in system} == {"organization.created", "member.added"}
    future = (timezone.now() + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert client.get(URL, {"starting_at": future}).json()["data"] == []
    assert len(client.get(URL, {"ending_at": future, "limit": 1000}).json()["data"]) == \
        AuditEvent.objects.filter(organization=org).count()


@pytest.mark.django_db
@pytest.mark.parametrize("params, message", [
    ({"action": "nope"}, "action: Unknown action 'nope'"),
    ({"starting_at": "yesterday"}, "starting_at: 'yesterday' is not an RFC 3339 timestamp"),
    ({"ending_at": "2026-03-01T00:00:00"}, "ending_at: '2026-03-01T00:00:00' has no time zone offset"),
    ({"starting_at": "2026-03-02T00:00:00Z", "ending_at": "2026-03-01T00:00:00Z"}, "ending_at: must be after"),
    ({"limit": "0"}, "limit: must be from 1 to 1000"),
    ({"after_id": "1", "before_id": "2"}, "at most one of after_id and before_id"),
    ({"after_id": "abc"}, "after_id: no audit event with id 'abc'"),
    ({"format": "xml"}, "format: Unknown format 'xml'"),
])
def test_bad_parameters_are_400_naming_them(org, owner, api, key_for, params, message):
    response = api(key_for(owner)).get(URL, params)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


@pytest.mark.django_db
def test_cursor_pagination_walks_every_event_once_both_ways(org, owner, history, api, key_for):
    client = api(key_for(owner))
    total = AuditEvent.objects.filter(organization=org).count()
    seen, params = [], {"limit": 2}
    while True:
        body = client.get(URL, params).json()
        seen += [e["id"] for e in body["data"]]
        if not body["has_more"]:
            break
        params = {"limit": 2, "after_id": body["last_id"]}
    assert len(seen) == total == len(set(seen))
    back = client.get(URL, {"limit": 2, "before_id": seen[-1]}).json()
    assert [e["id"] for e in back["data"]] == seen[-3:-1] and back["has_more"] is True
    top = client.get(URL, {"limit": 2, "before_id": seen[2]}).json()
    assert [e["id"] for e in top["data"]] == seen[:2] and top["has_more"] is False


@pytest.mark.django_db
def test_privacy_viewer_cannot_use_a_non_residency_event_as_cursor(org, owner, history, member_factory, api,
                                                                   key_for):
    viewer = member_factory(org, "privacy_view")
    hidden = AuditEvent.objects.filter(organization=org, action="member.added").first()
    response = api(key_for(viewer)).get(URL, {"after_id": str(hidden.pk)})
    assert response.status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_an_export_holds_limit_to_its_bounds_though_paging_does_not_apply(org, owner, history, api, key_for, fmt):
    client = api(key_for(owner))
    for limit in ("441442012197831", "0", "x"):
        response = client.get(URL, {"format": fmt, "limit": limit})
        assert response.status_code == 400 and response.json()["error"]["message"].startswith("limit: must be")
    every = b"".join(client.get(URL, {"format": fmt}).streaming_content)
    assert b"".join(client.get(URL, {"format": fmt, "limit": "1"}).streaming_content) == every  # not a page


@pytest.mark.django_db
def test_format_csv_streams_the_filtered_set(org, owner, history, api, key_for):
    response = api(key_for(owner)).get(URL, {"format": "csv", "action": "workspace.updated"})
    assert response.status_code == 200
    assert response["content-type"].startswith("text/csv")
    assert response.streaming
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 1
    row = rows[0]
    assert row["action"] == "workspace.updated" and row["target_id"] == history.pk
    assert row["description"].endswith("changed workspace Prod: allowed geos unrestricted → us; default geo global → us")
    assert row["actor_role"] == "Primary owner" and row["source"] == "console" and row["ip"] == "127.0.0.1"
    assert row["changes"] == "allowed geos unrestricted → us; default geo global → us"
    assert row["hash"] == AuditEvent.objects.get(pk=row["id"]).hash


@pytest.mark.django_db
def test_query_count_is_the_same_for_one_event_and_many(org, owner, history, api, key_for,
                                                         django_assert_num_queries):
    client = api(key_for(owner))
    client.get(URL)  # the key's last_used_at is written on first use; keep it out of the count
    with django_assert_num_queries(5):
        assert len(client.get(URL, {"limit": 1}).json()["data"]) == 1
    with django_assert_num_queries(5):
        assert len(client.get(URL, {"limit": 100}).json()["data"]) > 5


@pytest.mark.django_db
def test_the_rest_list_and_the_json_export_write_the_same_event(org, owner, history, api, key_for):
    """AuditEventSerializer (REST) and audit.export.event_json (streamed exports) agree field by field."""
    from audit.export import event_json
    from audit.selectors import audit_names

    names = audit_names(org)
    data = api(key_for(owner)).get(URL, {"limit": 1000}).json()["data"]
    events = {str(e.pk): e for e in AuditEvent.objects.filter(organization=org)}
    assert len(data) == len(events)
    for item in data:
        exported = event_json(events[item["id"]], names)
        assert {key: exported[key] for key in item} == item
