"""POST /v1/organizations/usage_records: validation, all-or-nothing, idempotency, who may send."""

import pytest
from django.db import connection

from audit.models import AuditEvent
from residency.models import UsageRecord, UsageRollup
from residency.services import MAX_RECORDS
from tests.factories import make_org, primary_owner
from tests.residency.helpers import apps_row, member_with, usage_row, workspace

URL = "/v1/organizations/usage_records"


@pytest.fixture
def ws(org):
    return workspace(org, "Prod")


def post(client, records):
    return client.post(URL, {"records": records}, format="json")


@pytest.mark.django_db
def test_accepts_rows_and_is_idempotent_by_id(org, owner, ws, api, key_for):
    client = api(key_for(owner))
    rows = [usage_row(ws, 1), usage_row(ws, 2, model="claude-haiku-4-5", inference_geo="not_available")]
    response = post(client, rows)
    assert response.status_code == 200
    assert response.json() == {"accepted": 2, "duplicates": 0}
    again = post(client, [*rows, usage_row(ws, 3), usage_row(ws, 3)])
    assert again.json() == {"accepted": 1, "duplicates": 3}
    assert UsageRecord.objects.filter(organization=org).count() == 3
    daily = UsageRollup.objects.get(organization=org, width="1d", model_id="claude-opus-4-6")
    assert daily.records == 2 and daily.uncached_input_tokens == 2000  # duplicates never double-count


@pytest.mark.django_db
def test_ingestion_is_not_audited(org, owner, ws, api, key_for):
    client = api(key_for(owner))
    before = AuditEvent.objects.filter(organization=org).count()
    post(client, [usage_row(ws)])
    assert AuditEvent.objects.filter(organization=org).count() == before


@pytest.mark.django_db
def test_the_same_id_in_another_organization_is_another_row(org, owner, ws, api, key_for):
    other = make_org(name="Other")
    other_ws = workspace(other, "Theirs")
    post(api(key_for(owner)), [usage_row(ws, 1)])
    assert post(api(key_for(primary_owner(other))), [usage_row(other_ws, 1)]).json() == {"accepted": 1,
                                                                                          "duplicates": 0}


def _mutations(ws_id, other_ws_id):
    return [
        ({"workspace_id": "wrkspc_nope"}, "records[1].workspace_id: no workspace 'wrkspc_nope' in this organization."),
        ({"workspace_id": other_ws_id}, f"records[1].workspace_id: no workspace '{other_ws_id}' in this organization."),
        ({"model": "claude-7"}, "records[1].model: unknown model 'claude-7'"),
        ({"inference_geo": "eu"}, "records[1].inference_geo: 'eu' is not a geo"),
        ({"model": "claude-opus-4-5", "inference_geo": "us"},
         "records[1].inference_geo: claude-opus-4-5 does not report an inference geo; its rows carry 'not_available'"),
        ({"inference_geo": "not_available"}, "records[1].inference_geo: claude-opus-4-6 reports where it ran"),
        ({"service_tier": "flex"}, "records[1].service_tier: 'flex' is not a service tier"),
        ({"occurred_at": "yesterday"}, "records[1].occurred_at: 'yesterday' is not an RFC 3339 timestamp"),
        ({"occurred_at": "2026-03-01T10:00:00"}, "records[1].occurred_at: '2026-03-01T10:00:00' has no time zone"),
        ({"occurred_at": 1700000000}, "records[1].occurred_at: must be an RFC 3339 timestamp string"),
        ({"uncached_input_tokens": -5}, "records[1].uncached_input_tokens: must not be negative, got -5."),
        ({"output_tokens": "12"}, "records[1].output_tokens: must be a whole number of tokens, got '12'."),
        ({"output_tokens": 1.5}, "records[1].output_tokens: must be a whole number of tokens, got 1.5."),
        ({"cache_read_input_tokens": True}, "records[1].cache_read_input_tokens: must be a whole number"),
        ({"cache_creation": {"ephemeral_5m_input_tokens": -1}},
         "records[1].cache_creation.ephemeral_5m_input_tokens: must not be negative"),
        ({"cache_creation": {"ephemeral_10m_input_tokens": 1}}, "records[1].cache_creation.ephemeral_10m_input_tokens: "
                                                                "unknown field"),
        ({"cache_creation": 5}, "records[1].cache_creation: must be an object"),
        ({"id": ""}, "records[1].id: must be a non-empty string"),
        ({"id": 7}, "records[1].id: must be a non-empty string"),
        ({"output_token": 5}, "records[1].output_token: unknown field"),
        ({"uncached_input_tokens": 10**13}, "records[1].uncached_input_tokens: 10000000000000 is more than"),
    ]


