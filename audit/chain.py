"""Verification of an organization's hash chain in the database, fast.

What a hash covers and how a walk judges a chain live in `audit.integrity` (pure Python, shared
with the offline verifier). Here: reading the chain with SQL that does most of the canonical
JSON, in seq spans (worker processes for long chains), against the chain head (`ChainHead`)
and the signed checkpoints (`audit.checkpoints`).
"""

import hashlib
import json
import multiprocessing
import os
from datetime import UTC

from django.db import connection, connections
from django.utils.dateparse import parse_datetime

from .integrity import (  # noqa: F401  (re-exported: the hash definition lives in audit.integrity)
    ALL_FIELDS,
    CURRENT_VERSION,
    FORGED_CHECKPOINT,
    GENESIS_HASH,
    HASHED_FIELDS,
    INT_FIELDS,
    JSON_FIELDS,
    SORTED_FIELDS,
    ChainReport,
    CheckpointRef,
    Fault,
    Walker,
    canonical_json,
    canonical_json_reader,
    compute_hash,
    compute_hash_reference,
    encode_json_value,
    finish,
    iso,
    join,
    payload_text,
)
from .models import AuditEvent, ChainHead

_iso = iso
_canonical_json_reader = canonical_json_reader


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


def _verify_span(db, organization_id, lo, hi, chunk_size, checkpoints=None):
    """Walk every event with lo < seq <= hi; returns the span's `Walker.state()`.

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
    json_text = canonical_json_reader()
    sha256 = hashlib.sha256
    walker = Walker({seq: refs for seq, refs in (checkpoints or {}).items() if lo < seq <= hi})
    add = walker.add
    for pk, stored_hash, seq, prev_hash, version, before, after, head, tail in _chain_rows(
            db, organization_id, lo, hi, chunk_size, columns):
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
        add(pk, seq, prev_hash, stored_hash, content_ok)
    return walker.state()


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


def _seq_ranges(head_seq, spans, lo=SEQ_MIN):
    """`spans` consecutive (lo, hi] ranges covering every seq above `lo`, split evenly up to the head."""
    start = max(lo, 0)
    bounds = [lo, *(start + (head_seq - start) * i // spans for i in range(1, spans)), SEQ_MAX]
    return list(zip(bounds, bounds[1:], strict=False))


def _rehash(db):
    """rehash(id, seq): a stored record's hash as if it were stored at `seq` (moved or not?)."""
    json_text = canonical_json_reader()
    rows = {}

    def rehash(pk, seq):
        if pk not in rows:
            rows[pk] = _full_row(db, pk)
        version, values = rows[pk]
        return hashlib.sha256(payload_text(version, {**values, "seq": seq}, json_text, _iso_from_db).encode()).hexdigest()

    return rehash


def _find_by_hash(db, organization_id):
    def find(hashes):
        found, hashes = {}, sorted(hashes)
        table = AuditEvent._meta.db_table
        with db.cursor() as cursor:
            for i in range(0, len(hashes), 500):
                batch = hashes[i:i + 500]
                cursor.execute(f"SELECT hash, seq FROM {table} WHERE organization_id = %s AND hash IN "
                               f"({', '.join(['%s'] * len(batch))})", [organization_id, *batch])
                found.update(cursor.fetchall())
        return found

    return find


def checkpoint_refs(loaded):
    """(seq -> [CheckpointRef], [Fault for each file that does not verify]) from `checkpoints.load`."""
    refs = {}
    for checkpoint in loaded.valid if loaded else ():
        refs.setdefault(checkpoint.seq, []).append(CheckpointRef(checkpoint.seq, checkpoint.hash, checkpoint.label))
    faults = [Fault(FORGED_CHECKPOINT, seq, f"{path}: {problem}") for path, seq, problem in
              (loaded.invalid if loaded else ())]
    return refs, faults


def verify_chain(organization_id, *, checkpoints=None, chunk_size=5000, workers=None, spans=None, since=None):
    """Walk one organization's chain in seq order and name every bad record (`ChainReport`).

    The seq range is cut into spans checked independently (in `workers` forked processes
    for a long chain, see `default_workers`), then joined in order: each span's first row
    must follow the previous span's last, so the report names the same faults a single walk
    would. `checkpoints` (`audit.checkpoints.load`) are signed (seq, hash) the chain must
    still hold; files among them that do not verify are faults too. `since` = (seq, hash)
    checks only the records after a known-good one (`audit_checkpoint`). `spans` and
    `workers` are for tests and benchmarks.
    """
    organization_id = getattr(organization_id, "pk", organization_id)
    head = chain_head(organization_id)
    refs, extra = checkpoint_refs(checkpoints)
    lo = since[0] if since else SEQ_MIN
    workers = default_workers(head[0] - max(lo, 0)) if workers is None else workers
    spans = spans or (1 if workers == 1 else workers * 4)
    ranges = _seq_ranges(max(head[0], 1), spans, lo)
    pool = None
    if workers > 1:
        try:
            pool = multiprocessing.get_context("fork").Pool(workers)
        except (OSError, AssertionError):  # no processes left, or we are a daemonic process
            pool = None
    if pool is None:
        states = [_verify_span(connection, organization_id, a, b, chunk_size, refs) for a, b in ranges]
    else:
        tasks = [(connection.alias, organization_id, a, b, chunk_size, refs) for a, b in ranges]
        with pool:
            states = list(pool.imap(_verify_span_in_worker, tasks))
    whole = join(states, refs, start=since)
    report = finish(whole, organization_id, head=head, checkpoints=refs, rehash=_rehash(connection),
                    find_by_hash=_find_by_hash(connection, organization_id),
                    concurrent_head=lambda: chain_head(organization_id), extra=extra)
    report.head = head
    if checkpoints:
        report.checkpoints = len(checkpoints.valid)
        report.newest_checkpoint = checkpoints.newest
    return report
