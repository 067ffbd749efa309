"""The hash chain: what an event's hash covers, and verification of a whole chain.

Each organization's events form a chain: record N stores the hash of record N-1 and a hash
over its own content (`HASHED_FIELDS[version]`, as canonical JSON). `ChainHead` holds the last
seq and hash; verification walks the chain in seq order and compares its end with the head.
Version 1 records predate the key-creator and requester fields; version 2 covers them too.
"""

import hashlib
import json
import multiprocessing
import os
from dataclasses import dataclass
from datetime import UTC

from django.db import connection, connections
from django.utils.dateparse import parse_datetime

from .models import AuditEvent, ChainHead

GENESIS_HASH = "0" * 64
CURRENT_VERSION = 2

_V1 = (
    "organization_id", "seq", "created_at", "action", "outcome", "actor_type", "actor_id", "actor_user_id",
    "actor_label", "actor_role", "source", "ip", "user_agent", "request_id", "target_type", "target_id",
    "target_label", "before", "after", "prev_hash",
)
HASHED_FIELDS = {
    1: _V1,
    2: (*_V1, "hash_version", "actor_key_creator_id", "actor_key_creator_label", "requested_by_id",
        "requested_by_label", "change_request_id"),
}
SORTED_FIELDS = {version: tuple(sorted(fields)) for version, fields in HASHED_FIELDS.items()}
ALL_FIELDS = SORTED_FIELDS[CURRENT_VERSION]  # every version's fields are a subset of the newest
JSON_FIELDS = frozenset({"before", "after"})
INT_FIELDS = frozenset({"seq", "hash_version"})
for _fields in SORTED_FIELDS.values():
    # the fast verifier reads the text around before/after in two runs: they must be neighbours
    assert _fields.index("before") == _fields.index("after") + 1, "before/after must sort next to each other"
    assert set(_fields) <= set(ALL_FIELDS)


def _json_default(value):
    return str(value)


def canonical_json(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)


def _iso(dt):
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def compute_hash_reference(fields):
    """The definition of an event's hash: SHA-256 of the canonical JSON of the fields its
    `hash_version` covers (version 1 when absent). `compute_hash` below produces the same
    bytes faster; a test holds them equal."""
    version = fields.get("hash_version", 1)
    payload = {name: fields[name] for name in HASHED_FIELDS[version]}
    payload["created_at"] = _iso(payload["created_at"])
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)
_encode_str = json.encoder.encode_basestring  # what the encoder uses with ensure_ascii=False


def encode_json_value(value):
    """A before/after value as canonical JSON."""
    return "null" if value is None else _ENCODER.encode(value)


def _templates():
    """Per version: the canonical JSON of an event as a %-template, one slot per field in
    sorted order (text fields are escaped by the caller, exactly as the encoder does)."""
    return {version: "{" + ",".join(json.dumps(name) + ":%s" for name in fields) + "}"
            for version, fields in SORTED_FIELDS.items()}


_TEMPLATE = _templates()


def payload_text(version, values, json_text, created_text, e=_encode_str):
    """The canonical JSON of one event. `values` maps each field of ALL_FIELDS (or more) to its
    stored value; before/after go through `json_text`, created_at through `created_text`.
    Raises TypeError/KeyError for a value the writer never produces (a non-string text field,
    a non-int seq, an unknown version)."""
    slots = []
    for name in SORTED_FIELDS[version]:
        value = values[name]
        if name in JSON_FIELDS:
            slots.append(json_text(value))
        elif name in INT_FIELDS:
            if type(value) is not int:
                raise TypeError(f"{name} must be an int")
            slots.append(value)
        elif name == "created_at":
            slots.append(e(created_text(value)))
        else:
            slots.append(e(value))
    return _TEMPLATE[version] % tuple(slots)


def compute_hash(fields):
    try:
        text = payload_text(fields.get("hash_version", 1), fields, encode_json_value, _iso)
    except (TypeError, KeyError):
        return compute_hash_reference(fields)
    return hashlib.sha256(text.encode()).hexdigest()


