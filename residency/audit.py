"""The audit core: one `audit_record()` for every service, a registry of event types with
human sentences, and chain verification (SPEC §2 Audit, §4 verify_audit_log).

Each organization's events form a hash chain: record N stores the hash of record N-1 and a
hash over its own content. The organization row holds the chain head (last seq and hash) and
is locked while a record is appended, so concurrent writers queue instead of forking.
"""

import hashlib
import json
import os
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
# one slot per field, in sorted order, filled by `_payload`. Text fields are escaped exactly as
# the JSON encoder does (ensure_ascii=False). Verification walks millions of events through
# this; a test holds it byte-for-byte equal to compute_hash_reference.
SORTED_HASHED_FIELDS = tuple(sorted(HASHED_FIELDS))
_TEMPLATE = "{" + ",".join(json.dumps(name) + ":%s" for name in SORTED_HASHED_FIELDS) + "}"
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)
_encode_str = json.encoder.encode_basestring  # what the encoder uses with ensure_ascii=False


def encode_json_value(value):
    """A before/after value as canonical JSON."""
    return "null" if value is None else _ENCODER.encode(value)


def _payload(row, json_text, created_text, e=_encode_str):
    """The canonical JSON of one event. `row` is (id, hash, *SORTED_HASHED_FIELDS), as
    `_chain_rows` reads it; before/after go through `json_text` and created_at through
    `created_text`. Raises TypeError when a text field is not a string or seq not an int
    (a value the writer never produces)."""
    (_, _, action, actor_id, actor_label, actor_role, actor_type, actor_user_id, after, before, created_at, ip,
     organization_id, outcome, prev_hash, request_id, seq, source, target_id, target_label, target_type,
     user_agent) = row
    if type(seq) is not int:
        raise TypeError("seq must be an int")
    return _TEMPLATE % (
        e(action), e(actor_id), e(actor_label), e(actor_role), e(actor_type), e(actor_user_id),
        json_text(after), json_text(before), e(created_text(created_at)), e(ip), e(organization_id), e(outcome),
        e(prev_hash), e(request_id), seq, e(source), e(target_id), e(target_label), e(target_type), e(user_agent),
    )


# _payload unpacks the fields by position: it must follow SORTED_HASHED_FIELDS exactly.
assert SORTED_HASHED_FIELDS == (
    "action", "actor_id", "actor_label", "actor_role", "actor_type", "actor_user_id", "after", "before",
    "created_at", "ip", "organization_id", "outcome", "prev_hash", "request_id", "seq", "source", "target_id",
    "target_label", "target_type", "user_agent",
), "HASHED_FIELDS changed: update _payload"


def compute_hash(fields):
    row = (None, None, *(fields[name] for name in SORTED_HASHED_FIELDS))
    try:
        return hashlib.sha256(_payload(row, encode_json_value, _iso).encode()).hexdigest()
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


def _iso_from_db(value):
    """created_at as hashed, from what the database returns: SQLite gives Django's naive UTC
    text ('2026-03-01 12:00:00.000005', no fraction when it is zero); PostgreSQL gives the
    hashed text already (see `_chain_rows`); anything else is parsed."""
    if isinstance(value, str):
        if len(value) == 32 and value[10] == "T" and value.endswith("+00:00"):
            return value
        if len(value) == 26 and value[10] == " ":
            return value[:10] + "T" + value[11:] + "+00:00"
        if len(value) == 19 and value[10] == " ":
            return value[:10] + "T" + value[11:] + ".000000+00:00"
        from django.utils.dateparse import parse_datetime

        parsed = parse_datetime(value)
        value = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return _iso(value)


def _canonical_json_reader(size=20000):
    """Stored JSON text -> canonical JSON text, for one verification run.

    The C scanner and encoder are called directly (json.loads and JSONEncoder.encode add a
    Python layer and build a new encoder per call); values parsed from JSON cannot be
    circular, so the encoder skips that check. Audit values repeat a lot ({"us_only": true}),
    so a bounded cache saves most of the work on real logs.
    """
    scan = json.JSONDecoder().scan_once
    encode = json.encoder.c_make_encoder(None, _json_default, _encode_str, None, ":", ",", True, False, True)
    cache = {}

    def read(raw):
        if raw is None:
            return "null"
        hit = cache.get(raw)
        if hit is None:
            if isinstance(raw, str):
                try:
                    value, end = scan(raw, 0)
                except StopIteration:
                    value, end = None, -1
                if end != len(raw):  # leading/trailing space, or not JSON: the strict, slower way
                    value = json.loads(raw)
            else:
                value = raw
            hit = "".join(encode(value, 0)) if isinstance(value, (dict, list)) else encode_json_value(value)
            if len(cache) >= size:
                cache.clear()
            cache[raw] = hit
        return hit

    return read


