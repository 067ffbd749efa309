"""Builders for usage rows and audit events used by the residency tests."""

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
