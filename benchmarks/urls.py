"""Benchmark-only URLs (benchmarks/settings.py): the product's URLs plus two floors to compare
decisions against, served by the same gunicorn.

- `/bench/floor`: a trivial JSON view, no database (the framework floor; `benchmarks/decisions.py`
  measures the product's `/healthz`, which is the same view);
- `/bench/one-query`: a trivial JSON view doing one indexed primary-key SELECT through Django's
  cursor (the one-query floor: a decision is one statement, so this is what it can approach).
"""

from django.db import connection
from django.http import JsonResponse
from django.urls import include, path


def floor(request):
    return JsonResponse({"status": "ok"})


def one_query(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT code, price_multiplier FROM residency_geo WHERE code = %s", ["us"])
        code, multiplier = cursor.fetchone()
    return JsonResponse({"code": code, "price_multiplier": str(multiplier)})


urlpatterns = [
    path("bench/floor", floor),
    path("bench/one-query", one_query),
    path("", include("config.urls")),
]