# The seq range one span covers: seq > lo and seq <= hi. Open ends reach any seq, even a
# tampered negative or huge one.
SEQ_MIN, SEQ_MAX = -(2**63) + 1, 2**63 - 1
_TEXT_FIELDS = frozenset(SORTED_HASHED_FIELDS) - {"before", "after", "seq"}
_HEAD_FIELDS = SORTED_HASHED_FIELDS[:SORTED_HASHED_FIELDS.index("after")]
_TAIL_FIELDS = SORTED_HASHED_FIELDS[SORTED_HASHED_FIELDS.index("before") + 1:]
assert set(_HEAD_FIELDS) | set(_TAIL_FIELDS) == set(SORTED_HASHED_FIELDS) - {"before", "after"}


def _column(db, name):
    """A hashed field as SQL giving its hashed text: created_at as ISO 8601 UTC with
    microseconds (SQLite: from Django's stored text, NULL for any other form), before/after
    as JSON text."""
    q = db.ops.quote_name
    postgres = db.vendor == "postgresql"
    if name == "created_at":
        if postgres:
            return f"""to_char({q(name)} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""
        c = q(name)
        return (f"CASE length({c}) WHEN 26 THEN substr({c}, 1, 10) || 'T' || substr({c}, 12) || '+00:00' "
                f"WHEN 19 THEN substr({c}, 1, 10) || 'T' || substr({c}, 12) || '.000000+00:00' END")
    if name in ("before", "after") and postgres:
        return f"{q(name)}::text"
    if name == "seq":
        return f"CAST({q(name)} AS text)"
    return q(name)


def _sql_json(db, names, lead, trail):
    """SQL concatenating `names` into their canonical JSON members, values unescaped, and how
    many '"' the result has when no value contains one."""
    parts, literals, lit = [], [], lead
    for i, name in enumerate(names):
        lit += ("," if i else "") + json.dumps(name) + ":"
        if name in _TEXT_FIELDS:
            lit += '"'
        literals.append(lit)
        parts += [f"'{lit}'", _column(db, name)]
        lit = '"' if name in _TEXT_FIELDS else ""
    literals.append(lit + trail)
    parts.append(f"'{lit + trail}'")
    return " || ".join(parts), sum(piece.count('"') for piece in literals)


def _chain_rows(db, organization_id, lo, hi, chunk_size, columns):
    """Rows of `columns` (SQL) with lo < seq <= hi, in seq order, read in keyset chunks over
    the (organization, seq) index with a plain cursor of the connection `db` (Django's
    per-value converters would cost more than hashing). The third column must be seq."""
    table = AuditEvent._meta.db_table
    sql = (f"SELECT {', '.join(columns)} FROM {table} WHERE organization_id = %s AND seq > %s AND seq <= %s "
           f"ORDER BY seq LIMIT {int(chunk_size)}")
    with db.cursor() as cursor:
        while True:
            cursor.execute(sql, [organization_id, lo, hi])
            rows = cursor.fetchall()
            yield from rows
            if len(rows) < chunk_size:
                return
            lo = rows[-1][2]


def _full_row(db, pk):
    """(id, hash, *SORTED_HASHED_FIELDS) of one event, each field on its own, for `_payload`."""
    q = db.ops.quote_name
    def column(name):
        if name == "seq" or (name == "created_at" and db.vendor == "sqlite"):
            return q(name) if name == "seq" else f"CAST({q(name)} AS text)"  # any form: see _iso_from_db
        return _column(db, name)

    columns = [q("id"), q("hash"), *(column(name) for name in SORTED_HASHED_FIELDS)]
    with db.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(columns)} FROM {AuditEvent._meta.db_table} WHERE id = %s", [pk])
        return cursor.fetchone()


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


@dataclass
class _Span:
    """One seq range checked on its own. Its first row's link to the row before is left to
    the join (which knows that row); every later row is checked against its predecessor."""

    count: int = 0
    first: tuple | None = None  # (id, seq, prev_hash, content matches its hash)
    last: tuple | None = None  # (seq, hash) of the last row when the span is intact
    bad: tuple | None = None  # (position in the span from 1, seq, id, reason): the first problem


def _problem(seq, prev_hash, content_ok, expected_seq, expected_prev):
    """Why a row does not follow the row before it, in the order the checks are reported."""
    if seq != expected_seq:
        if seq > expected_seq:
            return f"records #{expected_seq}..#{seq - 1} are missing (removed)"
        return "sequence number repeats or goes backwards (reordered)"
    if not content_ok:
        return "content does not match its hash (edited or moved)"
    if prev_hash != expected_prev:
        return "does not link to the record before it (removed or reordered)"
    return None


def _verify_span(db, organization_id, lo, hi, chunk_size):
    """Check every event with lo < seq <= hi.

    The database concatenates each event's text fields into the two runs of its canonical
    JSON around before/after (head: action..actor_user_id, tail: created_at..user_agent),
    unescaped. When no value holds a character the JSON encoder escapes (checked by counting
    quotes, looking for backslashes and control characters), that text is exactly what
    the encoder would write, and Python only rewrites before/after canonically and hashes.
    Any other event is read field by field and goes through `_payload`, as at write time.
    """
    q = db.ops.quote_name
    head_sql, head_quotes = _sql_json(db, _HEAD_FIELDS, "{", ',"after":')
    tail_sql, tail_quotes = _sql_json(db, _TAIL_FIELDS, ",", "}")
    columns = [q("id"), q("hash"), q("seq"), q("prev_hash"), _column(db, "before"), _column(db, "after"),
               head_sql, tail_sql]
    json_text = _canonical_json_reader()
    sha256 = hashlib.sha256
    span = _Span()
    expected_seq = expected_prev = None
    for pk, stored_hash, seq, prev_hash, before, after, head, tail in _chain_rows(
            db, organization_id, lo, hi, chunk_size, columns):
        span.count += 1
        try:
            # the encoder escapes '"', '\\' and control characters; isprintable() is False for
            # every control character (and some harmless ones, which merely take the slow way)
            if (head is not None and tail is not None and head.count('"') == head_quotes
                    and tail.count('"') == tail_quotes and "\\" not in head and "\\" not in tail
                    and head.isprintable() and tail.isprintable()):
                payload = head + json_text(after) + ',"before":' + json_text(before) + tail
            else:
                payload = _payload(_full_row(db, pk), json_text, _iso_from_db)
            content_ok = sha256(payload.encode()).hexdigest() == stored_hash
        except (TypeError, ValueError, AttributeError):
            content_ok = False  # a value the writer could never have produced: not the hashed content
        if span.first is None:
            span.first = (pk, seq, prev_hash, content_ok)
        else:
            reason = _problem(seq, prev_hash, content_ok, expected_seq, expected_prev)
            if reason:
                span.bad = (span.count, seq, pk, reason)
                return span
        expected_seq, expected_prev = seq + 1, stored_hash
    if span.count:
        span.last = (expected_seq - 1, expected_prev)
    return span


def _verify_span_in_worker(args):
    """A worker process (forked) reads through its own connection, never the parent's."""
    from django.db import connections

    alias, *rest = args
    db = connections.create_connection(alias)
    try:
        return _verify_span(db, *rest)
    finally:
        db.close()