def _iso_from_db(value):
    """created_at as hashed, from what the database returns: SQLite gives Django's naive UTC
    text ('2026-03-01 12:00:00.000005', no fraction when it is zero); PostgreSQL gives the
    hashed text already (see `_column`); anything else is parsed."""
    if isinstance(value, str):
        if len(value) == 32 and value[10] == "T" and value.endswith("+00:00"):
            return value
        if len(value) == 26 and value[10] == " ":
            return value[:10] + "T" + value[11:] + "+00:00"
        if len(value) == 19 and value[10] == " ":
            return value[:10] + "T" + value[11:] + ".000000+00:00"
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


def _column(db, name):
    """A hashed field as SQL giving its hashed text: created_at as ISO 8601 UTC with
    microseconds (SQLite: from Django's stored text, NULL for any other form), before/after
    as JSON text, integers as their digits."""
    q = db.ops.quote_name
    postgres = db.vendor == "postgresql"
    if name == "created_at":
        if postgres:
            return f"""to_char({q(name)} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"""
        c = q(name)
        return (f"CASE length({c}) WHEN 26 THEN substr({c}, 1, 10) || 'T' || substr({c}, 12) || '+00:00' "
                f"WHEN 19 THEN substr({c}, 1, 10) || 'T' || substr({c}, 12) || '.000000+00:00' END")
    if name in JSON_FIELDS and postgres:
        return f"{q(name)}::text"
    if name in INT_FIELDS:
        return f"CAST({q(name)} AS text)"
    return q(name)


def _sql_json(db, names, lead, trail):
    """SQL concatenating `names` into their canonical JSON members, values unescaped, and how
    many '"' the result has when no value contains one."""
    text_fields = set(names) - INT_FIELDS - JSON_FIELDS
    parts, literals, lit = [], [], lead
    for i, name in enumerate(names):
        lit += ("," if i else "") + json.dumps(name) + ":"
        if name in text_fields:
            lit += '"'
        literals.append(lit)
        parts += [f"'{lit}'", _column(db, name)]
        lit = '"' if name in text_fields else ""
    literals.append(lit + trail)
    parts.append(f"'{lit + trail}'")
    return " || ".join(parts), sum(piece.count('"') for piece in literals)


