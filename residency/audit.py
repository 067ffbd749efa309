"""The audit core: one `audit_record()` for every service, a registry of event types with
human sentences, and chain verification (SPEC §2 Audit, §4 verify_audit_log).

Each organization's events form a hash chain: record N stores the hash of record N-1 and a
hash over its own content. The organization row holds the chain head (last seq and hash) and
is locked while a record is appended, so concurrent writers queue instead of forking.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC

from django.db import connection
from django.utils import timezone

from .models import AuditEvent

GENESIS_HASH = "0" * 64

HASHED_FIELDS = (
    "organization_id",
    "seq",
    "created_at",
    "action",
    "outcome",
    "actor_type",
    "actor_id",
    "actor_user_id",
    "actor_label",
    "actor_role",
    "source",
    "ip",
    "user_agent",
    "request_id",
    "target_type",
    "target_id",
    "target_label",
    "before",
    "after",
    "prev_hash",
)


@dataclass(frozen=True)
class EventType:
    action: str
    label: str
    residency: bool = False  # visible to privacy: view, as residency history


EVENT_TYPES = {
    e.action: e
    for e in [
        EventType("organization.created", "Organization created"),
        EventType("organization.updated", "Organization updated"),
        EventType("inference_residency.updated", "US-only inference changed", residency=True),
        EventType("inference_residency.change_denied", "US-only inference change denied", residency=True),
        EventType("inference_residency.legacy_migrated", "Legacy opt-out migrated", residency=True),
        EventType("member.added", "Member added"),
        EventType("member.role_changed", "Member role changed"),
        EventType("member.removed", "Member removed"),
        EventType("primary_owner.transferred", "Primary ownership transferred"),
        EventType("role.created", "Custom role created"),
        EventType("role.updated", "Custom role updated"),
        EventType("api_key.created", "API key created"),
        EventType("api_key.revoked", "API key revoked"),
        EventType("workspace.created", "Workspace created", residency=True),
        EventType("workspace.updated", "Workspace updated", residency=True),
        EventType("workspace.residency_change_denied", "Workspace residency change denied", residency=True),
        EventType("workspace.archived", "Workspace archived", residency=True),
        EventType("workspace.admin_granted", "Workspace admin granted"),
        EventType("workspace.admin_revoked", "Workspace admin revoked"),
    ]
}
RESIDENCY_ACTIONS = tuple(a for a, e in EVENT_TYPES.items() if e.residency)


def _json_default(value):
    return str(value)


def canonical_json(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def normalize(value):
    """Make before/after values JSON-stable (Decimals and dates as strings)."""
    return json.loads(canonical_json(value)) if value is not None else None


def _iso(dt):
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def compute_hash_reference(fields):
    """The definition of an event's hash: SHA-256 of the canonical JSON of its hashed fields.

    `compute_hash` below produces the same bytes faster; a test holds them equal.
    """
    payload = {name: fields[name] for name in HASHED_FIELDS}
    payload["created_at"] = _iso(payload["created_at"])
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


# canonical_json sorts keys; the hashed fields are fixed, so their order and the `"key":`
# prefixes are computed once. Verification walks millions of events through this.
SORTED_HASHED_FIELDS = tuple(sorted(HASHED_FIELDS))
_PREFIXES = tuple(("{" if i == 0 else ",") + json.dumps(name) + ":" for i, name in enumerate(SORTED_HASHED_FIELDS))
_CREATED_AT_INDEX = SORTED_HASHED_FIELDS.index("created_at")
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)
_encode_str = json.encoder.encode_basestring  # what the encoder uses with ensure_ascii=False


def _encode(value):
    kind = type(value)
    if kind is str:
        return _encode_str(value)
    if value is None:
        return "null"
    if kind is int:
        return int.__repr__(value)
    return _ENCODER.encode(value)


def hash_sorted_values(values):
    """The hash of an event given its hashed fields' values in SORTED_HASHED_FIELDS order."""
    parts = []
    for i, value in enumerate(values):
        if i == _CREATED_AT_INDEX:
            value = _iso(value)
        parts.append(_PREFIXES[i] + _encode(value))
    parts.append("}")
    return hashlib.sha256("".join(parts).encode()).hexdigest()


def compute_hash(fields):
    return hash_sorted_values([fields[name] for name in SORTED_HASHED_FIELDS])


def _actor_role(actor, organization, role):
    if role is not None:
        return role
    if actor.user is None:
        return ""
    from orgs.models import Membership

    membership = (
        Membership.objects.filter(user=actor.user, organization_id=organization.pk)
        .select_related("role")
        .first()
    )
    if membership is None:
        return "staff" if actor.staff else "non-member"
    return membership.role.name


