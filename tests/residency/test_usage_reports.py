"""Usage and cost reports, checked against sums and prices worked out by hand from SPEC §2.

Rows (USD per million tokens: input / 5m write / 1h write / cache read / output):
  A opus-4-6  us      standard 03-01 10:15  in 1M, 5m 100k, 1h 10k, read 200k, out 50k
      5 + 0.625 + 0.1 + 0.1 + 1.25 = $7.075, x1.1 us            = $7.7825  -> 778.25 cents
  B opus-4-6  global  batch    03-01 23:59  in 2M, out 100k
      (10 + 2.5) / 2 = $6.25 (batch halves input and output)    -> 625 cents
  C sonnet-4-6 us     batch    03-02 00:00  in 1M, 5m 1M, out 1M
      1.5 + 3.75 + 7.5 = $12.75, x1.1 = $14.025                 -> 1402.5 cents
  D haiku-4-5 n/a     standard 03-02 05:00  in 1M, read 1M, out 200k
      1 + 0.1 + 1 = $2.10 (older model: no uplift)              -> 210 cents
  E opus-4-1  n/a     priority 03-02 05:30  in 100k, 1h 100k, out 10k
      1.5 + 3 + 0.75 = $5.25                                    -> 525 cents
"""

import pytest

from tests.residency.helpers import member_with, usage_row, workspace

USAGE = "/v1/organizations/usage_report/messages"
COST = "/v1/organizations/cost_report"
DAY1 = {"starting_at": "2026-03-01T00:00:00Z", "ending_at": "2026-03-03T00:00:00Z"}


def cache(w5=0, w1=0):
    return {"ephemeral_5m_input_tokens": w5, "ephemeral_1h_input_tokens": w1}


@pytest.fixture
def rows(org, owner, api, key_for):
    prod, lab = workspace(org, "Prod"), workspace(org, "Lab")
    records = [
        usage_row(prod, "A", occurred_at="2026-03-01T10:15:00Z", uncached_input_tokens=1_000_000,
                  cache_creation=cache(100_000, 10_000), cache_read_input_tokens=200_000, output_tokens=50_000),
        usage_row(prod, "B", inference_geo="global", service_tier="batch", occurred_at="2026-03-01T23:59:00Z",
                  uncached_input_tokens=2_000_000, output_tokens=100_000),
        usage_row(lab, "C", model="claude-sonnet-4-6", service_tier="batch", occurred_at="2026-03-02T00:00:00Z",
                  uncached_input_tokens=1_000_000, cache_creation=cache(1_000_000), output_tokens=1_000_000),
        usage_row(lab, "D", model="claude-haiku-4-5", inference_geo="not_available",
                  occurred_at="2026-03-02T05:00:00+00:00", uncached_input_tokens=1_000_000,
                  cache_read_input_tokens=1_000_000, output_tokens=200_000),
        usage_row(prod, "E", model="claude-opus-4-1", inference_geo="not_available", service_tier="priority",
                  occurred_at="2026-03-02T07:30:00+02:00", uncached_input_tokens=100_000,
                  cache_creation=cache(0, 100_000), output_tokens=10_000),
    ]
    assert api(key_for(owner)).post("/v1/organizations/usage_records", {"records": records},
                                    format="json").json() == {"accepted": 5, "duplicates": 0}
    return {"prod": prod, "lab": lab}


def by(results, field):
    return {r[field]: r for r in results}


@pytest.mark.django_db
def test_cost_by_day_and_geo_matches_the_hand_computation(owner, rows, api, key_for):
    body = api(key_for(owner)).get(COST, {**DAY1, "group_by[]": "inference_geo"}).json()
    assert body["has_more"] is False and body["next_page"] is None
    day1, day2 = body["data"]
    assert (day1["starting_at"], day1["ending_at"]) == ("2026-03-01T00:00:00Z", "2026-03-02T00:00:00Z")
    assert {g: r["amount"] for g, r in by(day1["results"], "inference_geo").items()} == {"us": "778.25",
                                                                                          "global": "625"}
    assert {g: r["amount"] for g, r in by(day2["results"], "inference_geo").items()} == {"us": "1402.5",
                                                                                          "not_available": "735"}
    assert day1["results"][0]["currency"] == "USD"
    assert day1["results"][0]["model"] is None and day1["results"][0]["workspace_id"] is None


