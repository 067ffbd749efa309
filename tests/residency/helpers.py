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