@pytest.mark.django_db
def test_each_invalid_field_is_named_and_nothing_is_stored(org, owner, ws, api, key_for):
    client = api(key_for(owner))
    other_ws = workspace(make_org(name="Other"), "Theirs")
    for change, message in _mutations(ws.pk, other_ws.pk):
        bad = usage_row(ws, 2, **change)
        response = post(client, [usage_row(ws, 1), bad, usage_row(ws, 3)])
        assert response.status_code == 400, change
        body = response.json()
        assert body["error"]["type"] == "invalid_request_error"
        assert message in body["error"]["message"], (change, body["error"]["message"])
        assert "nothing was stored" in body["error"]["message"]
    assert not UsageRecord.objects.exists() and not UsageRollup.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("field", ["id", "workspace_id", "model", "inference_geo", "service_tier", "occurred_at"])
def test_required_fields(org, owner, ws, api, key_for, field):
    row = usage_row(ws)
    del row[field]
    response = post(api(key_for(owner)), [row])
    assert response.status_code == 400
    assert f"records[0].{field}: is required." in response.json()["error"]["message"]


@pytest.mark.django_db
@pytest.mark.parametrize("body, message", [
    ({}, "records: must be a non-empty list"),
    ({"records": []}, "records: must be a non-empty list"),
    ({"records": "x"}, "records: must be a non-empty list"),
    ({"records": [5]}, "records[0]: must be an object."),
])
def test_request_shape(org, owner, api, key_for, body, message):
    response = api(key_for(owner)).post(URL, body, format="json")
    assert response.status_code == 400 and message in response.json()["error"]["message"]


@pytest.mark.django_db
def test_too_many_rows_is_413(org, owner, ws, api, key_for):
    response = post(api(key_for(owner)), [usage_row(ws, i) for i in range(MAX_RECORDS + 1)])
    assert response.status_code == 413
    assert response.json()["error"]["type"] == "request_too_large"
    assert f"at most {MAX_RECORDS}" in response.json()["error"]["message"]