@pytest.mark.django_db
def test_cost_ungrouped_and_by_model_and_workspace(owner, rows, api, key_for):
    client = api(key_for(owner))
    day1, day2 = client.get(COST, DAY1).json()["data"]
    assert [r["amount"] for r in day1["results"]] == ["1403.25"]
    assert [r["amount"] for r in day2["results"]] == ["2137.5"]
    day2 = client.get(COST, {**DAY1, "group_by[]": ["model", "workspace_id"]}).json()["data"][1]
    amounts = {(r["model"], r["workspace_id"]): r["amount"] for r in day2["results"]}
    assert amounts == {("claude-sonnet-4-6", rows["lab"].pk): "1402.5", ("claude-haiku-4-5", rows["lab"].pk): "210",
                       ("claude-opus-4-1", rows["prod"].pk): "525"}


@pytest.mark.django_db
def test_usage_by_day_and_geo_sums_every_token_category(owner, rows, api, key_for):
    body = api(key_for(owner)).get(USAGE, {**DAY1, "bucket_width": "1d", "group_by[]": "inference_geo"}).json()
    day1 = by(body["data"][0]["results"], "inference_geo")
    assert day1["us"] == {
        "uncached_input_tokens": 1_000_000,
        "cache_creation": {"ephemeral_5m_input_tokens": 100_000, "ephemeral_1h_input_tokens": 10_000},
        "cache_read_input_tokens": 200_000, "output_tokens": 50_000,
        "workspace_id": None, "model": None, "service_tier": None, "surface": None, "inference_geo": "us",
    }
    raw = api(key_for(owner)).get(USAGE, {**DAY1, "group_by[]": "inference_geo"}).content.decode()
    assert '"output_tokens":50000,' in raw  # whole numbers, never 50000.0
    day2 = by(body["data"][1]["results"], "inference_geo")
    na = day2["not_available"]
    assert na["uncached_input_tokens"] == 1_100_000 and na["output_tokens"] == 210_000
    assert na["cache_creation"] == {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 100_000}
    assert na["cache_read_input_tokens"] == 1_000_000


@pytest.mark.django_db
def test_usage_hourly_buckets_and_filters(owner, rows, api, key_for):
    client = api(key_for(owner))
    body = client.get(USAGE, {"starting_at": "2026-03-01T09:30:00Z", "ending_at": "2026-03-01T12:00:00Z",
                              "bucket_width": "1h", "group_by[]": "service_tier"}).json()
    assert [b["starting_at"] for b in body["data"]] == ["2026-03-01T09:00:00Z", "2026-03-01T10:00:00Z",
                                                        "2026-03-01T11:00:00Z"]
    assert body["data"][0]["results"] == [] and body["data"][2]["results"] == []
    assert body["data"][1]["results"][0]["service_tier"] == "standard"
    assert body["data"][1]["results"][0]["uncached_input_tokens"] == 1_000_000
    # E happened at 05:30 UTC (07:30+02:00)
    e = client.get(USAGE, {"starting_at": "2026-03-02T05:00:00Z", "ending_at": "2026-03-02T06:00:00Z",
                           "bucket_width": "1h", "models[]": "claude-opus-4-1"}).json()
    assert e["data"][0]["results"][0]["output_tokens"] == 10_000
    filtered = client.get(USAGE, {**DAY1, "workspace_ids[]": rows["lab"].pk, "inference_geos[]": "us",
                                  "group_by[]": ["workspace_id", "model"]}).json()
    assert filtered["data"][0]["results"] == []
    (only,) = filtered["data"][1]["results"]
    assert (only["workspace_id"], only["model"], only["output_tokens"]) == (rows["lab"].pk, "claude-sonnet-4-6",
                                                                          1_000_000)


