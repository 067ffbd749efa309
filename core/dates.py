"""Timestamps as the API takes them (RFC 3339 with an offset)."""

from datetime import UTC

from django.core.exceptions import ValidationError
from django.utils.dateparse import parse_datetime

from .hygiene import MalformedInput, check_datetime_range


def parse_rfc3339(value, name):
    """An RFC 3339 timestamp with its offset (`2026-03-01T00:00:00Z`), or a 400 naming `name`."""
    if value in (None, ""):
        return None
    parsed = None
    try:
        parsed = parse_datetime(value.replace("z", "Z").replace("Z", "+00:00")) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None:
        raise ValidationError({name: [f"{value!r} is not an RFC 3339 timestamp; use e.g. 2026-03-01T00:00:00Z."]})
    if parsed.tzinfo is None:
        raise ValidationError({name: [f"{value!r} has no time zone offset; add Z or +00:00."]})
    try:
        check_datetime_range(parsed, name)
    except MalformedInput as exc:
        raise ValidationError({name: [str(exc).removeprefix(f"{name}: ")]}) from None
    # in UTC: an offset of any size RFC 3339 allows (+16:26) is fine here, but not every database
    # takes it as a query parameter
    return parsed.astimezone(UTC)
