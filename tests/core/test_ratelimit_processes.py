"""The limit holds across server processes (SPEC §6): a real gunicorn with 2 workers serves no
more than the limit per window for one key, counting on PostgreSQL, and with Redis."""

import threading
import time
import urllib.error
import urllib.request

import pytest
import redis
from django.core.cache import caches
from django.test import override_settings

from core.models import RateCounter
from core.ratelimit import limit_exceeded
from tests.factories import api_key_for, make_org, primary_owner
from tests.servers import database_env, gunicorn, redis_server

LIMIT, REQUESTS, THREADS = 40, 100, 8


def _away_from_a_window_edge(period=3600, margin=40):
    left = period - time.time() % period
    if left < margin:
        time.sleep(left + 1)


def _hammer(base, secret):
    """REQUESTS GETs from THREADS threads at once; returns the status codes and retry-after values."""
    statuses, retry_after, lock = [], [], threading.Lock()

    def worker(n):
        for _ in range(n):
            request = urllib.request.Request(f"{base}/v1/organizations/me", headers={"x-api-key": secret})
            try:
                with urllib.request.urlopen(request, timeout=20) as response:
                    code = response.status
            except urllib.error.HTTPError as exc:
                code = exc.code
                if code == 429:
                    with lock:
                        retry_after.append(int(exc.headers["retry-after"]))
            with lock:
                statuses.append(code)

    threads = [threading.Thread(target=worker, args=(REQUESTS // THREADS,)) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses, retry_after


def _workers_that_served(log):
    return {line.split()[0] for line in log.read_text().splitlines() if line.strip()}


def _check(statuses, retry_after, log):
    assert len(statuses) == REQUESTS - REQUESTS % THREADS
    assert statuses.count(200) == LIMIT, statuses
    assert statuses.count(429) == len(statuses) - LIMIT
    assert retry_after and all(1 <= s <= 3600 for s in retry_after)
    assert len(_workers_that_served(log)) == 2  # both processes answered


@pytest.mark.postgres_only
def test_two_gunicorn_workers_share_the_limit_on_postgresql(committed_db):
    from django.db import connection

    assert connection.vendor == "postgresql"
    secret = api_key_for(primary_owner(make_org(name="Busy")))
    env = {**database_env(), "TEST_API_RATE_LIMIT": f"{LIMIT}/hour"}
    env.pop("REDIS_URL", None)
    _away_from_a_window_edge()
    with gunicorn(env, workers=2) as (base, log):
        statuses, retry_after = _hammer(base, secret)
        _check(statuses, retry_after, log)
    assert RateCounter.objects.get().hits == len(statuses)


@pytest.mark.postgres_only
def test_two_gunicorn_workers_share_the_limit_with_redis(committed_db):
    secret = api_key_for(primary_owner(make_org(name="Busy")))
    with redis_server() as url:
        env = {**database_env(), "TEST_API_RATE_LIMIT": f"{LIMIT}/hour", "REDIS_URL": url}
        _away_from_a_window_edge()
        with gunicorn(env, workers=2) as (base, log):
            statuses, retry_after = _hammer(base, secret)
            _check(statuses, retry_after, log)
        keys = redis.Redis.from_url(url).keys("*ratelimit:api:key:*")
    assert len(keys) == 1 and not RateCounter.objects.exists()  # counted in Redis, not the database


def test_the_redis_counter_is_atomic_across_threads(db):
    with redis_server() as url:
        cache = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}}
        with override_settings(REDIS_URL=url, CACHES=cache):
            allowed, lock = [], threading.Lock()

            def worker():
                for _ in range(25):
                    if limit_exceeded("api", "shared", "30/hour", now=3600.0) is None:
                        with lock:
                            allowed.append(1)

            threads = [threading.Thread(target=worker) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert len(allowed) == 30
            assert caches["default"].get("ratelimit:api:shared:3600:3600") == 100
    assert not RateCounter.objects.exists()
