"""What an audit event's hash covers, and how a chain of events is judged. Pure Python: no
Django, no database, so an auditor's offline verifier (`audit.offline`) runs the very same
rules as `verify_audit_log` against the database (`audit.chain`).

Hashing. Each organization's events form a chain: record N stores the hash of record N-1 and
a hash over its own content, SHA-256 of the canonical JSON (sorted keys, no spaces, UTF-8) of
the fields its `hash_version` covers (`HASHED_FIELDS`). What is hashed is exactly what is
stored: `audit.services.normalize` turns before/after values into JSON that every reader keeps
exactly (strings without NUL or unpaired surrogates, integers within ±(2**53 - 1), booleans,
null, lists, objects with string keys; any other number becomes its string), so SQLite's JSON
text and PostgreSQL's jsonb give back the very values that were hashed.

Judging. `Walker` reads a chain (or a seq span of it) in order and names every fault, not only
the first: an edited record (its content no longer matches its hash), missing records (a gap
in seq, or the head beyond the last record), a reordered record (its content matches its hash
only under another seq, or seq repeats), a broken link (two self-consistent records that do
not link: one was rewritten and re-hashed), a checkpoint mismatch (the chain no longer holds a
signed (seq, hash)), a forged checkpoint, and a chain head that does not match the last record.
"""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

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


def iso(dt):
    """created_at as hashed: ISO 8601 in UTC with microseconds."""
    return dt.astimezone(UTC).isoformat(timespec="microseconds")


def iso_from_text(text):
    """created_at as hashed, from any ISO 8601 text (an export's "2026-03-01T12:00:00Z")."""
    if len(text) == 32 and text[10] == "T" and text.endswith("+00:00"):
        return text
    parsed = datetime.fromisoformat(text)
    return iso(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))


def compute_hash_reference(fields):
    """The definition of an event's hash: SHA-256 of the canonical JSON of the fields its
    `hash_version` covers (version 1 when absent). `compute_hash` below produces the same
    bytes faster; a test holds them equal."""
    version = fields.get("hash_version", 1)
    payload = {name: fields[name] for name in HASHED_FIELDS[version]}
    payload["created_at"] = iso(payload["created_at"])
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default)
encode_str = json.encoder.encode_basestring  # what the encoder uses with ensure_ascii=False


def encode_json_value(value):
    """A before/after value as canonical JSON."""
    return "null" if value is None else _ENCODER.encode(value)


TEMPLATES = _TEMPLATE = {version: "{" + ",".join(json.dumps(name) + ":%s" for name in fields) + "}"
             for version, fields in SORTED_FIELDS.items()}


def require_int(value):
    if type(value) is not int:
        raise TypeError("must be an int")
    return value


def _builder(version):
    """A function (values, json_text, created_text, encode) -> the canonical JSON text of one
    event of `version`: the template filled field by field in sorted order, generated once so
    that a million events cost one call each (the offline verifier's hot loop)."""
    slots = []
    for name in SORTED_FIELDS[version]:
        if name in JSON_FIELDS:
            slots.append(f"j(v[{name!r}])")
        elif name in INT_FIELDS:
            slots.append(f"i(v[{name!r}])")
        elif name == "created_at":
            slots.append(f"e(c(v[{name!r}]))")
        else:
            slots.append(f"e(v[{name!r}])")
    namespace = {"T": _TEMPLATE[version], "i": require_int}
    exec(f"def build(v, j, c, e):\n    return T % ({', '.join(slots)},)", namespace)  # noqa: S102 (generated from field names)
    return namespace["build"]


_BUILDERS = {version: _builder(version) for version in SORTED_FIELDS}


def payload_text(version, values, json_text, created_text, e=encode_str):
    """The canonical JSON of one event. `values` maps each field of ALL_FIELDS (or more) to its
    stored value; before/after go through `json_text`, created_at through `created_text`.
    Raises TypeError/KeyError for a value the writer never produces (a non-string text field,
    a non-int seq, an unknown version)."""
    return _BUILDERS[version](values, json_text, created_text, e)


def compute_hash(fields):
    try:
        text = payload_text(fields.get("hash_version", 1), fields, encode_json_value, iso)
    except (TypeError, KeyError):
        return compute_hash_reference(fields)
    return hashlib.sha256(text.encode()).hexdigest()


def hash_text(text):
    return hashlib.sha256(text.encode()).hexdigest()


