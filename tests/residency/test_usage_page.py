"""The console's Usage & cost page: chart, table, CSV, filters, who sees what."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from residency.services import Reference, clean_usage_records, store_usage_rows
from tests.residency.helpers import member_with, usage_row, workspace

PAGE = reverse("console:usage")
TODAY = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


def ingest(org, records):
    return store_usage_rows(org, clean_usage_records(records, Reference.load(org)))


def at(days_ago):
    return (TODAY - timedelta(days=days_ago)).isoformat().replace("+00:00", "Z")


@pytest.fixture
def usage(org):
    prod, lab = workspace(org, "Prod"), workspace(org, "Lab")
    ingest(org, [
        usage_row(prod, 1, occurred_at=at(1), uncached_input_tokens=1_000_000),  # opus us: $5.50
        usage_row(prod, 2, occurred_at=at(1), inference_geo="global", uncached_input_tokens=1_000_000),  # $5
        usage_row(lab, 3, occurred_at=at(2), model="claude-haiku-4-5", inference_geo="not_available",
                  uncached_input_tokens=2_000_000),  # $2
    ])
    return {"prod": prod, "lab": lab}


@pytest.mark.django_db
@pytest.mark.parametrize("who, status, cost", [
    ("primary_owner", 200, True), ("owner", 200, True), ("billing_view", 200, True), ("analytics_view", 200, False),
    ("privacy_none", 200, True),  # the shorthand role holds billing: view
    ("auditor", 404, None), ("privacy_manage", 404, None), ("admin", 404, None), ("user", 404, None),
])
def test_role_matrix(org, usage, console, member_factory, who, status, cost):
    levels = {"billing_view": {"billing": "view"}, "analytics_view": {"analytics": "view"}}
    member = member_with(org, who, levels[who]) if who in levels else member_factory(org, who)
    response = console(member.user).get(PAGE)
    assert response.status_code == status
    if status == 200:
        html = response.content.decode()
        assert 'data-chart="tokens"' in html
        assert ('data-chart="cost"' in html) is cost
        assert ("Costs need Billing: Can view" in html) is (not cost)


@pytest.mark.django_db
def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302 and "/login/" in response["Location"]


@pytest.mark.django_db
def test_chart_stacks_geos_per_day_and_explains_the_us_uplift(owner, usage, console):
    html = console(owner.user).get(PAGE).content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html
    for geo in ("global", "us", "not_available"):
        assert f'data-series="{geo}"' in html
    assert "Includes the 1.1× US uplift ($0.50)." in html
    assert "$5.50" in html and "$5.00" in html and "$2.00" in html
    day = (TODAY - timedelta(days=1)).date().isoformat()
    assert f"<td class=\"nowrap\">{day}</td>" in html
    assert "<script" not in html.split("<main")[1].split("</main>")[0]  # the chart needs no JavaScript


@pytest.mark.django_db
def test_filters_by_workspace_and_model(owner, usage, console):
    client = console(owner.user)
    lab = client.get(PAGE, {"workspace": usage["lab"].pk}).context
    assert lab["data"].geos == ["not_available"]
    opus = client.get(PAGE, {"model": "claude-opus-4-6"}).context
    assert opus["data"].geos == ["global", "us"]
    bad = client.get(PAGE, {"workspace": "wrkspc_nope", "from": "nope"}).context
    assert bad["form"].errors == {"workspace": ["No such workspace in this organization."],
                                  "from": ["'nope' is not a date; use YYYY-MM-DD."]}


@pytest.mark.django_db
def test_empty_state(owner, console):
    html = console(owner.user).get(PAGE).content.decode()
    assert "No usage in this period" in html and "<svg" not in html


@pytest.mark.django_db
def test_csv_download(owner, usage, console):
    response = console(owner.user).get(PAGE, {"format": "csv"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    day1 = (TODAY - timedelta(days=1)).date().isoformat()
    us = next(r for r in rows if r["date"] == day1 and r["inference_geo"] == "us")
    assert us["uncached_input_tokens"] == "1000000" and us["cost_usd_cents"] == "550"
    assert us["residency_uplift_usd_cents"] == "50"
    assert {(r["date"], r["inference_geo"]) for r in rows} == {
        (day1, "global"), (day1, "us"), ((TODAY - timedelta(days=2)).date().isoformat(), "not_available")}


@pytest.mark.django_db
def test_query_count_is_the_same_for_one_row_and_many(org, owner, console, django_assert_num_queries):
    ws = workspace(org, "Prod")
    ingest(org, [usage_row(ws, 0, occurred_at=at(1))])
    client = console(owner.user)
    client.get(PAGE)
    # session, user, membership, permissions, workspaces, catalog, first usage day, prices, geos, rollup by
    # geo, rollup by surface, us multiplier, switcher
    with django_assert_num_queries(13):
        client.get(PAGE)
    ingest(org, [usage_row(ws, i, occurred_at=at(i % 20), model=m, inference_geo=g)
                 for i in range(1, 200)
                 for m, g in [("claude-opus-4-6", "us")]])
    with django_assert_num_queries(13):
        assert len(client.get(PAGE).context["table"]) == 20


# --- what a person reads (issue 13) ------------------------------------------------------------


@pytest.mark.django_db
def test_empty_state_names_no_internal_endpoint(owner, console):
    html = console(owner.user).get(PAGE).content.decode()
    assert "usage_records" not in html and "POST /v1" not in html
    assert "Usage appears here a few minutes after requests are made." in html


@pytest.mark.django_db
def test_an_end_before_the_start_shows_the_error_and_no_empty_state(owner, usage, console):
    response = console(owner.user).get(PAGE, {"from": at(1)[:10], "to": at(5)[:10]})
    html = response.content.decode()
    assert "The end date is before the start date." in html
    assert "No usage in this period" not in html and "<svg" not in html


def test_columns_say_what_they_share_and_every_header_has_text(owner, usage, console):
    html = console(owner.user).get(PAGE).content.decode()
    assert "<th>Share of tokens</th>" in html and "<th>Share of cost</th>" in html and "<th>Pricing</th>" in html
    assert "<th>Share</th>" not in html and "<th></th>" not in html


def test_the_default_period_starts_at_the_first_day_with_usage(owner, usage, console):
    """Two days of usage: the default chart covers them, not 28 empty days before."""
    response = console(owner.user).get(PAGE)
    form = response.context["form"]
    assert form.cleaned_data["from"] == (TODAY - timedelta(days=2)).date()
    assert form.cleaned_data["to"] == TODAY.date()
    # a period the person chose stays theirs
    chosen = console(owner.user).get(PAGE, {"from": at(20)[:10]}).context["form"].cleaned_data["from"]
    assert chosen == (TODAY - timedelta(days=20)).date()


def test_each_chart_is_drawn_for_wide_and_narrow_screens(owner, usage, console):
    html = console(owner.user).get(PAGE).content.decode()
    for chart in ("tokens", "cost"):
        assert f'data-chart="{chart}"' in html and f'data-chart="{chart}-narrow"' in html
    assert 'class="chart chart-wide"' in html and 'class="chart chart-narrow"' in html
