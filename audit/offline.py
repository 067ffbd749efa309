"""Offline verification of an audit export (SPEC §7), for auditors: no database, no Django.

Input: a `format=json` export (`GET /v1/organizations/audit_events?format=json`, or the
console's JSON download), which is a JSON array with one event per line, in ascending seq for
an unfiltered export; the checkpoint folder; the public key (PEM). Every event's hash is
recomputed from the exported fields exactly as `audit.integrity` defines it, the events are
walked in file order (an event out of place, removed or edited is named, with its line), and
every signed checkpoint of the organization must be found in the file with its hash.

Run through `python manage.py verify_audit_log --export FILE --checkpoints DIR --public-key
PEM`, or without Django: `python -m audit.offline FILE DIR PEM`.
"""

import json
import multiprocessing
import os
import re
import sys
from dataclasses import replace
from pathlib import Path

from . import checkpoints as signed
from .integrity import (
    EDITED,
    FORGED_CHECKPOINT,
    MAX_CLASSIFIED,
    SORTED_FIELDS,
    TEMPLATES,
    ChainReport,
    CheckpointRef,
    Fault,
    Walker,
    canonical_json_reader,
    encode_str,
    finish,
    hash_text,
    iso_from_text,
    join,
    payload_text,
    require_int,
)

_HASH = re.compile(rb'"hash": "([0-9a-f]{64})"')


def _text(value):
    return "" if value is None else value


def hashed_values(event):
    """The stored field values an exported event stands for (None in the export is "")."""
    actor = event["actor"]
    creator = actor.get("key_created_by") or {}
    requested = event.get("requested_by") or {}
    target = event["target"]
    return {
        "organization_id": event["organization_id"], "seq": event["seq"], "hash_version": event["hash_version"],
        "created_at": event["created_at"], "action": event["action"], "outcome": event["outcome"],
        "actor_type": actor["type"], "actor_id": _text(actor.get("id")), "actor_user_id": _text(actor.get("user_id")),
        "actor_label": actor["label"], "actor_role": _text(actor.get("role")),
        "actor_key_creator_id": _text(creator.get("id")), "actor_key_creator_label": _text(creator.get("label")),
        "requested_by_id": _text(requested.get("id")), "requested_by_label": _text(requested.get("label")),
        "change_request_id": _text(event.get("change_request_id")), "source": event["source"],
        "ip": _text(event.get("ip")), "user_agent": _text(event.get("user_agent")),
        "request_id": _text(event.get("request_id")), "target_type": target["type"], "target_id": target["id"],
        "target_label": target["label"], "before": event.get("before"), "after": event.get("after"),
        "prev_hash": event["prev_hash"],
    }


# Where each hashed field is in an exported event (None in the export stands for "").
_FROM_EXPORT = {
    "organization_id": 'ev["organization_id"]', "seq": 'ev["seq"]', "hash_version": 'ev["hash_version"]',
    "created_at": 'ev["created_at"]', "action": 'ev["action"]', "outcome": 'ev["outcome"]', "source": 'ev["source"]',
    "actor_type": 'a["type"]', "actor_id": 'a.get("id")', "actor_user_id": 'a.get("user_id")',
    "actor_label": 'a["label"]', "actor_role": 'a.get("role")', "actor_key_creator_id": 'k.get("id")',
    "actor_key_creator_label": 'k.get("label")', "requested_by_id": 'r.get("id")',
    "requested_by_label": 'r.get("label")', "change_request_id": 'ev.get("change_request_id")',
    "ip": 'ev.get("ip")', "user_agent": 'ev.get("user_agent")', "request_id": 'ev.get("request_id")',
    "target_type": 't["type"]', "target_id": 't["id"]', "target_label": 't["label"]',
    "before": 'ev.get("before")', "after": 'ev.get("after")', "prev_hash": 'ev["prev_hash"]',
}
_OPTIONAL = {"actor_id", "actor_user_id", "actor_role", "actor_key_creator_id", "actor_key_creator_label",
             "requested_by_id", "requested_by_label", "change_request_id", "ip", "user_agent", "request_id"}


