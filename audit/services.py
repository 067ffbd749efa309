"""The one write path of the audit log: `audit_record`, called by every service inside its own
transaction (STYLE: audit written by services, not signals)."""

from django.db import connection
from django.utils import timezone

from .chain import CURRENT_VERSION, GENESIS_HASH, compute_hash
from .events import REGISTRY, EventType
from .models import ActorType, AuditEvent, ChainHead, Outcome

MAX_SAFE_INTEGER = 2**53 - 1  # beyond this, JSON numbers do not survive every reader (I-JSON)


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
    fields["actor_type"] = str(fields["actor_type"])
    fields["hash"] = compute_hash(fields)
    event_row = AuditEvent.objects.create(**fields)
    ChainHead.objects.filter(pk=head.pk).update(seq=fields["seq"], hash=fields["hash"])
    return event_row
