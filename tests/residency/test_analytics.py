"""/v1/organizations/analytics/usage and /analytics/cost (SPEC §9): who may read them, how the
question is checked, paging, and that they read the rollups only. The figures per dimension are
checked through the official SDK (tests/sdk/test_official_sdk.py) on the same six rows."""

import random
from itertools import product as combinations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from residency import services as residency_services
from residency.models import UsageRecord
from residency.policy import Tokens, price
from residency.reports import PriceBook
from tests.factories import actor_for, api_key_for, make_org, primary_owner
from tests.orgs.matrix import api_client, build_people, expect
from tests.residency.helpers import analytics_rows, apps_row, member_with, usage_row, workspace

USAGE = "/v1/organizations/analytics/usage"
COST = "/v1/organizations/analytics/cost"
DAYS = {"starting_at": "2026-03-01T00:00:00Z", "ending_at": "2026-03-03T00:00:00Z"}


@pytest.fixture
def rows(org, owner):
    residency_services.usage_ingest(actor=actor_for(owner.user), organization=org,
                                    records=analytics_rows(workspace(org, "Prod"), workspace(org, "Lab")))


@pytest.fixture
def owner_api(owner, api):
    return api(api_key_for(owner))


def message(response):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"]["type"] == "invalid_request_error" and body["error"]["details"] is None
    return body["error"]["message"]


# --- who may read them -------------------------------------------------------------------------


@pytest.mark.parametrize("url,matrix", [
    (USAGE, expect(404, primary_owner=200, owner=200, privacy_none=200, other_org=200, anonymous=401)),
    (COST, expect(404, primary_owner=200, owner=200, privacy_none=200, other_org=200, anonymous=401)),
])
def test_role_matrix(org, rows, url, matrix):
    people = build_people(org)  # privacy_none holds Billing: view
    for who, status in matrix:
        response = api_client(people, who).get(url, DAYS)
        assert response.status_code == status, who
        if status == 200:
            data = response.json()["data"]
            assert len(data) == (0 if who == "other_org" else 1), who  # another org's usage is not theirs


def test_analytics_view_alone_reads_usage_not_cost(org, rows, api):
    analyst = api(api_key_for(member_with(org, "analyst", {"analytics": "view"})))
    assert analyst.get(USAGE, DAYS).status_code == 200
    refused = analyst.get(COST, DAYS)
    assert refused.status_code == 403 and "Billing: Can view" in refused.json()["error"]["message"]


# --- the question ------------------------------------------------------------------------------


@pytest.mark.parametrize("query,words", [
    ({"starting_at": "2026-03-01T00:00:00Z", "ending_at": "2026-04-01T00:00:01Z"}, "more than 31 days"),
    ({"starting_at": "2026-03-01T00:00:00Z", "ending_at": "2026-03-01T00:00:00Z"}, "ending_at: must be after"),
    ({"starting_at": "2026-03-01T00:00:00Z", "time_bucket_width": "1d"}, "ending_at: is required with time_bucket"),
    ({**DAYS, "time_bucket_width": "1m"}, "time_bucket_width: '1m' is not available"),
    ({**DAYS, "group_by[]": ["speed", "context_window"]}, "cannot group by speed, context_window: this product has no "
                                                           "data for them; group by workspace_id, service_tier"),
    ({**DAYS, "group_by[]": ["cost_type"]}, "cannot group by cost_type"),
    ({**DAYS, "api_key_ids[]": "apikey_x", "exclude_deleted_users": "true"},
     "api_key_ids[], exclude_deleted_users: this product has no data for them: it reports usage and cost by "
     "workspace_id, service_tier, inference_geo, model, product."),
    ({**DAYS, "rbac_group_ids": "x"}, "rbac_group_ids: this product has no data for it"),
    ({**DAYS, "service_tiers[]": ["flex_discount"]}, "cannot filter by service tier flex_discount"),
    ({**DAYS, "products[]": ["cowork"]}, "cannot filter by product cowork"),
    ({**DAYS, "workspace_ids[]": ["wrkspc_elsewhere"]}, "workspace_ids[]: no workspace wrkspc_elsewhere"),
    ({**DAYS, "order_by": "amount"}, "order_by: 'amount' is not available; use total_tokens"),
    ({**DAYS, "order": "up"}, "order:"),
    ({**DAYS, "limit": "0"}, "limit: must be an integer from 1 to 1000."),
    ({**DAYS, "page": "bm9wZQ"}, "page: is not a page of this report"),
    ({"ending_at": "2026-03-02T00:00:00Z"}, "starting_at: is required"),
])
def test_questions_it_cannot_answer_are_a_400_naming_the_option(owner_api, rows, query, words):
    assert words in message(owner_api.get(USAGE, query))


def test_ending_at_defaults_to_now_or_31_days(owner_api, rows):
    now = timezone.now()
    recent = (now - timezone.timedelta(days=2)).isoformat()
    assert owner_api.get(USAGE, {"starting_at": recent}).json()["data"] == []  # nothing ingested lately
    body = owner_api.get(USAGE, {"starting_at": "2026-03-01T00:00:00Z"}).json()
    (total,) = body["data"]
    assert (total["starting_at"], total["ending_at"]) == ("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z")
    assert total["usage"]["total_tokens"] == 9_870_000
    future = (now + timezone.timedelta(hours=2)).isoformat()
    assert "ending_at: must be after starting_at (it defaults to now)" in message(
        owner_api.get(USAGE, {"starting_at": future}))