def _export_builder(version):
    """(exported event, json_text, created_text, encode) -> the canonical JSON its hash covers:
    `hashed_values` and `payload_text` in one generated function (the hot loop of a million
    events); a test holds the two ways equal."""
    slots = []
    for name in SORTED_FIELDS[version]:
        where = _FROM_EXPORT[name]
        if name in _OPTIONAL:
            where = f'("" if (x := {where}) is None else x)'
        if name in ("before", "after"):
            slots.append(f"j({where})")
        elif name in ("seq", "hash_version"):
            slots.append(f"i({where})")
        elif name == "created_at":
            slots.append(f"e(c({where}))")
        else:
            slots.append(f"e({where})")
    source = ("def build(ev, j, c, e):\n"
              "    a = ev['actor']; k = a.get('key_created_by') or {}; r = ev.get('requested_by') or {}; "
              "t = ev['target']\n"
              f"    return T % ({', '.join(slots)},)")
    namespace = {"T": TEMPLATES[version], "i": require_int}
    exec(source, namespace)  # noqa: S102 (generated from the field names above)
    return namespace["build"]


_EXPORT_BUILDERS = {version: _export_builder(version) for version in SORTED_FIELDS}


def _lines(path, start=0, end=None, counted=None):
    """(line number from 1 within the range, event dict or None when unreadable) for each event
    line of the export between byte offsets `start` and `end` (both at line starts); the number
    of lines read goes in `counted[0]`."""
    counted = counted if counted is not None else [0]
    with open(path, "rb") as handle:
        handle.seek(start)
        position, number = start, 0
        for raw in handle:
            if end is not None and position >= end:
                return
            position += len(raw)
            number += 1
            counted[0] = number
            line = raw.strip()
            if line.endswith(b","):
                line = line[:-1]
            if not line or line in (b"[", b"]"):
                continue
            try:
                event = json.loads(line)
            except ValueError:
                event = None
            yield number, event if isinstance(event, dict) else None


def _refs(checkpoint_dir, organization_id, public_key):
    loaded = signed.load(checkpoint_dir, organization_id, public_key) if checkpoint_dir else None
    refs = {}
    for checkpoint in loaded.valid if loaded else ():
        refs.setdefault(checkpoint.seq, []).append(CheckpointRef(checkpoint.seq, checkpoint.hash, checkpoint.label))
    return loaded, refs


def _walk_chunk(args):
    """Walk the lines of one byte range: per organization the open `Walker.state(final=False)`
    and the values of events whose content does not match (to re-hash), ids (chunk, line)."""
    path, chunk, start, end, checkpoint_dir, public_pem = args
    public_key = signed.public_key_from_pem(public_pem) if public_pem else None
    json_text = canonical_json_reader()
    walkers, kept, unreadable, counted = {}, {}, [], [0]

    def walker_of(org):
        if org not in walkers:
            walkers[org] = Walker(_refs(checkpoint_dir, org, public_key)[1], lookahead=True)
            kept[org] = {}
        return walkers[org]

    builders = _EXPORT_BUILDERS
    for number, event in _lines(path, start, end, counted):
        rid = (chunk, number)
        try:
            version = event["hash_version"]
            payload = builders[version if type(version) is int else None](event, json_text, iso_from_text, encode_str)
            seq, prev, stored = event["seq"], event["prev_hash"], event["hash"]
            ok = hash_text(payload) == stored
            if not isinstance(stored, str) or not isinstance(prev, str):
                raise TypeError
        except (TypeError, KeyError, ValueError, AttributeError):
            org = event.get("organization_id") if isinstance(event, dict) else None
            seq = event.get("seq") if isinstance(event, dict) else None
            if isinstance(org, str) and type(seq) is int:
                walker_of(org).add(rid, seq, "", "", False)
            else:
                unreadable.append(rid)
            continue
        org = event["organization_id"]
        walker = walker_of(org)
        if not ok and len(kept[org]) < MAX_CLASSIFIED:
            kept[org][rid] = (version, hashed_values(event))
        walker.add(rid, seq, prev, stored, ok)
    states = {org: walker.state(final=False) for org, walker in walkers.items()}
    return {"orgs": list(walkers), "states": states, "kept": kept, "unreadable": unreadable, "lines": counted[0]}


# An export at least this big is walked in chunks by worker processes (one per core, at most 4).
PARALLEL_MIN_BYTES = 64 * 1024 * 1024


