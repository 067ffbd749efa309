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
import re
import sys

from . import checkpoints as signed
from .integrity import (
    FORGED_CHECKPOINT,
    MAX_CLASSIFIED,
    ChainReport,
    CheckpointRef,
    Fault,
    Walker,
    canonical_json_reader,
    finish,
    hash_text,
    iso_from_text,
    payload_text,
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


def _lines(path):
    """(line number, event dict or None when unreadable) for each event line of the export."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, 1):
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


class _Chain:
    def __init__(self, organization_id, refs):
        self.walker = Walker(refs)
        self.refs = refs
        self.kept = {}  # line -> (version, values) of events whose content does not match, to re-hash
        self.loaded = None


def verify_export(path, checkpoint_dir=None, public_key=None):
    """One ChainReport per organization in the export (in order of first appearance), and
    faults for lines that are not events."""
    json_text = canonical_json_reader()
    chains, unreadable = {}, []

    def chain_of(org):
        if org not in chains:
            loaded = signed.load(checkpoint_dir, org, public_key) if checkpoint_dir else None
            refs = {}
            for checkpoint in loaded.valid if loaded else ():
                refs.setdefault(checkpoint.seq, []).append(
                    CheckpointRef(checkpoint.seq, checkpoint.hash, checkpoint.label))
            chain = chains[org] = _Chain(org, refs)
            chain.loaded = loaded
        return chains[org]

    for number, event in _lines(path):
        rid = f"line {number}"
        try:
            values = hashed_values(event)
            version = values["hash_version"]
            payload = payload_text(version, values, json_text, iso_from_text)
            ok = hash_text(payload) == event["hash"]
            seq, prev, stored = values["seq"], event["prev_hash"], event["hash"]
            if type(seq) is not int or not isinstance(stored, str) or not isinstance(prev, str):
                raise TypeError
        except (TypeError, KeyError, ValueError, AttributeError):
            org = event.get("organization_id") if isinstance(event, dict) else None
            seq = event.get("seq") if isinstance(event, dict) else None
            if isinstance(org, str) and type(seq) is int:
                chain_of(org).walker.add(rid, seq, "", "", False)
            else:
                unreadable.append(Fault("edited", None, f"{rid} is not a readable audit event", rid))
            continue
        chain = chain_of(values["organization_id"])
        if not ok and len(chain.kept) < MAX_CLASSIFIED:
            chain.kept[rid] = (version, values)
        chain.walker.add(rid, seq, prev, stored, ok)

    reports = []
    for org, chain in chains.items():
        def rehash(rid, seq, kept=chain.kept):
            version, values = kept[rid]
            return hash_text(payload_text(version, {**values, "seq": seq}, json_text, iso_from_text))

        def find_by_hash(hashes, org=org):
            return _find_by_hash(path, org, hashes)

        extra = [Fault(FORGED_CHECKPOINT, seq, f"{file}: {problem}") for file, seq, problem in
                 (chain.loaded.invalid if chain.loaded else ())]
        report = finish(chain.walker, org, checkpoints=chain.refs, rehash=rehash, find_by_hash=find_by_hash,
                        extra=extra)
        if chain.loaded:
            report.checkpoints = len(chain.loaded.valid)
            report.newest_checkpoint = chain.loaded.newest
        reports.append(report)
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