def test_a_page_cursor_belongs_to_its_own_question(owner_api, rows):
    first = owner_api.get(USAGE, {**DAYS, "group_by[]": "model", "limit": 1}).json()
    assert first["has_more"] and first["next_page"]
    following = owner_api.get(USAGE, {**DAYS, "group_by[]": "model", "limit": 3, "page": first["next_page"]}).json()
    assert len(following["data"]) == 3 and following["has_more"] is False and following["next_page"] is None
    elsewhere = owner_api.get(USAGE, {**DAYS, "group_by[]": "product", "page": first["next_page"]})
    assert "page: is not a page of this report" in message(elsewhere)
    assert "page: is not a page" in message(owner_api.get(COST, {**DAYS, "group_by[]": "model",
                                                                 "page": first["next_page"]}))


@pytest.mark.parametrize("url,order_by", [(USAGE, "total_tokens"), (USAGE, "requests"), (USAGE, "time"),
                                          (COST, "amount"), (COST, "list_amount"), (COST, "time")])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_paging_one_row_at_a_time_returns_every_row_once_in_order(owner_api, rows, url, order_by, order):
    query = {**DAYS, "group_by[]": ["model", "inference_geo"], "time_bucket_width": "1h", "order_by": order_by,
             "order": order}
    everything = owner_api.get(url, {**query, "limit": 1000}).json()["data"]
    assert len(everything) == 6  # one per row: each sits in its own hour and combination
    paged, page = [], None
    while True:
        body = owner_api.get(url, {**query, "limit": 2, **({"page": page} if page else {})}).json()
        paged += body["data"]
        page = body["next_page"]
        assert body["has_more"] == (page is not None)
        if page is None:
            break
    assert paged == everything
    if order_by == "time":
        starts = [row["starting_at"] for row in paged]
        assert starts == sorted(starts, reverse=order == "desc")


def test_cost_of_a_locked_organizations_apps_usage_has_no_uplift(db, api):
    locked = make_org(plan="enterprise_usage", lock_reason="contract", name="Locked")
    owner = primary_owner(locked)
    ws = residency_services.workspace_create(actor=actor_for(owner.user), organization=locked, name="Prod",
                                             data_residency={"allowed_inference_geos": ["us"],
                                                             "default_inference_geo": "us"})
    residency_services.usage_ingest(actor=actor_for(owner.user), organization=locked, records=[
        apps_row(usage_row(ws, 1, model="claude-sonnet-4-6", uncached_input_tokens=1_000_000)),
        usage_row(ws, 2, model="claude-sonnet-4-6", uncached_input_tokens=1_000_000)])
    body = api(api_key_for(owner)).get(COST, {**DAYS, "group_by[]": "product"}).json()
    assert {r["group"]["product"]: r["cost"]["amount"] for r in body["data"]} == {"chat": "300", "messages_api": "330"}


# --- reads the rollups, never the usage rows ----------------------------------------------------


@pytest.mark.parametrize("count", [6, 300])
def test_reads_the_rollups_only_in_a_fixed_number_of_queries(org, owner, owner_api, count):
    prod, lab = workspace(org, "Prod"), workspace(org, "Lab")
    records = analytics_rows(prod, lab)
    records += [usage_row(prod, f"more-{i}", occurred_at=f"2026-03-02T{i % 24:02d}:{i % 60:02d}:00Z",
                          service_tier=("standard", "batch", "priority")[i % 3]) for i in range(count - 6)]
    residency_services.usage_ingest(actor=actor_for(owner.user), organization=org, records=records)
    owner_api.get(USAGE, DAYS)
    for url, expected_queries in ((USAGE, 4), (COST, 6)):  # key, member, permissions, rollups (+ prices, geos)
        with CaptureQueriesContext(connection) as queries:
            body = owner_api.get(url, {**DAYS, "group_by[]": ["workspace_id", "product"], "workspace_ids[]": prod.pk,
                                       "starting_at": "2026-03-01T10:30:00Z"}).json()
        assert len(queries) == expected_queries + 1, [q["sql"][:80] for q in queries]  # +1: the workspace ids
        assert not [q for q in queries if UsageRecord._meta.db_table in q["sql"]]
        assert body["data"]


def test_unit_amounts_price_a_group_exactly_as_price_does(db):
    book = PriceBook.load()
    rng = random.Random(3)
    for model, geo, tier, surface in combinations(book.prices, ("global", "us", "not_available"),
                                                  ("standard", "batch", "priority"), ("api", "apps")):
        tokens = [rng.randrange(10**12) for _ in range(5)]
        amount_units, list_units = book.unit_amounts(model, geo, tier, surface)
        multiplier = book._multiplier(model, geo, surface)
        expected = price(book.prices[model], Tokens(*tokens), batch=tier == "batch") * multiplier
        assert sum(t * u for t, u in zip(tokens, amount_units, strict=True)) == expected
        assert sum(t * u for t, u in zip(tokens, list_units, strict=True)) == price(book.prices[model],
                                                                                     Tokens(*tokens)) * multiplier