@pytest.mark.django_db
def test_a_body_over_the_upload_limit_is_413_in_the_contract_shape(org, owner, ws, api, key_for, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post(api(key_for(owner)), [usage_row(ws, i) for i in range(10)])
    assert response.status_code == 413
    assert response.json()["error"] == {
        "type": "request_too_large",
        "message": "The request body is larger than 1000 bytes; send it in smaller requests.",
        "details": None,
    }


@pytest.mark.django_db
def test_many_errors_are_capped_in_the_message(org, owner, ws, api, key_for):
    rows = [usage_row(ws, i, model="nope") for i in range(30)]
    message = post(api(key_for(owner)), rows).json()["error"]["message"]
    assert "records[19].model" in message and "records[20].model" not in message
    assert "and 10 more problems; nothing was stored." in message


@pytest.mark.django_db
@pytest.mark.parametrize("who, status", [
    ("primary_owner", 200), ("owner", 200), ("billing_manage", 200), ("billing_view", 403),
    ("analytics_view", 403), ("auditor", 404), ("privacy_manage", 404), ("admin", 404), ("user", 404),
])
def test_who_may_ingest(org, ws, api, key_for, member_factory, who, status):
    levels = {"billing_manage": {"billing": "manage"}, "billing_view": {"billing": "view"},
              "analytics_view": {"analytics": "view"}}
    member = member_with(org, who, levels[who]) if who in levels else member_factory(org, who)
    response = post(api(key_for(member)), [usage_row(ws)])
    assert response.status_code == status
    assert UsageRecord.objects.exists() == (status == 200)


@pytest.mark.django_db
def test_anonymous_is_401(api):
    assert api().post(URL, {"records": []}, format="json").status_code == 401


@pytest.mark.django_db
def test_query_count_is_the_same_for_one_row_and_many(org, owner, ws, api, key_for, django_assert_num_queries):
    client = api(key_for(owner))
    post(client, [usage_row(ws, 0)])
    # key, membership (view), membership (service), permissions, workspaces, catalog, geos,
    # savepoint, insert, rollup upsert, release (SQLite); savepoint, staging table (create if
    # needed, empty), COPY, insert + rollup upsert in one statement, release (PostgreSQL)
    queries = 12 if connection.vendor == "postgresql" else 11
    with django_assert_num_queries(queries):
        assert post(client, [usage_row(ws, 1)]).json()["accepted"] == 1
    rows = [usage_row(ws, i, occurred_at=f"2026-03-01T{i % 24:02d}:00:00Z") for i in range(100, 400)]
    with django_assert_num_queries(queries):
        assert post(client, rows).json()["accepted"] == 300


@pytest.mark.django_db(transaction=True)
def test_committed_requests_one_after_another_store_each_row_once(committed_db):
    """Each request commits on its own (PostgreSQL: the staging table is emptied at commit)."""
    from residency.services import usage_ingest
    from tests.factories import actor_for

    org = make_org()
    owner = primary_owner(org)
    ws = workspace(org, "Prod")
    actor = actor_for(owner.user)
    assert not connection.in_atomic_block
    first = usage_ingest(actor=actor, organization=org, records=[usage_row(ws, i) for i in range(3)])
    second = usage_ingest(actor=actor, organization=org, records=[usage_row(ws, i) for i in range(2, 6)])
    assert (first.as_json(), second.as_json()) == ({"accepted": 3, "duplicates": 0}, {"accepted": 3, "duplicates": 1})
    assert UsageRecord.objects.filter(organization=org).count() == 6
    daily = UsageRollup.objects.get(organization=org, width="1d")
    hourly = UsageRollup.objects.get(organization=org, width="1h")
    assert (daily.records, daily.uncached_input_tokens) == (hourly.records, hourly.uncached_input_tokens) == (6, 6000)


def test_the_documented_row_is_the_row_the_validator_takes():
    """The row's schema (UsageRecordSerializer) documents what the fast validator checks."""
    from residency.api.usage import MAX_RECORD_ID, UsageRecordSerializer
    from residency.services import CACHE_FIELDS, COUNT_FIELDS, MAX_TOKENS, RECORD_FIELDS, REQUIRED_FIELDS, SERVICE_TIERS

    fields = UsageRecordSerializer().fields
    assert set(fields) == RECORD_FIELDS
    assert {name for name, f in fields.items() if f.required} == set(REQUIRED_FIELDS)
    assert set(fields["cache_creation"].fields) == CACHE_FIELDS
    assert tuple(fields["service_tier"].choices) == SERVICE_TIERS
    counts = [fields[name] for name in COUNT_FIELDS] + list(fields["cache_creation"].fields.values())
    assert all((f.min_value, f.max_value) == (0, MAX_TOKENS) for f in counts)
    assert fields["id"].max_length == MAX_RECORD_ID


@pytest.mark.django_db
def test_the_documented_bounds_are_the_enforced_ones(org, owner, ws, api, key_for):
    client = api(key_for(owner))
    assert post(client, [usage_row(ws, 1, id="x" * 100, output_tokens=10**12)]).status_code == 200
    assert post(client, [usage_row(ws, 2, id="x" * 101)]).status_code == 400
    assert post(client, [usage_row(ws, 3, output_tokens=10**12 + 1)]).status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize("occurred_at, status", [
    ("0001-01-01T00:00:00Z", 200), ("0001-01-01T00:00:00-05:00", 200), ("9998-12-31T23:59:59Z", 200),
    ("0001-01-01T00:00:00+05:00", 400), ("9998-12-31T23:00:00-05:00", 400), ("9999-12-31T23:00:00-05:00", 400),
])
def test_timestamps_at_the_ends_of_the_calendar(org, owner, ws, api, key_for, occurred_at, status):
    response = post(api(key_for(owner)), [usage_row(ws, 1, occurred_at=occurred_at)])
    assert response.status_code == status, response.content
    if status == 400:
        assert "records[0].occurred_at: " in response.json()["error"]["message"]
        assert "out of range; use a date between years 1 and 9998" in response.json()["error"]["message"]


# --- the apps surface: Claude apps rows name no workspace, API rows name one ------------------

APPS_NO_WORKSPACE = "records[1].workspace_id: Claude apps rows have no workspace; leave workspace_id out."
API_NEEDS_WORKSPACE = ('records[1].workspace_id: is required. (API rows, surface "api" the default, name their '
                       'workspace; Claude apps rows, surface "apps", have none.)')


def _surface_cases():
    return [
        ({"surface": "apps"}, APPS_NO_WORKSPACE),  # an apps row naming this organization's own workspace
        ({"surface": "apps", "workspace_id": None}, APPS_NO_WORKSPACE),  # was taken: null is not absent
        ({"surface": "apps", "workspace_id": "wrkspc_nope"}, APPS_NO_WORKSPACE),
        ({"surface": "api", "workspace_id": ...}, API_NEEDS_WORKSPACE),
        ({"workspace_id": ...}, API_NEEDS_WORKSPACE),  # "api" is the default surface
        ({"surface": "web"}, "records[1].surface: 'web' is not a surface; use one of api, apps."),
        ({"surface": "APPS"}, "records[1].surface: 'APPS' is not a surface; use one of api, apps."),
        ({"surface": None}, "records[1].surface: None is not a surface; use one of api, apps."),
        ({"surface": 1}, "records[1].surface: 1 is not a surface; use one of api, apps."),
        ({"surface": ["apps"]}, "records[1].surface: ['apps'] is not a surface; use one of api, apps."),
        ({"surface": {"apps": 1}}, "records[1].surface: {'apps': 1} is not a surface; use one of api, apps."),
    ]


@pytest.mark.django_db
def test_the_apps_surface_refusals_name_the_field_and_store_nothing(org, owner, ws, api, key_for):
    client = api(key_for(owner))
    good_apps_row = apps_row(usage_row(ws, 3))
    for change, message in _surface_cases():
        bad = usage_row(ws, 2, **{k: v for k, v in change.items() if v is not ...})
        for field in [k for k, v in change.items() if v is ...]:
            del bad[field]
        response = post(client, [usage_row(ws, 1), bad, good_apps_row])
        assert response.status_code == 400, change
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert message in error["message"], (change, error["message"])
        assert "nothing was stored; fix these rows and send the request again." in error["message"]
        assert not UsageRecord.objects.exists() and not UsageRollup.objects.exists(), change
    # the same rows with the surface and workspace paired as the contract says are taken
    assert post(client, [usage_row(ws, 1), usage_row(ws, 2), good_apps_row]).json() == {"accepted": 3, "duplicates": 0}
    assert sorted(UsageRecord.objects.values_list("surface", "workspace_id")) == [
        ("api", ws.pk), ("api", ws.pk), ("apps", None)]
