"""The one write path of the audit log: `audit_record`, called by every service inside its own
transaction (STYLE: audit written by services, not signals).

What is recorded is what is hashed, on every database (SPEC §7): `normalize` makes before/after
values canonical JSON that SQLite and PostgreSQL store exactly. Client input is validated by
the service before it is recorded; where a denial comes before validation (SPEC §2 step 1, a
404), the service records `client_value(...)`, a bounded summary, and `audit_record` holds every
denied attempt to `MAX_DENIED_BYTES` whatever the caller passed.
"""

import hashlib

from django.db import connection
from django.utils import timezone

from .events import REGISTRY, EventType
from .integrity import CURRENT_VERSION, GENESIS_HASH, canonical_json, compute_hash
from .models import ActorType, AuditEvent, ChainHead, Outcome

MAX_SAFE_INTEGER = 2**53 - 1  # beyond this, JSON numbers do not survive every reader (I-JSON)
MAX_DENIED_BYTES = 8192  # SPEC §7: a denied attempt records at most 8 KB of what was sent
CLIENT_VALUE_BYTES = 1024  # one unvalidated value in a denial record, before it is summarized
PREVIEW_CHARS = 120


def _clean_text(text):
    """Text every database stores as given: NUL and unpaired surrogates become U+FFFD."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in text)
    return text


def normalize(value):
    """A before/after value as it will be stored and hashed, identical on every database:
    strings cleaned, integers within ±2**53-1 kept, every other number (floats, huge integers,
    Decimals) and any other type as its string. Keys become strings."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, int):
        return value if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else str(value)
    if isinstance(value, dict):
        return {_clean_text(str(k)): normalize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalize(v) for v in value]
    return _clean_text(str(value))


def _size(value):
    return len(canonical_json(value).encode())


def _summary(text, kind):
    return {"omitted": kind, "bytes": len(text.encode()), "sha256": hashlib.sha256(text.encode()).hexdigest(),
            "preview": text[:PREVIEW_CHARS]}


def client_value(value, limit=CLIENT_VALUE_BYTES):
    """A value a client sent, fit for the record of a denied attempt before it was validated:
    the value itself (normalized) when its canonical JSON is at most `limit` bytes, else a
    summary: its size, SHA-256 and the first characters (never the raw body)."""
    try:
        value = normalize(value)
        text = canonical_json(value)
    except RecursionError:
        return {"omitted": "nested too deeply to record"}
    if len(text.encode()) <= limit:
        return value
    return _summary(text, f"a {type(value).__name__ if not isinstance(value, dict) else 'object'} "
                          f"of {len(text.encode()):,} bytes")


def bounded(before, after, limit=MAX_DENIED_BYTES):
    """(before, after), normalized, whose canonical JSON together is at most `limit` bytes:
    each top-level value of `after` (the attempt) over its share becomes a summary."""
    if _size(before) + _size(after) <= limit:
        return before, after
    if isinstance(before, dict) and _size(before) > limit // 2:
        before = {key: client_value(value, limit // (4 * max(1, len(before)))) for key, value in before.items()}
    room = limit - _size(before) - 16
    if isinstance(after, dict):
        share = max(64, room // max(1, len(after)) - 64)
        after = {key: client_value(value, share) for key, value in after.items()}
    if _size(before) + _size(after) > limit:
        after = client_value(after, 0)
    return before, after


def _text(value, limit):
    return _clean_text(str(value or ""))[:limit]


def audit_record(*, actor, organization, event, target, before=None, after=None, outcome=Outcome.SUCCESS,
                 role="", target_label=None, requested_by=None, change_request_id=""):
    """Append one event to `organization`'s chain, inside the caller's transaction.

    `event` is a registered EventType (audit.events); `target` any model instance with `pk` (its
    class name is the target type) or a `(type, id, label)` tuple; `role` the actor's role name
    at this moment. An API key actor records the key and the person who created it;
    `requested_by` (a user) and `change_request_id` attribute a change applied on approval.
    """
    if not isinstance(event, EventType) or REGISTRY.get(event.name) is not event:
        raise ValueError(f"Unknown audit event {event!r}: register it in audit.events.")
    for side in (before, after):
        unknown = set(side) - set(event.records) if isinstance(side, dict) and event.records else set()
        if unknown:
            raise ValueError(f"{event.name} does not record {', '.join(sorted(unknown))}; declare it in audit.events.")
    if not connection.in_atomic_block:
        raise RuntimeError("audit_record must run inside the service's transaction.")
    if isinstance(target, tuple):
        target_type, target_id, label = target
    else:
        target_type, target_id, label = type(target).__name__.lower(), str(target.pk), str(target)
    head, _ = ChainHead.objects.select_for_update().get_or_create(organization_id=organization.pk)
    key = actor.api_key
    creator = getattr(key, "created_by", None) if key is not None else None
    fields = {
        "organization_id": organization.pk,
        "seq": head.seq + 1,
        "hash_version": CURRENT_VERSION,
        "created_at": timezone.now(),
        "action": event.name,
        "outcome": str(outcome),
        "actor_type": ActorType.API_KEY if key else (ActorType.USER if actor.user else ActorType.SYSTEM),
        "actor_id": str(key.pk if key else (actor.user.pk if actor.user else "")),
        "actor_user_id": str(actor.user.pk) if actor.user else "",
        "actor_label": _text(actor.label, 300),
        "actor_role": _text(role, 100),
        "actor_key_creator_id": str(creator.pk) if creator is not None else "",
        "actor_key_creator_label": _text(creator.display_name, 300) if creator is not None else "",
        "requested_by_id": str(requested_by.pk) if requested_by is not None else "",
        "requested_by_label": _text(requested_by.display_name, 300) if requested_by is not None else "",
        "change_request_id": _text(change_request_id, 40),
        "source": str(actor.source),
        "ip": _text(actor.ip, 64),
        "user_agent": _text(actor.user_agent, 500),
        "request_id": _text(actor.request_id, 40),
        "target_type": _text(target_type, 30),
        "target_id": _text(target_id, 40),
        "target_label": _text(target_label if target_label is not None else label, 300),
        "before": normalize(before),
        "after": normalize(after),
        "prev_hash": head.hash or GENESIS_HASH,
    }
    if fields["outcome"] == Outcome.DENIED:
        fields["before"], fields["after"] = bounded(fields["before"], fields["after"])
    fields["actor_type"] = str(fields["actor_type"])
    fields["hash"] = compute_hash(fields)
    event_row = AuditEvent.objects.create(**fields)
    ChainHead.objects.filter(pk=head.pk).update(seq=fields["seq"], hash=fields["hash"])
    return event_row
