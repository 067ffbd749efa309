"""Rate limits shared by every server process (SPEC §6).

A fixed window per bucket (a scope such as "api" or "decisions", and an API key id), counted
by an operation that is atomic where it runs, never read-then-write:

- with `REDIS_URL` set: Django's Redis cache, `add` (SET NX, with an expiry) then `incr` (INCRBY);
- otherwise the database: one upsert that inserts the window's row or adds one to it and
  returns the new count (`INSERT ... ON CONFLICT ... DO UPDATE ... RETURNING`, PostgreSQL and
  SQLite alike), so two processes can never both read 999 and both serve the 1000th request.

Entry points:
- `limit_exceeded(scope, identity, rate)` -> None when the request may go on, else the seconds
  until the window ends (the `retry-after`). `rate` None or "" is no limit and costs nothing.
- `enforce(scope, identity, rate)` raises `RateLimited` (a 429 `rate_limit_error` with
  `retry-after` through the REST exception handler) instead.
- `ApiKeyRateThrottle`: the DRF throttle for `/v1/organizations/...` (`API_RATE_LIMIT`).
"""

import math
import time
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core.cache import caches
from django.db import connection
from rest_framework import exceptions, throttling

from .models import RateCounter

PERIODS = {
    "s": 1, "sec": 1, "second": 1,
    "m": 60, "min": 60, "minute": 60,
    "h": 3600, "hour": 3600,
    "d": 86400, "day": 86400,
}


@dataclass(frozen=True)
class Rate:
    limit: int
    period: int  # seconds

    def describe(self):
        unit = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}.get(self.period, f"{self.period} seconds")
        return f"{self.limit} requests per {unit}"


@lru_cache(maxsize=32)
def parse_rate(text):
    """'1000/min' -> Rate(1000, 60); None, "" or "none" -> None (no limit). Also `N/s`, `N/hour`,
    `N/day`, and `N/10s`-style multiples."""
    if text is None or str(text).strip().lower() in ("", "none", "off", "0"):
        return None
    try:
        count, per = str(text).strip().lower().split("/", 1)
        multiple = "".join(ch for ch in per if ch.isdigit()) or "1"
        unit = per[len(multiple):] if per[:1].isdigit() else per
        rate = Rate(int(count), int(multiple) * PERIODS[unit.strip()])
    except (ValueError, KeyError):
        raise ValueError(f"Unreadable rate {text!r}: write it as N/second, N/min, N/hour or N/day.")
    if rate.limit < 1:
        raise ValueError(f"Unreadable rate {text!r}: the count must be at least 1.")
    return rate


class RateLimited(exceptions.Throttled):
    """429 `rate_limit_error`; `wait` becomes the `retry-after` header."""

    default_code = "rate_limit_error"

    def __init__(self, wait, detail):
        super().__init__(wait=wait)
        self.detail = exceptions.ErrorDetail(detail, self.default_code)  # without DRF's own suffix


_UPSERT = {}


def _upsert_sql():
    if connection.vendor not in _UPSERT:
        q = connection.ops.quote_name
        table = q(RateCounter._meta.db_table)
        _UPSERT[connection.vendor] = (
            f"INSERT INTO {table} ({q('bucket')}, {q('window_start')}, {q('hits')}) VALUES (%s, %s, 1) "
            f"ON CONFLICT ({q('bucket')}, {q('window_start')}) DO UPDATE SET {q('hits')} = {table}.{q('hits')} + 1 "
            f"RETURNING {q('hits')}"
        )
    return _UPSERT[connection.vendor]


def _count_in_database(bucket, window_start):
    with connection.cursor() as cursor:
        cursor.execute(_upsert_sql(), [bucket, window_start])
        hits = cursor.fetchone()[0]
        if hits == 1:
            # the first request of a window: the bucket's older windows are done with
            RateCounter.objects.filter(bucket=bucket, window_start__lt=window_start).delete()
    return hits


def _count_in_redis(bucket, window_start, period):
    cache = caches["default"]
    key = f"ratelimit:{bucket}:{window_start}"
    cache.add(key, 0, timeout=period + 60)  # SET NX: exactly one process creates the window
    return cache.incr(key)  # INCRBY: atomic


def count(bucket, period, *, now=None):
    """Add one to `bucket`'s current window and return (hits so far, seconds until it ends)."""
    now = time.time() if now is None else now
    window_start = int(now // period) * period
    if settings.REDIS_URL:
        hits = _count_in_redis(bucket, window_start, period)
    else:
        hits = _count_in_database(bucket, window_start)
    return hits, max(1, math.ceil(window_start + period - now))


def limit_exceeded(scope, identity, rate, *, now=None):
    """Count one request of `identity` (an API key id) in `scope`; None if it may go on, else
    the seconds to wait. `rate` is a setting's text ("1000/min"); None means no limit."""
    parsed = parse_rate(rate) if rate else None
    if parsed is None:
        return None
    hits, wait = count(f"{scope}:{identity}:{parsed.period}", parsed.period, now=now)
    return wait if hits > parsed.limit else None


def enforce(scope, identity, rate, *, what="this API key"):
    """Raise `RateLimited` when `identity` is over `rate` in `scope` (see `limit_exceeded`)."""
    wait = limit_exceeded(scope, identity, rate)
    if wait is not None:
        raise RateLimited(wait=wait, detail=limited_message(rate, wait, what))


def limited_message(rate, wait, what="this API key"):
    return f"Rate limit exceeded: {what} may make {parse_rate(rate).describe()} here; retry after {wait} seconds."


class ApiKeyRateThrottle(throttling.BaseThrottle):
    """`API_RATE_LIMIT` per API key on `/v1/organizations/...`; a console session counts per person."""

    scope = "api"
    setting = "API_RATE_LIMIT"

    def allow_request(self, request, view):
        rate = getattr(settings, self.setting, None)
        if not rate:
            return True
        key_id = getattr(request.auth, "pk", None)
        if key_id is not None:
            enforce(self.scope, decision_identity(key_id), rate)
        elif request.user is not None and getattr(request.user, "is_authenticated", False):
            enforce(self.scope, f"user:{request.user.pk}", rate, what="your session")
        return True


class DecisionRateThrottle(ApiKeyRateThrottle):
    """`DECISION_RATE_LIMIT` per API key on the decision endpoints (unset: no limit, no work).
    The lean decision path counts in the same bucket (`decision_identity`)."""

    scope = "decisions"
    setting = "DECISION_RATE_LIMIT"


def decision_identity(key_id):
    """The bucket identity of an API key (the DRF throttles and the lean decision path share it)."""
    return f"key:{key_id}"