def canonical_json_reader(size=20000):
    """Stored JSON text -> canonical JSON text, for one verification run.

    The C scanner and encoder are called directly (json.loads and JSONEncoder.encode add a
    Python layer and build a new encoder per call); values parsed from JSON cannot be
    circular, so the encoder skips that check. Audit values repeat a lot ({"us_only": true}),
    so a bounded cache saves most of the work on real logs. Values that are not text (an
    export's parsed JSON) are encoded directly.
    """
    scan = json.JSONDecoder().scan_once
    encode = json.encoder.c_make_encoder(None, _json_default, encode_str, None, ":", ",", True, False, True)
    cache = {}

    def read(raw):
        if raw is None:
            return "null"
        if not isinstance(raw, str):
            return "".join(encode(raw, 0)) if isinstance(raw, (dict, list)) else encode_json_value(raw)
        hit = cache.get(raw)
        if hit is None:
            try:
                value, end = scan(raw, 0)
            except StopIteration:
                value, end = None, -1
            if end != len(raw):  # leading/trailing space, or not JSON: the strict, slower way
                value = json.loads(raw)
            hit = "".join(encode(value, 0)) if isinstance(value, (dict, list)) else encode_json_value(value)
            if len(cache) >= size:
                cache.clear()
            cache[raw] = hit
        return hit

    return read


# --- faults --------------------------------------------------------------------------------

EDITED = "edited"
MISSING = "missing"
REORDERED = "reordered"
CHECKPOINT_MISMATCH = "checkpoint mismatch"
FORGED_CHECKPOINT = "forged checkpoint"
HEAD_MISMATCH = "head mismatch"
KINDS = (EDITED, MISSING, REORDERED, CHECKPOINT_MISMATCH, FORGED_CHECKPOINT, HEAD_MISMATCH)

REPEATS = "sequence number repeats"
# A chain with more faults than this is named up to here; the rest are counted.
MAX_FAULTS = 100_000
# Records whose content does not match their hash are each tried under other seqs (moved or
# renumbered?) up to this many; further ones are reported as edited without that check.
MAX_CLASSIFIED = 1000
RENUMBER_WINDOW = 16


@dataclass(frozen=True)
class Fault:
    """One bad record (or range of records, or checkpoint)."""

    kind: str
    seq: int | None  # the record's seq as stored, the first missing seq, or a checkpoint's seq
    detail: str
    id: object = None  # the record's database id, or its line in an export
    last_seq: int | None = None  # the last missing seq of a range

    @property
    def where(self):
        if self.seq is None:
            return "checkpoint"
        if self.kind == MISSING and self.last_seq is not None and self.last_seq != self.seq:
            return f"records #{self.seq}..#{self.last_seq}"
        prefix = "checkpoint" if self.kind in (CHECKPOINT_MISMATCH, FORGED_CHECKPOINT) else "record"
        return f"{prefix} #{self.seq}" + (f" ({self.id_label})" if self.id is not None else "")

    @property
    def id_label(self):
        return self.id if isinstance(self.id, str) else f"id {self.id}"

    def __str__(self):
        return f"{self.where}: {self.kind}: {self.detail}"


@dataclass(frozen=True)
class CheckpointRef:
    """A signed (seq, hash) the chain must still contain; `label` says which file and when."""

    seq: int
    hash: str
    label: str


@dataclass
class ChainReport:
    organization_id: str
    count: int
    faults: list = field(default_factory=list)
    omitted: int = 0  # faults beyond MAX_FAULTS, not listed
    checkpoints: int = 0  # valid checkpoints checked against the chain
    newest_checkpoint: object = None  # the valid checkpoint with the highest seq, if any
    head: tuple | None = None  # (seq, hash) of the chain head the walk was checked against

    @property
    def ok(self):
        return not self.faults and not self.omitted

    @property
    def first(self):
        return self.faults[0] if self.faults else None

    @property
    def bad_seq(self):
        return self.first.seq if self.first else None

    @property
    def bad_id(self):
        return self.first.id if self.first else None

    @property
    def reason(self):
        return str(self.first) if self.first else ""

    @property
    def fault_count(self):
        return len(self.faults) + self.omitted

    @property
    def kinds(self):
        return sorted({f.kind for f in self.faults})

    @property
    def summary(self):
        checked = f", {self.checkpoints} signed checkpoint{'s' if self.checkpoints != 1 else ''} hold" \
            if self.checkpoints else ""
        if self.ok:
            return f"{self.organization_id}: {self.count} events, chain intact{checked}"
        return (f"{self.organization_id}: {self.fault_count} bad record{'s' if self.fault_count != 1 else ''} "
                f"({', '.join(self.kinds)}) in {self.count} events read")

    def lines(self):
        """The summary, then one line per fault."""
        out = [self.summary] + [f"  {fault}" for fault in self.faults]
        if self.omitted:
            out.append(f"  ... and {self.omitted} more faults not listed")
        return out