@pytest.mark.django_db
def test_pages_of_buckets(owner, rows, api, key_for):
    client = api(key_for(owner))
    params = {"starting_at": "2026-03-01T00:00:00Z", "ending_at": "2026-03-05T00:00:00Z", "limit": 2}
    first = client.get(COST, params).json()
    assert first["has_more"] is True and first["next_page"] == "2026-03-03T00:00:00Z"
    second = client.get(COST, {**params, "page": first["next_page"]}).json()
    assert [b["starting_at"] for b in second["data"]] == ["2026-03-03T00:00:00Z", "2026-03-04T00:00:00Z"]
    assert second["has_more"] is False and all(b["results"] == [] for b in second["data"])


@pytest.mark.django_db
@pytest.mark.parametrize("url, params, message", [
    (USAGE, {}, "starting_at: is required"),
    (USAGE, {"starting_at": "2026-03-01"}, "starting_at: '2026-03-01' has no time zone offset"),
    (USAGE, {**DAY1, "bucket_width": "1m"}, "bucket_width: '1m' is not supported here; use 1h or 1d."),
    (COST, {**DAY1, "bucket_width": "1h"}, "bucket_width: '1h' is not supported here; use 1d."),
    (USAGE, {**DAY1, "group_by[]": "api_key_id"}, "group_by[]: cannot group by api_key_id"),
    (COST, {**DAY1, "group_by[]": "service_tier"}, "group_by[]: cannot group by service_tier"),
    (USAGE, {**DAY1, "limit": "32"}, "limit: must be from 1 to 31 buckets for bucket_width 1d."),
    (USAGE, {**DAY1, "bucket_width": "1h", "limit": "169"}, "limit: must be from 1 to 168"),
    (USAGE, {**DAY1, "workspace_ids[]": "wrkspc_nope"}, "workspace_ids[]: no workspace wrkspc_nope"),
    (USAGE, {"starting_at": "2026-03-02T00:00:00Z", "ending_at": "2026-03-01T00:00:00Z"}, "ending_at: must be after"),
    (COST, {**DAY1, "page": "2026-01-01T00:00:00Z"}, "page: is not a page of this report"),
])
def test_bad_parameters(org, owner, api, key_for, url, params, message):
    response = api(key_for(owner)).get(url, params)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


@pytest.mark.django_db
@pytest.mark.parametrize("who, usage, cost", [
    ("primary_owner", 200, 200), ("owner", 200, 200), ("billing_view", 200, 200), ("analytics_view", 200, 403),
    ("auditor", 404, 404), ("privacy_manage", 404, 404), ("admin", 404, 404), ("user", 404, 404),
])
def test_role_matrix(org, rows, api, key_for, member_factory, who, usage, cost):
    levels = {"billing_view": {"billing": "view"}, "analytics_view": {"analytics": "view"}}
    member = member_with(org, who, levels[who]) if who in levels else member_factory(org, who)
    client = api(key_for(member))
    assert client.get(USAGE, DAY1).status_code == usage
    assert client.get(COST, DAY1).status_code == cost


@pytest.mark.django_db
def test_another_organizations_usage_never_counts(org, rows, api, key_for):
    from tests.factories import make_org, primary_owner

    other = make_org(name="Other")
    body = api(key_for(primary_owner(other))).get(COST, DAY1).json()
    assert all(b["results"] == [] for b in body["data"])
    response = api(key_for(primary_owner(other))).get(USAGE, {**DAY1, "workspace_ids[]": rows["prod"].pk})
    assert response.status_code == 400


@pytest.mark.django_db
def test_query_counts_do_not_grow_with_rows(org, owner, rows, api, key_for, django_assert_num_queries):
    client = api(key_for(owner))
    client.get(COST, DAY1)
    one_day = {"starting_at": "2026-03-01T00:00:00Z", "ending_at": "2026-03-01T12:00:00Z"}
    # key, membership, permissions, rollup (+ catalog and geos for cost)
    with django_assert_num_queries(4):
        client.get(USAGE, {**one_day, "group_by[]": "model"})
    with django_assert_num_queries(4):
        client.get(USAGE, {**DAY1, "group_by[]": ["model", "inference_geo", "workspace_id", "service_tier"]})
    with django_assert_num_queries(6):
        client.get(COST, one_day)
    with django_assert_num_queries(6):
        client.get(COST, {**DAY1, "group_by[]": ["model", "inference_geo", "workspace_id"]})
