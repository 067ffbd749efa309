"""REST rate limits per API key (SPEC §6): `API_RATE_LIMIT` on /v1/organizations/..., 429
`rate_limit_error` with `retry-after`, counted atomically in a store every process shares."""

import threading

import pytest
from django.db import connection
from django.test import override_settings

from core import ratelimit
from core.models import RateCounter
from core.ratelimit import Rate, limit_exceeded, parse_rate

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("text, rate", [
    ("1000/min", Rate(1000, 60)), ("10/s", Rate(10, 1)), ("5/second", Rate(5, 1)), ("3/hour", Rate(3, 3600)),
    ("100/day", Rate(100, 86400)), ("7/10s", Rate(7, 10)), (" 20 / minute ".replace(" ", ""), Rate(20, 60)),
    (None, None), ("", None), ("none", None),
])
def test_rates_read_as_written(text, rate):
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["fast", "10/fortnight", "x/min", "0/min"])
def test_an_unreadable_rate_says_how_to_write_it(text):
    with pytest.raises(ValueError, match="Unreadable rate"):
        parse_rate(text)


def test_over_the_limit_is_a_429_rate_limit_error_with_retry_after(org, owner, api, key_for):
    mine, theirs = api(key_for(owner, name="mine")), api(key_for(owner, name="theirs"))
    with override_settings(API_RATE_LIMIT="3/min"):
        assert [mine.get("/v1/organizations/me").status_code for _ in range(3)] == [200, 200, 200]
        over = mine.get("/v1/organizations/workspaces")
        assert over.status_code == 429
        body = over.json()
        assert body["error"]["type"] == "rate_limit_error" and body["request_id"]
        assert "3 requests per minute" in body["error"]["message"]
        assert 1 <= int(over["retry-after"]) <= 60
        # per key: another key of the same member is not held back
        assert theirs.get("/v1/organizations/me").status_code == 200
        # decisions are not under API_RATE_LIMIT (DECISION_RATE_LIMIT is unset)
        assert mine.post("/v1/residency/decisions", {"organization_id": org.pk, "surface": "apps",
                                                     "model": "claude-opus-4-6"}, format="json").status_code == 200


def test_no_limit_set_costs_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert limit_exceeded("decisions", "apikey_x", None) is None


def test_a_new_window_starts_a_new_count_and_clears_the_old_rows():
    for _ in range(3):
        assert limit_exceeded("api", "k", "2/min", now=120.0) in (None, 60)
    assert limit_exceeded("api", "k", "2/min", now=150.5) == 30  # still the first window: over, 30 s left
    assert limit_exceeded("api", "k", "2/min", now=180.0) is None  # the next window
    assert list(RateCounter.objects.values_list("window_start", "hits")) == [(180, 1)]


def test_the_counter_is_one_atomic_statement():
    """An upsert that returns the new count: no read-then-write for two processes to interleave."""
    sql = ratelimit._upsert_sql()
    assert "ON CONFLICT" in sql and "RETURNING" in sql and sql.count("SELECT") == 0


def test_concurrent_requests_never_exceed_the_limit(committed_db):
    """Threads on their own database connections, all in one window: exactly `limit` are allowed."""
    allowed, lock = [], threading.Lock()

    def worker():
        try:
            for _ in range(25):
                if limit_exceeded("api", "shared", "40/hour", now=7200.0) is None:
                    with lock:
                        allowed.append(1)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(allowed) == 40
    assert RateCounter.objects.get(bucket="api:shared:3600").hits == 100