def _runs(db, version):
    """(head SQL, its quote count, tail SQL, its quote count) for one hash version: the text
    of the canonical JSON before "after" and after "before"."""
    fields = SORTED_FIELDS[version]
    head, tail = fields[:fields.index("after")], fields[fields.index("before") + 1:]
    head_sql, head_quotes = _sql_json(db, head, "{", ',"after":')
    tail_sql, tail_quotes = _sql_json(db, tail, ",", "}")
    return head_sql, head_quotes, tail_sql, tail_quotes


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
    """(hash_version, {field: stored value}) of one event, every field on its own."""
    q = db.ops.quote_name

    def column(name):
        if name in INT_FIELDS:
            return q(name)
        if name == "created_at" and db.vendor == "sqlite":
            return f"CAST({q(name)} AS text)"  # any form: see _iso_from_db
        return _column(db, name)

    names = ALL_FIELDS
    with db.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(column(n) for n in names)} FROM {AuditEvent._meta.db_table} "
                       f"WHERE id = %s", [pk])
        values = dict(zip(names, cursor.fetchone(), strict=True))
    return values["hash_version"], values


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
    JSON around before/after (for the row's hash version), unescaped. When no value holds a
    character the JSON encoder escapes (checked by counting quotes, looking for backslashes
    and control characters), that text is exactly what the encoder would write, and Python
    only rewrites before/after canonically and hashes. Any other event is read field by field
    and goes through `payload_text`, as at write time.
    """
    q = db.ops.quote_name
    runs = {version: _runs(db, version) for version in SORTED_FIELDS}
    version_col = q("hash_version")
    head_sql = "CASE " + " ".join(f"WHEN {version_col} = {v} THEN {r[0]}" for v, r in runs.items()) + " END"
    tail_sql = "CASE " + " ".join(f"WHEN {version_col} = {v} THEN {r[2]}" for v, r in runs.items()) + " END"
    quotes = {version: (r[1], r[3]) for version, r in runs.items()}
    columns = [q("id"), q("hash"), q("seq"), q("prev_hash"), version_col, _column(db, "before"),
               _column(db, "after"), head_sql, tail_sql]
    json_text = _canonical_json_reader()
    sha256 = hashlib.sha256
    span = _Span()
    expected_seq = expected_prev = None
    for pk, stored_hash, seq, prev_hash, version, before, after, head, tail in _chain_rows(
            db, organization_id, lo, hi, chunk_size, columns):
        span.count += 1
        try:
            # the encoder escapes '"', '\\' and control characters; isprintable() is False for
            # every control character (and some harmless ones, which merely take the slow way)
            expected_quotes = quotes.get(version)
            if (expected_quotes is not None and head is not None and tail is not None
                    and head.count('"') == expected_quotes[0] and tail.count('"') == expected_quotes[1]
                    and "\\" not in head and "\\" not in tail and head.isprintable() and tail.isprintable()):
                payload = head + json_text(after) + ',"before":' + json_text(before) + tail
            else:
                row_version, values = _full_row(db, pk)
                payload = payload_text(row_version, values, json_text, _iso_from_db)
            content_ok = sha256(payload.encode()).hexdigest() == stored_hash
        except (TypeError, ValueError, AttributeError, KeyError):
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
    alias, *rest = args
    db = connections.create_connection(alias)
    try:
        return _verify_span(db, *rest)
    finally:
        db.close()


def chain_head(organization_id):
    """(seq, hash) of the organization's chain head; (0, GENESIS_HASH) before its first record."""
    row = ChainHead.objects.filter(organization_id=organization_id).values_list("seq", "hash").first()
    return (row[0], row[1] or GENESIS_HASH) if row else (0, GENESIS_HASH)


def _join(organization_id, head, spans):
    """Spans in seq order -> the report a single walk from #1 would give."""
    expected_seq, expected_prev, count = 1, GENESIS_HASH, 0
    for span in spans:
        if not span.count:
            continue
        pk, seq, prev_hash, content_ok = span.first
        count += 1
        reason = _problem(seq, prev_hash, content_ok, expected_seq, expected_prev)
        if reason:
            return ChainReport(organization_id, count, False, seq, pk, reason)
        if span.bad:
            position, seq, pk, reason = span.bad
            return ChainReport(organization_id, count - 1 + position, False, seq, pk, reason)
        count += span.count - 1
        expected_seq, expected_prev = span.last[0] + 1, span.last[1]
    head_seq, head_hash = head
    if (expected_seq - 1, expected_prev) != (head_seq, head_hash):
        if head_seq > expected_seq - 1:
            reason = f"the chain head is #{head_seq} but the log ends at #{expected_seq - 1}: records were removed from the end"
        else:
            reason = "the chain head does not match the last record"
        return ChainReport(organization_id, count, False, expected_seq, None, reason)
    return ChainReport(organization_id, count, True)


# Chains at least this long are verified by worker processes when the caller is not inside a
# transaction (workers see only committed rows) and the database is not an in-memory SQLite.
PARALLEL_MIN_EVENTS = 100_000


def default_workers(head_seq, db=None):
    """How many processes verify_chain uses for a chain of `head_seq` events (1: in-process)."""
    db = db or connection
    if head_seq < PARALLEL_MIN_EVENTS or db.in_atomic_block or (db.vendor == "sqlite" and db.is_in_memory_db()):
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


def verify_chain(organization_id, *, chunk_size=5000, workers=None, spans=None):
    """Walk one organization's chain in seq order and name the first bad record, if any.

    The seq range is cut into spans checked independently (in `workers` forked processes
    for a long chain, see `default_workers`), then joined in order: each span's first row
    must follow the previous span's last, so the report names the same first bad record a
    single walk would. `spans` and `workers` are for tests and benchmarks.
    """
    organization_id = getattr(organization_id, "pk", organization_id)
    head = chain_head(organization_id)
    workers = default_workers(head[0]) if workers is None else workers
    spans = spans or (1 if workers == 1 else workers * 4)
    ranges = _seq_ranges(max(head[0], 1), spans)
    pool = None
    if workers > 1:
        try:
            pool = multiprocessing.get_context("fork").Pool(workers)
        except (OSError, AssertionError):  # no processes left, or we are a daemonic process
            pool = None
    if pool is None:
        return _join(organization_id, head,
                     (_verify_span(connection, organization_id, lo, hi, chunk_size) for lo, hi in ranges))
    tasks = [(connection.alias, organization_id, lo, hi, chunk_size) for lo, hi in ranges]
    with pool:
        # in order; leaving the block stops the workers once the join has its answer
        return _join(organization_id, head, pool.imap(_verify_span_in_worker, tasks))
