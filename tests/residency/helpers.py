"""Builders for usage rows and audit events used by the residency tests."""

import re
from datetime import timedelta
from html import unescape

from django.utils import timezone

from orgs import services
from orgs.models import Role
from residency import services as residency_services
from tests.factories import actor_for, add_member, primary_owner


def usage_row(workspace, n=1, **overrides):
    row = {
        "id": f"row-{n}",
        "workspace_id": workspace.pk,
        "model": "claude-opus-4-6",
        "inference_geo": "us",
        "service_tier": "standard",
        "occurred_at": "2026-03-01T10:15:00Z",
        "uncached_input_tokens": 1000,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "cache_read_input_tokens": 0,
        "output_tokens": 0,
    }
    row.update(overrides)
    return row


def member_with(org, name, permissions):
    """A member holding a custom role with exactly these area levels."""
    owner = primary_owner(org).user
    role = Role.objects.filter(organization=org, name=name).first() or services.role_create(
        actor=actor_for(owner), organization=org, name=name, permissions=permissions)
    return add_member(org, role.pk)


def workspace(org, name="Prod", **residency):
    owner = primary_owner(org).user
    return residency_services.workspace_create(actor=actor_for(owner), organization=org, name=name,
                                     data_residency=residency or None)


def ingest_days_ago(org, owner, rows, days_ago=1):
    """Ingest `rows` (usage rows without id and occurred_at) as if they happened `days_ago` days ago."""
    when = (timezone.now() - timedelta(days=days_ago)).isoformat()
    records = [{"id": f"r{days_ago}-{i}", "occurred_at": when, **row} for i, row in enumerate(rows)]
    residency_services.usage_ingest(actor=actor_for(owner.user), organization=org, records=records)


def priced_usage(org, owner):
    """Usage whose cost is checked by hand: $41.50 in the last 30 days (returns the workspace).

    - $5.00: 1M input on Opus 4.6 in global (in `us` $5.50);
    - $1.00: 1M input on Haiku 4.5, an older model priced the same wherever it ran;
    - $10.50: a Sonnet 4.6 batch, 2M input x $3 / 2 + 1M output x $15 / 2 (in `us` $11.55);
    - $25.00: the Claude apps, 1M output on Opus 4.6 in global (in `us` $27.50);
    and, 40 days ago (outside 30 days), $25.00 more of the same apps usage.
    """
    prod = workspace(org, "Prod")
    ingest_days_ago(org, owner, [
        {"workspace_id": prod.pk, "model": "claude-opus-4-6", "inference_geo": "global", "service_tier": "standard",
         "uncached_input_tokens": 1_000_000},
        {"workspace_id": prod.pk, "model": "claude-haiku-4-5", "inference_geo": "not_available",
         "service_tier": "standard", "uncached_input_tokens": 1_000_000},
        {"workspace_id": prod.pk, "model": "claude-sonnet-4-6", "inference_geo": "global", "service_tier": "batch",
         "uncached_input_tokens": 2_000_000, "output_tokens": 1_000_000},
        {"surface": "apps", "model": "claude-opus-4-6", "inference_geo": "global", "service_tier": "standard",
         "output_tokens": 1_000_000},
    ])
    ingest_days_ago(org, owner, [{"surface": "apps", "model": "claude-opus-4-6", "inference_geo": "global",
                                  "service_tier": "standard", "output_tokens": 1_000_000}], days_ago=40)
    return prod


BLOCK_TAGS = re.compile(r"</?(?:td|th|tr|li|p|div|h\d|section|table|thead|tbody|ul|dl|dt|dd|label|legend)\b[^>]*>")


def page_text(response_or_html):
    """What a reader sees: block tags and table cells as spaces, inline tags (a, strong, code) removed,
    entities decoded, whitespace runs collapsed."""
    html = response_or_html if isinstance(response_or_html, str) else response_or_html.content.decode()
    return " ".join(unescape(re.sub(r"<[^>]+>", "", BLOCK_TAGS.sub(" ", html))).split())


def cache(w5=0, w1=0):
    return {"ephemeral_5m_input_tokens": w5, "ephemeral_1h_input_tokens": w1}


def apps_row(row):
    """A Claude apps usage row: no workspace."""
    row = {**row, "surface": "apps"}
    del row["workspace_id"]
    return row


def analytics_rows(prod, lab):
    """Six rows whose usage and cost are worked out by hand in tests/sdk/test_official_sdk.py's
    docstring (A to F: API rows of two workspaces in every tier and geo, and a Claude apps row)."""
    return [
        usage_row(prod, "A", occurred_at="2026-03-01T10:15:00Z", uncached_input_tokens=1_000_000,
                  cache_creation=cache(100_000, 10_000), cache_read_input_tokens=200_000, output_tokens=50_000),
        usage_row(prod, "B", inference_geo="global", service_tier="batch", occurred_at="2026-03-01T23:59:00Z",
                  uncached_input_tokens=2_000_000, output_tokens=100_000),
        usage_row(lab, "C", model="claude-sonnet-4-6", service_tier="batch", occurred_at="2026-03-02T00:00:00Z",
                  uncached_input_tokens=1_000_000, cache_creation=cache(1_000_000), output_tokens=1_000_000),
        usage_row(lab, "D", model="claude-haiku-4-5", inference_geo="not_available",
                  occurred_at="2026-03-02T05:00:00Z", uncached_input_tokens=1_000_000,
                  cache_read_input_tokens=1_000_000, output_tokens=200_000),
        usage_row(prod, "E", model="claude-opus-4-1", inference_geo="not_available", service_tier="priority",
                  occurred_at="2026-03-02T05:30:00Z", uncached_input_tokens=100_000, cache_creation=cache(0, 100_000),
                  output_tokens=10_000),
        apps_row(usage_row(prod, "F", model="claude-sonnet-4-6", occurred_at="2026-03-02T12:00:00Z",
                           uncached_input_tokens=1_000_000)),
    ]
