"""Reads of the audit log, always scoped to one organization and to what the reader may see.

The log can hold millions of events per organization, so every read here is keyset paginated
by `seq` over the `(organization, ..., -seq)` indexes: no OFFSET, no COUNT(*).
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from orgs.models import AREA_LABELS, LEVEL_LABELS, ApiKey, LockReason, Membership, Plan, Role, Workspace

from .events import REGISTRY, Names
from .models import ActorType, AuditEvent


@dataclass(frozen=True)
class AuditFilters:
    action: str | None = None
    actor_id: str | None = None
    target_id: str | None = None
    starting_at: datetime | None = None
    ending_at: datetime | None = None

    @property
    def active(self):
        return any(v is not None for v in (self.action, self.actor_id, self.target_id, self.starting_at,
                                           self.ending_at))


def audit_events(scope, filters=None):
    """The events `scope` may see, filtered; ordered newest first (by seq)."""
    filters = filters or AuditFilters()
    qs = AuditEvent.objects.filter(organization_id=scope.organization.pk)
    if scope.actions is not None:
        qs = qs.filter(action__in=scope.actions)
    if filters.action:
        qs = qs.filter(action=filters.action)
    if filters.actor_id:
        if filters.actor_id.startswith("user_"):
            # a person: what they did themselves and through any of their API keys
            qs = qs.filter(actor_user_id=filters.actor_id)
        elif filters.actor_id == "system":
            qs = qs.filter(actor_type=ActorType.SYSTEM)
        else:
            qs = qs.filter(actor_id=filters.actor_id)
    if filters.target_id:
        qs = qs.filter(target_id=filters.target_id)
    if filters.starting_at:
        qs = qs.filter(created_at__gte=filters.starting_at)
    if filters.ending_at:
        qs = qs.filter(created_at__lt=filters.ending_at)
    return qs.order_by("-seq")


def seq_page(qs, *, limit, older_than=None, newer_than=None):
    """(rows newest first, has_older, has_newer) for one page of `qs` around a seq cursor."""
    if older_than is not None:
        rows = list(qs.filter(seq__lt=older_than).order_by("-seq")[: limit + 1])
        return rows[:limit], len(rows) > limit, True
    if newer_than is not None:
        rows = list(qs.filter(seq__gt=newer_than).order_by("seq")[: limit + 1])
        return list(reversed(rows[:limit])), True, len(rows) > limit
    rows = list(qs.order_by("-seq")[: limit + 1])
    return rows[:limit], len(rows) > limit, False


def audit_page(scope, filters, *, limit=50, older_than=None, newer_than=None):
    """One console page: (events, has_older, has_newer), keyset by seq (cursor = a seq)."""
    return seq_page(audit_events(scope, filters), limit=limit, older_than=older_than, newer_than=newer_than)


def audit_names(organization):
    """Role names and coded-value labels for rendering sentences (one query)."""
    roles = Role.objects.filter(Q(builtin=True) | Q(organization_id=organization.pk)).values_list("id", "name")
    return Names(dict(roles), values={"plan": dict(Plan.choices), "lock_reason": dict(LockReason.choices),
                                      "area": AREA_LABELS, "level": LEVEL_LABELS})


def audit_filter_choices(scope, names):
    """Options for the console's actor/target/action selects, from current objects (3 queries)."""
    org = scope.organization
    members = list(
        Membership.objects.filter(organization_id=org.pk).select_related("user").order_by("user__email")
    )
    keys = list(
        ApiKey.objects.filter(membership__organization_id=org.pk).select_related("membership__user").order_by("name")
    )
    workspaces = list(Workspace.objects.filter(organization_id=org.pk).order_by("name").values_list("id", "name"))
    actors = [(m.user_id, f"{m.user.display_name} (any source)") for m in members]
    actors += [(k.pk, f"API key {k.name} ({k.membership.user.email})") for k in keys]
    actors.append(("system", "System (commands, migrations)"))
    targets = [(org.pk, f"Organization {org.name}")]
    targets += [(ws_id, f"Workspace {name}") for ws_id, name in workspaces]
    if scope.actions is None:
        targets += [(m.user_id, f"Member {m.user.email}") for m in members]
        targets += [(k.pk, f"API key {k.name}") for k in keys]
        targets += [(rid, f"Role {name}") for rid, name in names.roles.items() if rid.startswith("role_")]
    return {"actors": actors, "targets": targets, "actions": audit_action_choices(scope)}


def audit_action_choices(scope):
    """The event types `scope` may filter by, with their labels (no query)."""
    return [(a, e.label) for a, e in REGISTRY.items() if scope.actions is None or a in scope.actions]