class Walker:
    """Reads rows of one chain (or one seq span of it) in order and collects faults.

    `add(id, seq, prev_hash, hash, content_ok)` per row. The first row's link to the row
    before it is left to whoever joins spans (`join`), which knows that row. `checkpoints`
    maps seq -> [CheckpointRef] for the seqs this walk covers.
    """

    __slots__ = ("count", "first", "last", "faults", "omitted", "suspects", "checkpoints", "seen", "gaps",
                 "lookahead", "pending", "early")

    def __init__(self, checkpoints=None, lookahead=False):
        self.count = 0
        self.first = None  # (id, seq, prev_hash, hash, content_ok)
        self.last = None  # (seq, hash, content_ok) of the highest seq so far
        self.faults = []
        self.omitted = 0
        self.suspects = []  # (id, seq, prev_hash, hash) of rows whose content does not match their hash
        self.checkpoints = checkpoints or {}
        self.seen = set()  # checkpoint seqs found
        self.gaps = []  # [first, last] seq ranges skipped so far: missing, unless found later out of order
        # An export is walked in file order, where one record moved earlier would make every
        # record it jumped over look out of place: with `lookahead`, a jump forward waits for
        # the next row; if that row continues from before the jump, the jumper is the record
        # out of place (`early`: its seq -> its hash, for the link of the record after it).
        self.lookahead = lookahead
        self.pending = None
        self.early = {}

    def fault(self, fault):
        if len(self.faults) < MAX_FAULTS:
            self.faults.append(fault)
        else:
            self.omitted += 1

    def add(self, rid, seq, prev_hash, stored_hash, content_ok):
        self.count += 1
        if not content_ok:
            self.suspects.append((rid, seq, prev_hash, stored_hash))
        if self.checkpoints and seq in self.checkpoints:
            self.seen.add(seq)
            for ref in self.checkpoints[seq]:
                if ref.hash != stored_hash:
                    self.fault(Fault(CHECKPOINT_MISMATCH, seq, (
                        f"record #{seq}'s hash is not the one signed in {ref.label}: the history up to #{seq} "
                        "was rewritten (edited and re-hashed, or records removed or reordered)"), rid))
        if seq < 1:
            self.fault(Fault(REORDERED, seq, "sequence number out of range (records start at #1): moved", rid))
            return
        last = self.last
        if self.pending is not None:
            jumper, self.pending = self.pending, None
            if last is not None and seq == last[0] + 1 and jumper[1] > seq and jumper[1] not in self.early:
                self.fault(Fault(REORDERED, jumper[1], f"out of order: it comes before record #{seq}", jumper[0]))
                self.early[jumper[1]] = (jumper[3], jumper[4])
            else:
                self.place(*jumper)
                last = self.last
        if last is None:
            self.first = (rid, seq, prev_hash, stored_hash, content_ok)
        elif seq == last[0] + 1 and (prev_hash == last[1] or not (content_ok and last[2])):
            pass  # the next record, linked (the common case, kept cheap: a million rows a walk)
        elif seq <= last[0]:
            self.out_of_order(rid, seq)
            return
        elif self.lookahead:
            self.pending = (rid, seq, prev_hash, stored_hash, content_ok)
            return
        else:
            self.jump(rid, seq, prev_hash, content_ok)
        self.last = (seq, stored_hash, content_ok)

    def place(self, rid, seq, prev_hash, stored_hash, content_ok):
        """A row above the highest so far, placed without looking ahead."""
        if seq <= self.last[0]:
            self.out_of_order(rid, seq)
            return
        self.jump(rid, seq, prev_hash, content_ok)
        self.last = (seq, stored_hash, content_ok)

    def jump(self, rid, seq, prev_hash, content_ok):
        """From the highest seq so far to `seq`, over records found earlier in the file, if any."""
        last = self.last
        if self.early:
            found = sorted(s for s in self.early if last[0] < s < seq)
            for s in found:
                if s > last[0] + 1:
                    self.gaps.append([last[0] + 1, s - 1])
                last = (s, *self.early.pop(s))
        link_fault(self, last, rid, seq, prev_hash, content_ok)

    def flush(self):
        """Place a row still waiting for the next one (the end of the walk or of a chunk)."""
        if self.pending is not None:
            jumper, self.pending = self.pending, None
            self.place(*jumper)

    def out_of_order(self, rid, seq):
        """A row whose seq is not above the highest so far: found late (an export's lines out
        of order) or a repeated seq."""
        after = self.last[0] if self.last else 0
        if self.fill_gap(seq):
            self.fault(Fault(REORDERED, seq, f"out of order: it comes after record #{after}", rid))
            return
        self.fault(Fault(REORDERED, seq, (f"{REPEATS} (#{seq} again)" if seq == after
                                          else f"{REPEATS}: #{seq} appears again after #{after}"), rid))

    def close_gaps(self):
        """The seq ranges still skipped are missing records."""
        for first, last in self.gaps:
            self.fault(Fault(MISSING, first, f"record{'s' if last > first else ''} "
                             f"#{first}{f'..#{last}' if last > first else ''} "
                             f"{'are' if last > first else 'is'} missing (removed)", None, last))
        self.gaps = []

    def fill_gap(self, seq):
        """Whether `seq` lies in a skipped range (then no longer skipped: found late)."""
        for i, (first, last) in enumerate(self.gaps):
            if first <= seq <= last:
                self.gaps[i:i + 1] = [g for g in ([first, seq - 1], [seq + 1, last]) if g[0] <= g[1]]
                return True
        return False

    def state(self, final=True):
        """What a span hands to `join` (picklable, for worker processes). Rows of the database
        come in seq order, so a span's skipped ranges are `final`; an export's chunk of lines
        keeps them open, for a later chunk may hold the records out of place."""
        self.flush()
        if final:
            self.close_gaps()
        return (self.count, self.first, self.last, self.faults, self.omitted, self.suspects, self.seen,
                self.gaps, set(self.early))