def audit_record(*, actor, organization, action, target, before=None, after=None,
                 outcome="success", role=None, target_label=None):
    """Append one event to `organization`'s chain, inside the caller's transaction.

    `target` is any model instance with `pk` (its class name is the target type) or a
    `(type, id, label)` tuple. `role` is the actor's role name at this moment, if known.
    """
    from orgs.models import Organization

    if action not in EVENT_TYPES:
        raise ValueError(f"Unknown audit action {action!r}: register it in EVENT_TYPES.")
    if not connection.in_atomic_block:
        raise RuntimeError("audit_record must run inside the service's transaction.")
    if isinstance(target, tuple):
        target_type, target_id, label = target
    else:
        target_type, target_id, label = type(target).__name__.lower(), str(target.pk), str(target)
    head = Organization.objects.select_for_update().only("audit_seq", "audit_head_hash").get(
        pk=organization.pk
    )
    fields = {
        "organization_id": organization.pk,
        "seq": head.audit_seq + 1,
        "created_at": timezone.now(),
        "action": action,
        "outcome": outcome,
        "actor_type": "api_key" if actor.api_key else ("user" if actor.user else "system"),
        "actor_id": str(actor.api_key.pk if actor.api_key else (actor.user.pk if actor.user else "")),
        "actor_user_id": str(actor.user.pk) if actor.user else "",
        "actor_label": actor.label[:300],
        "actor_role": _actor_role(actor, organization, role)[:100],
        "source": actor.source,
        "ip": actor.ip or "",
        "user_agent": (actor.user_agent or "")[:500],
        "request_id": actor.request_id or "",
        "target_type": target_type,
        "target_id": target_id,
        "target_label": (target_label if target_label is not None else label)[:300],
        "before": normalize(before),
        "after": normalize(after),
        "prev_hash": head.audit_head_hash or GENESIS_HASH,
    }
    fields["hash"] = compute_hash(fields)
    event = AuditEvent.objects.create(**fields)
    Organization.objects.filter(pk=organization.pk).update(
        audit_seq=fields["seq"], audit_head_hash=fields["hash"]
    )
    organization.audit_seq, organization.audit_head_hash = fields["seq"], fields["hash"]
    return event


@dataclass
class ChainReport:
    organization_id: str
    count: int
    ok: bool
    bad_seq: int | None = None
    bad_id: int | None = None
    reason: str = ""

    @property
    def summary(self):
        if self.ok:
            return f"{self.organization_id}: {self.count} events, chain intact"
        where = f"record #{self.bad_seq}" + (f" (id {self.bad_id})" if self.bad_id else "")
        return f"{self.organization_id}: {where}: {self.reason}"


VERIFY_FIELDS = ("id", "hash", "seq", "prev_hash", *SORTED_HASHED_FIELDS)


def verify_chain(organization, *, chunk_size=5000):
    """Walk one organization's chain in seq order and name the first bad record, if any."""
    rows = (
        AuditEvent.objects.filter(organization_id=organization.pk)
        .order_by("seq")
        .values_list(*VERIFY_FIELDS)
        .iterator(chunk_size=chunk_size)
    )
    expected_prev, expected_seq, count = GENESIS_HASH, 1, 0
    for row in rows:
        pk, stored_hash, seq, prev_hash = row[0], row[1], row[2], row[3]
        count += 1
        if seq != expected_seq:
            if seq > expected_seq:
                reason = f"records #{expected_seq}..#{seq - 1} are missing (removed)"
            else:
                reason = "sequence number repeats or goes backwards (reordered)"
            return ChainReport(organization.pk, count, False, seq, pk, reason)
        if hash_sorted_values(row[4:]) != stored_hash:
            return ChainReport(organization.pk, count, False, seq, pk,
                               "content does not match its hash (edited or moved)")
        if prev_hash != expected_prev:
            return ChainReport(organization.pk, count, False, seq, pk,
                               "does not link to the record before it (removed or reordered)")
        expected_prev, expected_seq = stored_hash, seq + 1
    head_seq, head_hash = organization.audit_seq, organization.audit_head_hash or GENESIS_HASH
    if (expected_seq - 1, expected_prev) != (head_seq, head_hash):
        if head_seq > expected_seq - 1:
            reason = f"the chain head is #{head_seq} but the log ends at #{expected_seq - 1}: records were removed from the end"
        else:
            reason = "the chain head does not match the last record"
        return ChainReport(organization.pk, count, False, expected_seq, None, reason)
    return ChainReport(organization.pk, count, True)
