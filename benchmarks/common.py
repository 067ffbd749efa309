"""Shared helpers for the benchmark scripts (run through benchmarks/run.sh)."""

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402


def vendor():
    if connection.vendor == "sqlite":
        return f"SQLite {connection.Database.sqlite_version}"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return f"PostgreSQL {cursor.fetchone()[0]}"


def load():
    """The 1, 5 and 15 minute load averages (other jobs share the machine's cores)."""
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(fn, runs=20):
    """(first run ms, median ms, max ms) over `runs` runs after the first."""
    t0 = time.perf_counter()
    fn()
    first = (time.perf_counter() - t0) * 1000
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return first, statistics.median(samples), max(samples)


def line(label, first, median, worst):
    print(f"| {label} | {first:.1f} | {median:.1f} | {worst:.1f} |", flush=True)


def header():
    print("| request | first (ms) | median of 20 (ms) | max (ms) |")
    print("|---|---:|---:|---:|", flush=True)


def analyze():
    """PostgreSQL: refresh planner statistics, as autovacuum would after a bulk load. SQLite
    is measured as deployed (Django never runs ANALYZE there)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