def _join(organization, spans):
    """Spans in seq order -> the report a single walk from #1 would give."""
    expected_seq, expected_prev, count = 1, GENESIS_HASH, 0
    for span in spans:
        if not span.count:
            continue
        pk, seq, prev_hash, content_ok = span.first
        count += 1
        reason = _problem(seq, prev_hash, content_ok, expected_seq, expected_prev)
        if reason:
            return ChainReport(organization.pk, count, False, seq, pk, reason)
        if span.bad:
            position, seq, pk, reason = span.bad
            return ChainReport(organization.pk, count - 1 + position, False, seq, pk, reason)
        count += span.count - 1
        expected_seq, expected_prev = span.last[0] + 1, span.last[1]
    head_seq, head_hash = organization.audit_seq, organization.audit_head_hash or GENESIS_HASH
    if (expected_seq - 1, expected_prev) != (head_seq, head_hash):
        if head_seq > expected_seq - 1:
            reason = f"the chain head is #{head_seq} but the log ends at #{expected_seq - 1}: records were removed from the end"
        else:
            reason = "the chain head does not match the last record"
        return ChainReport(organization.pk, count, False, expected_seq, None, reason)
    return ChainReport(organization.pk, count, True)


# Chains at least this long are verified by worker processes when the caller is not inside a
# transaction (workers see only committed rows) and the database is not an in-memory SQLite.
PARALLEL_MIN_EVENTS = 100_000


def default_workers(organization, db=None):
    """How many processes verify_chain uses for `organization` by default (1: in-process)."""
    db = db or connection
    if (organization.audit_seq < PARALLEL_MIN_EVENTS or db.in_atomic_block
            or (db.vendor == "sqlite" and db.is_in_memory_db())):
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


def _seq_ranges(head_seq, spans):
    """`spans` consecutive (lo, hi] ranges covering every seq, split evenly up to the head."""
    bounds = [SEQ_MIN, *(head_seq * i // spans for i in range(1, spans)), SEQ_MAX]
    return list(zip(bounds, bounds[1:], strict=False))


def verify_chain(organization, *, chunk_size=5000, workers=None, spans=None):
    """Walk one organization's chain in seq order and name the first bad record, if any.

    The seq range is cut into spans checked independently (in `workers` forked processes
    for a long chain, see `default_workers`), then joined in order: each span's first row
    must follow the previous span's last, so the report names the same first bad record a
    single walk would. `spans` and `workers` are for tests and benchmarks.
    """
    workers = default_workers(organization) if workers is None else workers
    spans = spans or (1 if workers == 1 else workers * 4)
    ranges = _seq_ranges(max(organization.audit_seq, 1), spans)
    pool = None
    if workers > 1:
        import multiprocessing

        try:
            pool = multiprocessing.get_context("fork").Pool(workers)
        except (OSError, AssertionError):  # no processes left, or we are a daemonic process
            pool = None
    if pool is None:
        return _join(organization, (_verify_span(connection, organization.pk, lo, hi, chunk_size)
                                    for lo, hi in ranges))
    tasks = [(connection.alias, organization.pk, lo, hi, chunk_size) for lo, hi in ranges]
    with pool:
        # in order; leaving the block stops the workers once the join has its answer
        return _join(organization, pool.imap(_verify_span_in_worker, tasks))
