"""core.pagination: the one paging scheme every REST list uses (SPEC §3 Lists)."""

from datetime import UTC, datetime

import pytest

from orgs.models import Workspace
from tests.residency.helpers import workspace

pytestmark = pytest.mark.django_db

URL = "/v1/organizations/workspaces"


def test_rows_with_the_same_timestamp_are_each_listed_once_both_ways(org, owner, api, key_for):
    made = [workspace(org, f"W{i}").pk for i in range(7)]
    Workspace.objects.filter(pk__in=made).update(created_at=datetime(2026, 3, 1, tzinfo=UTC))
    client = api(key_for(owner))
    seen, params = [], {"limit": 3}
    while True:
        page = client.get(URL, params).json()
        seen += [w["id"] for w in page["data"]]
        if not page["has_more"]:
            break
        params = {"limit": 3, "after_id": page["last_id"]}
    assert sorted(seen) == sorted(made) and len(seen) == len(set(seen)) == 7
    back, params = [], {"limit": 3, "before_id": seen[-1]}
    while True:
        page = client.get(URL, params).json()
        back = [w["id"] for w in page["data"]] + back
        if not page["has_more"]:
            break
        params = {"limit": 3, "before_id": page["first_id"]}
    assert back == seen[:-1]


@pytest.mark.parametrize("params, message", [
    ({"limit": ""}, "limit: must be an integer from 1 to 1000, got ''."),
    ({"limit": "1e3"}, "limit: must be an integer from 1 to 1000, got '1e3'."),
    ({"after_id": "wrkspc_x", "before_id": "wrkspc_y"}, "Send at most one of after_id and before_id."),
    ({"before_id": "wrkspc_gone"}, "before_id: no object with id 'wrkspc_gone' in this list."),
])
def test_bad_parameters_say_what_to_fix(org, owner, api, key_for, params, message):
    response = api(key_for(owner)).get(URL, params)
    assert response.status_code == 400 and response.json()["error"]["message"] == message


@pytest.mark.parametrize("cursor", ["abc", "12345678901234567890", "-0.0", "1e400", "9223372036854775808"])
def test_an_audit_event_id_that_cannot_be_one_is_a_400_naming_it(org, owner, api, key_for, cursor):
    response = api(key_for(owner)).get("/v1/organizations/audit_events", {"after_id": cursor})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == f"after_id: no audit event with id {cursor!r} in this list."


def test_an_id_from_another_list_is_not_a_cursor(org, owner, api, key_for):
    ws = workspace(org, "Prod")
    response = api(key_for(owner)).get("/v1/organizations/users", {"after_id": ws.pk})
    assert response.status_code == 400 and "after_id" in response.json()["error"]["message"]
