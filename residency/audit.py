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


# canonical_json sorts keys; the hashed fields are fixed, so the payload is a template with
# one slot per field, in sorted order. Text fields are escaped exactly as the JSON encoder
# does (ensure_ascii=False), a batch at a time. Verification walks millions of events
# through this; a test holds it byte-for-byte equal to compute_hash_reference.
SORTED_HASHED_FIELDS = tuple(sorted(HASHED_FIELDS))
_TEMPLATE = "{" + ",".join(json.dumps(name) + ":%s" for name in SORTED_HASHED_FIELDS) + "}"
_SPECIAL = ("after", "before", "created_at", "seq")
_SEGMENTS = []  # ("text", start, stop) runs of plain string fields, or (field name, index)
for _i, _name in enumerate(SORTED_HASHED_FIELDS):
    if _name in _SPECIAL:
        _SEGMENTS.append((_name, _i))
    elif _SEGMENTS and _SEGMENTS[-1][0] == "text" and _SEGMENTS[-1][2] == _i:
        _SEGMENTS[-1] = ("text", _SEGMENTS[-1][1], _i + 1)
    else:
        _SEGMENTS.append(("text", _i, _i + 1))
_SEGMENTS = tuple(_SEGMENTS)
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)
_encode_str = json.encoder.encode_basestring  # what the encoder uses with ensure_ascii=False


def encode_json_value(value):
    """A before/after value as canonical JSON."""
    return "null" if value is None else _ENCODER.encode(value)


def _hash(values, created_iso, before_json, after_json):
    """`values` in SORTED_HASHED_FIELDS order; the four special fields come pre-encoded.

    Raises TypeError when a text field is not a string (callers fall back to the reference).
    """
    parts = []
    for segment in _SEGMENTS:
        kind = segment[0]
        if kind == "text":
            parts.extend(map(_encode_str, values[segment[1]:segment[2]]))
        elif kind == "after":
            parts.append(after_json)
        elif kind == "before":
            parts.append(before_json)
        elif kind == "created_at":
            parts.append(_encode_str(created_iso))
        else:
            seq = values[segment[1]]
            if type(seq) is not int:
                raise TypeError("seq must be an int")
            parts.append(int.__repr__(seq))
    return hashlib.sha256((_TEMPLATE % tuple(parts)).encode()).hexdigest()


def compute_hash(fields):
    values = [fields[name] for name in SORTED_HASHED_FIELDS]
    try:
        return _hash(values, _iso(fields["created_at"]), encode_json_value(fields["before"]),
                     encode_json_value(fields["after"]))
    except TypeError:
        return compute_hash_reference(fields)


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


def _iso_from_db(value):
    """created_at as hashed, from what the database returns: SQLite gives Django's naive UTC
    text ('2026-03-01 12:00:00.000005', no fraction when it is zero), PostgreSQL a datetime."""
    if isinstance(value, str):
        if len(value) == 26 and value[10] == " ":
            return value[:10] + "T" + value[11:] + "+00:00"
        if len(value) == 19 and value[10] == " ":
            return value[:10] + "T" + value[11:] + ".000000+00:00"
        from django.utils.dateparse import parse_datetime

        parsed = parse_datetime(value)
        value = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return _iso(value)


class _JsonCache:
    """Stored JSON text -> canonical JSON. Audit values repeat a lot ({"us_only": true}),
    so a bounded cache saves most parse/encode work; unseen text is parsed and encoded."""

    def __init__(self, size=20000):
        self.size, self.data = size, {}

    def __call__(self, raw):
        if raw is None:
            return "null"
        hit = self.data.get(raw)
        if hit is None:
            hit = encode_json_value(json.loads(raw) if isinstance(raw, str) else raw)
            if len(self.data) >= self.size:
                self.data.clear()
            self.data[raw] = hit
        return hit


def _chain_rows(organization, chunk_size):
    """(id, hash, seq, prev_hash, created_at, before, after, *SORTED_HASHED_FIELDS) in seq order,
    read in keyset chunks over the (organization, seq) index with a plain cursor: Django's
    per-value converters would cost more than hashing."""
    table = AuditEvent._meta.db_table
    q = connection.ops.quote_name
    as_text = "::text" if connection.vendor == "postgresql" else ""
    # SQLite: the text as stored, skipping the driver's datetime parsing (see _iso_from_db)
    created = f"CAST({q('created_at')} AS text)" if connection.vendor == "sqlite" else q("created_at")
    columns = [q("id"), q("hash"), q("seq"), q("prev_hash"), created, q("before") + as_text,
               q("after") + as_text, *(q(name) for name in SORTED_HASHED_FIELDS)]
    select = ", ".join(columns)
    sql = (f"SELECT {select} FROM {table} WHERE organization_id = %s AND seq > %s "
           f"ORDER BY seq LIMIT {int(chunk_size)}")
    last = -(2**63) + 1  # below any seq, even a tampered negative one
    with connection.cursor() as cursor:
        while True:
            cursor.execute(sql, [organization.pk, last])
            rows = cursor.fetchall()
            yield from rows
            if len(rows) < chunk_size:
                return
            last = rows[-1][2]


def verify_chain(organization, *, chunk_size=5000):
    """Walk one organization's chain in seq order and name the first bad record, if any."""
    canonical = _JsonCache()
    expected_prev, expected_seq, count = GENESIS_HASH, 1, 0
    for row in _chain_rows(organization, chunk_size):
        pk, stored_hash, seq, prev_hash = row[0], row[1], row[2], row[3]
        count += 1
        if seq != expected_seq:
            if seq > expected_seq:
                reason = f"records #{expected_seq}..#{seq - 1} are missing (removed)"
            else:
                reason = "sequence number repeats or goes backwards (reordered)"
            return ChainReport(organization.pk, count, False, seq, pk, reason)
        values = row[7:]
        try:
            actual = _hash(values, _iso_from_db(row[4]), canonical(row[5]), canonical(row[6]))
        except (TypeError, ValueError, AttributeError):
            actual = None  # a value the writer could never have produced: not the hashed content
        if actual != stored_hash:
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