def link_fault(walker, prev, rid, seq, prev_hash, content_ok):
    """Whether the row (rid, seq, prev_hash), above `prev` = (seq, hash, content_ok), follows it."""
    p_seq, p_hash, p_ok = prev
    if seq > p_seq + 1:
        walker.gaps.append([p_seq + 1, seq - 1])
    elif content_ok and p_ok and prev_hash != p_hash:
        what = "does not start the chain (its link is not the genesis hash)" if p_seq == 0 else (
            f"does not link to record #{p_seq}: #{p_seq} or an earlier record was rewritten and "
            "re-hashed, or this one was")
        walker.fault(Fault(EDITED, seq, what, rid))


def join(states, checkpoints=None, start=None):
    """Span states in order -> one Walker holding every fault of the whole chain, as a single
    walk from #1 (or from the known-good record `start` = (seq, hash)) would have found them:
    links across span edges are checked here, and a record a span found repeated is out of
    place when an earlier span skipped its seq (an export's lines, walked in chunks)."""
    whole = Walker(checkpoints)
    prev = (start[0], start[1], True) if start else (0, GENESIS_HASH, True)
    whole.last = prev if start else None
    early = set()
    for count, first, last, faults, omitted, suspects, seen, gaps, found_early in states:
        if first is not None:
            rid, seq, prev_hash, _hash, content_ok = first
            if seq <= prev[0]:
                whole.out_of_order(rid, seq)
            else:
                link_fault(whole, prev, rid, seq, prev_hash, content_ok)
            whole.first = whole.first or first
        for fault in faults:
            if fault.kind == REORDERED and fault.detail.startswith(REPEATS) and whole.fill_gap(fault.seq):
                after = fault.detail.rsplit("#", 1)[1].split(" ")[0]  # "... after #N" or "(#N again)"
                fault = Fault(REORDERED, fault.seq, f"out of order: it comes after record #{after}", fault.id)
            whole.fault(fault)
        whole.gaps.extend(gaps)
        early |= found_early
        whole.omitted += omitted
        whole.count += count
        whole.suspects.extend(suspects)
        whole.seen |= seen
        if last is not None and last[0] > prev[0]:
            prev = whole.last = last
    for seq in early:  # records found before their place, in an earlier chunk of an export
        whole.fill_gap(seq)
    return whole


