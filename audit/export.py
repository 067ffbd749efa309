"""Audit events as JSON objects and as streamed CSV / JSON exports.

Exports read the filtered queryset with `.iterator(chunk_size=...)` and yield text as they
go, so a million-event export never sits in memory (StreamingHttpResponse consumes them).
The JSON export is in ascending seq and each event carries every hashed field (its REST shape
plus `organization_id`): unfiltered, it is the whole chain, which `audit.offline` verifies
against the signed checkpoints with no database (SPEC §7).
"""

import csv
import json
from datetime import UTC

from django.http import StreamingHttpResponse
from django.utils import timezone

from .events import change_summary, changes, describe

CHUNK_SIZE = 2000
CSV_COLUMNS = [
    "id", "seq", "created_at", "action", "description", "outcome", "actor_type", "actor_id",
    "actor_user_id", "actor_label", "actor_role", "actor_key_creator_id", "actor_key_creator_label",
    "requested_by_id", "requested_by_label", "change_request_id", "source", "ip", "user_agent", "request_id",
    "target_type", "target_id", "target_label", "changes", "before", "after", "hash_version", "prev_hash", "hash",
]
# A cell starting with one of these is run as a formula by spreadsheets (CSV injection);
# names and labels are user-controlled, so such cells get a leading apostrophe.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def iso(dt):
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def event_json(event, names):
    """The REST / JSON-export shape of one event."""
    return {
        "id": str(event.pk),
        "type": "audit_event",
        "seq": event.seq,
        "created_at": iso(event.created_at),
        "action": event.action,
        "description": describe(event, names),
        "outcome": event.outcome,
        "actor": {
            "type": event.actor_type,
            "id": event.actor_id or None,
            "user_id": event.actor_user_id or None,
            "label": event.actor_label,
            "role": event.actor_role or None,
            "key_created_by": ({"id": event.actor_key_creator_id, "label": event.actor_key_creator_label}
                               if event.actor_key_creator_id else None),
        },
        "requested_by": ({"id": event.requested_by_id, "label": event.requested_by_label}
                         if event.requested_by_id else None),
        "change_request_id": event.change_request_id or None,
        "source": event.source,
        "ip": event.ip or None,
        "user_agent": event.user_agent or None,
        "request_id": event.request_id or None,
        "target": {"type": event.target_type, "id": event.target_id, "label": event.target_label},
        "before": event.before,
        "after": event.after,
        "changes": [{"field": f, "before": b, "after": a} for f, b, a in changes(event, names)],
        "hash_version": event.hash_version,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def _safe(value):
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def _csv_row(event, names):
    return [
        event.pk, event.seq, iso(event.created_at), event.action, _safe(describe(event, names)), event.outcome,
        event.actor_type, event.actor_id, event.actor_user_id, _safe(event.actor_label), _safe(event.actor_role),
        event.actor_key_creator_id, _safe(event.actor_key_creator_label), event.requested_by_id,
        _safe(event.requested_by_label), event.change_request_id, event.source, event.ip, _safe(event.user_agent),
        event.request_id, event.target_type, event.target_id,
        _safe(event.target_label), _safe(change_summary(event, names)),
        "" if event.before is None else json.dumps(event.before, sort_keys=True, ensure_ascii=False),
        "" if event.after is None else json.dumps(event.after, sort_keys=True, ensure_ascii=False),
        event.hash_version, event.prev_hash, event.hash,
    ]


class _Echo:
    def write(self, value):
        return value


def csv_lines(queryset, names, *, chunk_size=CHUNK_SIZE):
    writer = csv.writer(_Echo())
    yield writer.writerow(CSV_COLUMNS)
    for event in queryset.iterator(chunk_size=chunk_size):
        yield writer.writerow(_csv_row(event, names))


def export_json(event, names):
    """One event of a JSON export: its REST shape and its organization (every hashed field)."""
    body = event_json(event, names)
    body["organization_id"] = event.organization_id
    return body


def json_chunks(queryset, names, *, chunk_size=CHUNK_SIZE):
    """A JSON array, one event per line, in ascending seq."""
    yield "[\n"
    first = True
    for event in queryset.order_by("seq").iterator(chunk_size=chunk_size):
        yield ("" if first else ",\n") + json.dumps(export_json(event, names), ensure_ascii=False)
        first = False
    yield "\n]\n"


def export_filename(organization, ext):
    return f"audit-log-{organization.pk}-{timezone.now():%Y%m%dT%H%M%SZ}.{ext}"


def streaming_export(queryset, names, organization, fmt):
    """A StreamingHttpResponse downloading the whole (filtered) queryset as CSV or JSON."""
    if fmt == "csv":
        response = StreamingHttpResponse(csv_lines(queryset, names), content_type="text/csv; charset=utf-8")
    else:
        response = StreamingHttpResponse(json_chunks(queryset, names), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{export_filename(organization, fmt)}"'
    response["Cache-Control"] = "no-store"
    return response
