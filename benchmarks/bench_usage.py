"""Ingest N usage rows through the ingestion service, then time the usage and cost reports and the
cost of a residency change (`POST /v1/organizations/residency_impact`, SPEC §5).

Rows: the last 30 whole days in time order (as a billing job sends them; recent, so the impact's
window of the last days holds them all), 5 workspaces, 6 models, geos as the model can report
them, three tiers, random token counts; one row in ten is Claude apps usage (no workspace).
Requests of 5,000 rows (the API's maximum). Generating the row dicts is not timed; validation,
inserts and rollup upserts are. A second, shorter run sends 100,000 rows through the HTTP API
(JSON parsing, auth, validation, storage) for the end-to-end rate.
"""

import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from common import analyze, header, line, timed, vendor

from core.actor import Actor
from orgs import services
from orgs.models import Membership
from residency import services as residency_services
from residency.models import UsageRecord, UsageRollup
from residency.services import MAX_RECORDS, usage_ingest

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
DAYS = 30
MODELS = [("claude-opus-4-6", True), ("claude-sonnet-4-6", True), ("claude-opus-4-5", False),
          ("claude-sonnet-4-5", False), ("claude-haiku-4-5", False), ("claude-opus-4-1", False)]
TIERS = ("standard", "standard", "standard", "batch", "priority")


