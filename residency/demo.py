"""Demo usage for `seed_demo`: two weeks of plausible rows, sent through `usage_ingest`: API rows for
every workspace, and Claude apps rows for the organization (so the usage page's split by surface and
the US-only confirmation's cost have something to show)."""

import random
from datetime import UTC, datetime, timedelta

from orgs.models import Workspace

from .services import usage_ingest

DEMO_MODELS = ("claude-opus-4-6", "claude-sonnet-4-6", "claude-haiku-4-5", "claude-sonnet-4-5")
GEO_CAPABLE = {"claude-opus-4-6", "claude-sonnet-4-6"}


def demo_usage_records(workspaces, *, days=14, seed=2026, today=None, apps_geo="global"):
    rng = random.Random(seed)
    today = today or datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    records = []
    for day in range(days, 0, -1):
        start = today - timedelta(days=day - 1)
        for ws in workspaces:
            allowed = ws.allowed_inference_geos or ["global", "us"]
            for model in DEMO_MODELS:
                for n in range(rng.randint(1, 3)):
                    occurred = start + timedelta(hours=rng.randint(0, 23), minutes=rng.randint(0, 59))
                    if occurred > datetime.now(UTC):
                        occurred = datetime.now(UTC) - timedelta(minutes=5)
                    geo = rng.choice(allowed) if model in GEO_CAPABLE else "not_available"
                    scale = {"claude-opus-4-6": 1, "claude-sonnet-4-6": 3, "claude-haiku-4-5": 6}.get(model, 2)
                    records.append({
                        "id": f"demo-{ws.name.lower()}-{model}-{day}-{n}",
                        "workspace_id": ws.pk,
                        "model": model,
                        "inference_geo": geo,
                        "service_tier": rng.choice(["standard", "standard", "standard", "batch", "priority"]),
                        "occurred_at": occurred.isoformat().replace("+00:00", "Z"),
                        "uncached_input_tokens": rng.randint(20_000, 400_000) * scale,
                        "cache_creation": {"ephemeral_5m_input_tokens": rng.randint(0, 50_000) * scale,
                                           "ephemeral_1h_input_tokens": rng.randint(0, 10_000) * scale},
                        "cache_read_input_tokens": rng.randint(0, 800_000) * scale,
                        "output_tokens": rng.randint(5_000, 120_000) * scale,
                    })
        for model in ("claude-opus-4-6", "claude-sonnet-4-6", "claude-haiku-4-5"):
            occurred = min(start + timedelta(hours=rng.randint(0, 23)), datetime.now(UTC) - timedelta(minutes=5))
            records.append({
                "id": f"demo-apps-{model}-{day}",
                "surface": "apps",
                "model": model,
                "inference_geo": apps_geo if model in GEO_CAPABLE else "not_available",
                "service_tier": "standard",
                "occurred_at": occurred.isoformat().replace("+00:00", "Z"),
                "uncached_input_tokens": rng.randint(50_000, 600_000),
                "cache_read_input_tokens": rng.randint(0, 400_000),
                "output_tokens": rng.randint(10_000, 150_000),
            })
    return records


def seed_demo_usage(*, actor, organization):
    """Ingest demo usage for every active workspace of `organization` (idempotent by id)."""
    workspaces = list(Workspace.objects.filter(organization=organization, archived_at__isnull=True).order_by("name"))
    if not workspaces:
        return None
    apps_geo = "us" if organization.us_only_inference else "global"  # where US-only sent the apps' requests
    return usage_ingest(actor=actor, organization=organization,
                        records=demo_usage_records(workspaces, apps_geo=apps_geo))