def _chunks(path, workers):
    """Byte offsets cutting the file into `workers` ranges, each starting at a line."""
    size = Path(path).stat().st_size
    bounds = [0]
    with open(path, "rb") as handle:
        for k in range(1, workers):
            handle.seek(max(size * k // workers, bounds[-1]))
            handle.readline()
            bounds.append(min(handle.tell(), size))
    bounds.append(size)
    return list(zip(bounds, bounds[1:], strict=False))


def default_workers(path):
    if Path(path).stat().st_size < PARALLEL_MIN_BYTES:
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 4))


def verify_export(path, checkpoint_dir=None, public_key=None, *, workers=None):
    """One ChainReport per organization in the export (in order of first appearance), and one
    for lines that are not events. A big export is walked in chunks by `workers` processes,
    joined in file order as one walk would see it (`integrity.join`)."""
    workers = default_workers(path) if workers is None else workers
    public_pem = signed.public_pem(public_key) if public_key is not None else None
    tasks = [(str(path), k, start, end, str(checkpoint_dir) if checkpoint_dir else None, public_pem)
             for k, (start, end) in enumerate(_chunks(path, workers))]
    if len(tasks) > 1:
        with multiprocessing.get_context("fork").Pool(len(tasks)) as pool:
            results = pool.map(_walk_chunk, tasks)
    else:
        results = [_walk_chunk(task) for task in tasks]
    offsets, total = [], 0
    for result in results:
        offsets.append(total)
        total += result["lines"]

    def line(rid):
        return f"line {offsets[rid[0]] + rid[1]}" if isinstance(rid, tuple) else rid

    orgs = list(dict.fromkeys(org for result in results for org in result["orgs"]))
    json_text = canonical_json_reader()
    reports = []
    for org in orgs:
        loaded, refs = _refs(checkpoint_dir, org, public_key)
        kept = {}
        for result in results:
            kept.update(result["kept"].get(org, {}))
        walker = join([result["states"][org] for result in results if org in result["states"]], refs)

        def rehash(rid, seq, kept=kept):
            version, values = kept[rid]
            return hash_text(payload_text(version, {**values, "seq": seq}, json_text, iso_from_text))

        def find_by_hash(hashes, org=org):
            return _find_by_hash(path, org, hashes)

        extra = [Fault(FORGED_CHECKPOINT, seq, f"{file}: {problem}") for file, seq, problem in
                 (loaded.invalid if loaded else ())]
        report = finish(walker, org, checkpoints=refs, rehash=rehash, find_by_hash=find_by_hash, extra=extra)
        report.faults = [replace(f, id=line(f.id)) if isinstance(f.id, tuple) else f for f in report.faults]
        if loaded:
            report.checkpoints = len(loaded.valid)
            report.newest_checkpoint = loaded.newest
        reports.append(report)
    unreadable = [Fault(EDITED, None, f"{line(rid)} is not a readable audit event", line(rid))
                  for result in results for rid in result["unreadable"]]
    if unreadable:
        reports.append(ChainReport("(unreadable lines)", 0, unreadable))
    return reports


def _find_by_hash(path, org, hashes):
    """{hash: seq} of the events of `org` in the export holding one of `hashes` (a second pass,
    only when some event's content does not match its hash)."""
    found, wanted = {}, {h.encode() for h in hashes if isinstance(h, str)}
    if not wanted:
        return found
    with open(path, "rb") as handle:
        for raw in handle:
            match = _HASH.search(raw)
            if match and match.group(1) in wanted:
                line = raw.strip().rstrip(b",")
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if isinstance(event, dict) and event.get("organization_id") == org:
                    found[event.get("hash")] = event.get("seq")
    return found


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) not in (1, 3):
        print("usage: python -m audit.offline EXPORT.json [CHECKPOINT_DIR PUBLIC_KEY.pem]", file=sys.stderr)
        return 2
    key = signed.load_public_key(argv[2]) if len(argv) == 3 else None
    reports = verify_export(argv[0], argv[1] if len(argv) == 3 else None, key)
    for report in reports:
        print("\n".join(report.lines()))
    return 0 if reports and all(r.ok for r in reports) else 1


if __name__ == "__main__":
    sys.exit(main())