def main():
    from rest_framework.test import APIClient

    system = Actor.system("benchmark")
    org, primary = residency_services.organization_provision(actor=system, name="Bench", plan="enterprise_usage",
                                                owner_email="bench@example.test")
    owner = Actor(user=primary.user, source="command")
    workspaces = [residency_services.workspace_create(actor=owner, organization=org, name=f"ws{i}").pk for i in range(5)]
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today - timedelta(days=DAYS)
    step = timedelta(days=DAYS) / N
    rng = random.Random(7)

    def rows(first, count, prefix="r"):
        out = []
        for i in range(first, first + count):
            model, geo_capable = MODELS[rng.randrange(6)]
            apps = rng.random() < 0.1
            out.append({
                "id": f"{prefix}{i}",
                **({"surface": "apps"} if apps else {"workspace_id": workspaces[rng.randrange(5)]}),
                "model": model,
                "inference_geo": ("us" if rng.random() < 0.4 else "global") if geo_capable else "not_available",
                "service_tier": TIERS[rng.randrange(5)],
                "occurred_at": (start + step * i).isoformat(),
                "uncached_input_tokens": rng.randrange(100_000),
                "cache_creation": {"ephemeral_5m_input_tokens": rng.randrange(10_000),
                                   "ephemeral_1h_input_tokens": rng.randrange(1_000)},
                "cache_read_input_tokens": rng.randrange(50_000),
                "output_tokens": rng.randrange(20_000),
            })
        return out

    print(f"## Usage: {N:,} rows on {vendor()}\n", flush=True)
    spent, done = 0.0, 0
    wall0 = time.perf_counter()
    while done < N:
        batch = rows(done, min(MAX_RECORDS, N - done))
        t0 = time.perf_counter()
        result = usage_ingest(actor=owner, organization=org, records=batch)
        spent += time.perf_counter() - t0
        assert result.accepted == len(batch)
        done += len(batch)
    wall = time.perf_counter() - wall0
    print(f"- ingestion service: {N:,} rows in {spent:.1f} s = **{N / spent:,.0f} rows/s** "
          f"(validation + insert + hourly/daily rollups; {wall:.1f} s wall including generating the rows)")
    print(f"- stored: {UsageRecord.objects.count():,} usage rows, {UsageRollup.objects.count():,} rollup rows")
    # idempotency at scale: resend the last request
    t0 = time.perf_counter()
    again = usage_ingest(actor=owner, organization=org, records=batch)
    print(f"- resending the last {len(batch):,} rows: {again.as_json()} in {(time.perf_counter() - t0) * 1000:.0f} ms")

    membership = Membership.objects.get(pk=primary.pk)
    _key, secret = services.api_key_create(actor=owner, organization=org, name="bench")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=secret)
    http_rows, http_spent = min(100_000, N), 0.0
    sent = 0
    while sent < http_rows:
        body = json.dumps({"records": rows(sent, MAX_RECORDS, prefix="h")})
        t0 = time.perf_counter()
        response = client.post("/v1/organizations/usage_records", body, content_type="application/json")
        http_spent += time.perf_counter() - t0
        assert response.status_code == 200, response.content[:300]
        sent += MAX_RECORDS
    print(f"- through the REST API (JSON parse, auth, validation, storage; in-process client): {sent:,} rows in "
          f"{http_spent:.1f} s = **{sent / http_spent:,.0f} rows/s**\n")
    del membership

    analyze()
    month = {"starting_at": iso(start), "ending_at": iso(start + timedelta(days=31)), "limit": 31}
    header()
    line("usage_report/messages 1d x 31 days, group_by inference_geo",
         *timed(lambda: ok(client.get("/v1/organizations/usage_report/messages",
                                      {**month, "group_by[]": "inference_geo"}))))
    line("usage_report/messages 1d x 31 days, group_by inference_geo + model + workspace_id",
         *timed(lambda: ok(client.get("/v1/organizations/usage_report/messages",
                                      {**month, "group_by[]": ["inference_geo", "model", "workspace_id"]}))))
    line("usage_report/messages 1h x 168 hours, group_by inference_geo",
         *timed(lambda: ok(client.get("/v1/organizations/usage_report/messages",
                                      {"starting_at": iso(start + timedelta(days=9)), "bucket_width": "1h", "limit": 168,
                                       "group_by[]": "inference_geo"}))))
    line("cost_report 31 days, group_by inference_geo",
         *timed(lambda: ok(client.get("/v1/organizations/cost_report", {**month, "group_by[]": "inference_geo"}))))
    line("cost_report 31 days, group_by inference_geo + model + workspace_id",
         *timed(lambda: ok(client.get("/v1/organizations/cost_report",
                                      {**month, "group_by[]": ["inference_geo", "model", "workspace_id"]}))))
    # the official SDK's analytics readers (SPEC §9): 31 days is the most one request may ask
    span = {"starting_at": "2026-02-01T00:00:00Z", "ending_at": "2026-03-04T00:00:00Z"}
    all_dims = ["workspace_id", "service_tier", "inference_geo", "model", "product"]
    for kind in ("usage", "cost"):
        url = f"/v1/organizations/analytics/{kind}"
        line(f"analytics/{kind} 31 days, one total row",
             *timed(lambda url=url: ok(client.get(url, span))))
        line(f"analytics/{kind} 30 days from 10:30 to 12:00 (hourly ends, daily middle), group_by model",
             *timed(lambda url=url: ok(client.get(url, {"starting_at": "2026-02-01T10:30:00Z",
                                                        "ending_at": "2026-03-03T12:00:00Z", "group_by[]": "model"}))))
        line(f"analytics/{kind} 31 days, group_by all five dimensions (limit 1000)",
             *timed(lambda url=url: ok(client.get(url, {**span, "group_by[]": all_dims, "limit": 1000}))))
        line(f"analytics/{kind} 1d x 31 days, group_by inference_geo + product",
             *timed(lambda url=url: ok(client.get(url, {**span, "time_bucket_width": "1d",
                                                        "group_by[]": ["inference_geo", "product"]}))))
        daily = {**span, "time_bucket_width": "1d", "group_by[]": all_dims}
        second = ok(client.get(url, daily)).json()["next_page"]
        line(f"analytics/{kind} 1d x 31 days, group_by all five dimensions, page 2 of 20 rows",
             *timed(lambda url=url, daily=daily, second=second: ok(client.get(url, {**daily, "page": second}))))
        line(f"analytics/{kind} 1h x 7 days, group_by inference_geo, order_by time",
             *timed(lambda url=url: ok(client.get(url, {"starting_at": "2026-02-10T00:00:00Z",
                                                        "ending_at": "2026-02-17T00:00:00Z", "time_bucket_width": "1h",
                                                        "group_by[]": "inference_geo", "order_by": "time"}))))
        line(f"analytics/{kind} 1h x 31 days, group_by all five dimensions (the largest question; 5 runs)",
             *timed(lambda url=url: ok(client.get(url, {**span, "time_bucket_width": "1h", "group_by[]": all_dims})),
                    runs=5))
    from django.test import Client

    console = Client()
    console.force_login(primary.user)
    line("console Usage & cost page, 30 days (2 charts + tables)",
         *timed(lambda: ok(console.get("/usage/", {"from": f"{start:%Y-%m-%d}", "to": f"{today:%Y-%m-%d}"}))))

    # the cost of a residency change over the same usage: the impact's window, 31 days with today, holds it all
    impact = "/v1/organizations/residency_impact"
    us = {"allowed_inference_geos": ["us"], "default_inference_geo": "us"}
    first = ok(client.post(impact, {"change": {"us_only": True}, "days": 31}, format="json")).json()
    print(f"\n{usage_total(org):,} usage rows in the impact's window; us_only would have cost "
          f"{int(Decimal(first['delta'])):,} cents more (of {int(Decimal(first['current_cost'])):,})\n")
    header()
    for label, change in [("us_only", {"us_only": True}), ("data_residency_policy us", {"data_residency_policy": us}),
                          ("one workspace us", {"workspace": {"id": workspaces[0], "data_residency": us}})]:
        line(f"residency_impact {label}, 31 days",
             *timed(lambda change=change: ok(client.post(impact, {"change": change, "days": 31}, format="json"))))
    line("residency_impact us_only, 90 days",
         *timed(lambda: ok(client.post(impact, {"change": {"us_only": True}, "days": 90}, format="json"))))
    line("console US-only confirmation (with the impact)",
         *timed(lambda: ok(console.post("/settings/privacy/data-residency/", {"us_only": "true"}))))
    line("console Overview dashboard (policy, workspaces, spend this month, recent changes)",
         *timed(lambda: ok(console.get("/"))))


def iso(dt):
    return dt.isoformat().replace("+00:00", "Z")


def usage_total(org):
    return UsageRecord.objects.filter(organization=org).count()


def ok(response):
    assert response.status_code == 200, response.content[:300]
    return response


if __name__ == "__main__":
    main()