def finish(walker, organization_id, *, head=None, checkpoints=None, rehash=None, find_by_hash=None,
           concurrent_head=None, extra=()):
    """The report for a whole walk: classify the records whose content does not match their
    hash (moved, or edited), then check the end of the chain against its head (when there is
    one: an export has none) and against every signed checkpoint.

    `rehash(id, seq)` gives a record's hash as if stored at `seq`; `find_by_hash(hashes)` maps
    hashes to the seq of a record holding each; `concurrent_head()` re-reads the head when the
    log runs past it (a record appended while the walk ran is not a fault); `extra` are faults
    found outside the walk (checkpoint files that do not verify).
    """
    walker.flush()
    walker.close_gaps()
    classified = _classify(walker.suspects, rehash, find_by_hash)
    # a moved record found out of place is named once, by what its hash says
    faults = [*extra, *(f for f in walker.faults if not (f.kind == REORDERED and (f.id, f.seq) in classified))]
    omitted = walker.omitted
    for rid, seq, _prev, _hash in walker.suspects[MAX_CLASSIFIED:] if rehash is not None else walker.suspects:
        classified.setdefault((rid, seq), Fault(EDITED, seq, "content does not match its hash (edited)", rid))
    faults.extend(classified.values())
    last_seq, last_hash = (walker.last[0], walker.last[1]) if walker.last else (0, GENESIS_HASH)
    if head is not None:
        faults.extend(_head_faults(head, last_seq, last_hash, concurrent_head))
    for seq, refs in sorted((checkpoints or {}).items()):
        if seq in walker.seen:
            continue
        for ref in refs:
            if seq > last_seq:
                detail = (f"{ref.label} signed record #{seq}, but the chain ends at #{last_seq}: "
                          "records were removed from the end")
            else:
                detail = f"{ref.label} signed record #{seq}, which is no longer in the chain (removed or renumbered)"
            faults.append(Fault(CHECKPOINT_MISMATCH, seq, detail))
    faults.sort(key=lambda f: (f.seq if f.seq is not None else -1, KINDS.index(f.kind)))
    if len(faults) > MAX_FAULTS:
        omitted += len(faults) - MAX_FAULTS
        faults = faults[:MAX_FAULTS]
    return ChainReport(organization_id, walker.count, faults, omitted)


def _head_faults(head, last_seq, last_hash, concurrent_head):
    head_seq, head_hash = head
    if (head_seq, head_hash) == (last_seq, last_hash):
        return []
    if head_seq > last_seq:
        return [Fault(MISSING, last_seq + 1, f"the chain head is #{head_seq} but the log ends at #{last_seq}: "
                      "records were removed from the end", None, head_seq)]
    if head_seq < last_seq and concurrent_head is not None:
        now = concurrent_head()
        if now[0] > last_seq or now == (last_seq, last_hash):
            return []  # appended while we read
    if head_seq == last_seq:
        return [Fault(HEAD_MISMATCH, head_seq, "the chain head's hash is not this record's hash")]
    return [Fault(HEAD_MISMATCH, head_seq + 1, f"records #{head_seq + 1}..#{last_seq} lie beyond the chain head "
                  f"#{head_seq}: the head was moved back, or records were added around it", None, last_seq)]


def _classify(suspects, rehash, find_by_hash):
    """{(id, seq): Fault} for records whose content does not match their hash: REORDERED when
    the content matches under another seq (the one after the record its link points to, or
    one nearby: renumbered or swapped), else EDITED."""
    out = {}
    if rehash is None or not suspects:
        return out
    suspects = suspects[:MAX_CLASSIFIED]
    linked = find_by_hash({prev for _, _, prev, _ in suspects}) if find_by_hash else {}
    for rid, seq, prev_hash, stored_hash in suspects:
        candidates = []
        if prev_hash == GENESIS_HASH:
            candidates.append(1)
        elif prev_hash in linked:
            candidates.append(linked[prev_hash] + 1)
        for d in range(1, RENUMBER_WINDOW + 1):
            candidates += [seq + d, seq - d]
        moved_from = None
        for candidate in candidates:
            if candidate != seq and candidate > 0:
                try:
                    if rehash(rid, candidate) == stored_hash:
                        moved_from = candidate
                        break
                except (TypeError, ValueError, KeyError, AttributeError):
                    break
        if moved_from is not None:
            fault = Fault(REORDERED, seq, f"this record was written as #{moved_from} and has been moved "
                          "(renumbered or reordered)", rid)
        else:
            fault = Fault(EDITED, seq, "content does not match its hash (edited)", rid)
        out[(rid, seq)] = fault
    return out
