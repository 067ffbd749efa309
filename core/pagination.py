"""Keyset pagination with the contract's `limit`, `after_id`, `before_id` (SPEC §3)."""

from django.core.exceptions import ValidationError
from django.db.models import Q

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000


def parse_limit(value, *, default=DEFAULT_LIMIT, maximum=MAX_LIMIT):
    if value in (None, ""):
        return default
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise ValidationError({"limit": [f"must be an integer from 1 to {maximum}, got {value!r}."]})
    if not 1 <= limit <= maximum:
        raise ValidationError({"limit": [f"must be from 1 to {maximum}, got {limit}."]})
    return limit


def _after(field, value, pk, descending):
    op = "lt" if descending else "gt"
    return Q(**{f"{field}__{op}": value}) | Q(**{field: value, f"pk__{op}": pk})


def keyset_page(queryset, params, *, order_field, descending=False, id_field="pk"):
    """Return (rows, has_more) for one page ordered by (order_field, pk).

    `after_id` gives the page after that row, `before_id` the page before it, in list order.
    An id that is not in the (already org-scoped) queryset is a 400 naming it.
    """
    limit = parse_limit(params.get("limit"))
    after_id, before_id = params.get("after_id"), params.get("before_id")
    if after_id and before_id:
        raise ValidationError("Send at most one of after_id and before_id.")
    sign = "-" if descending else ""
    order = (f"{sign}{order_field}", f"{sign}pk")
    qs = queryset
    cursor_id = after_id or before_id
    if cursor_id:
        anchor = queryset.filter(**{id_field: cursor_id}).values_list(order_field, "pk").first()
        if anchor is None:
            name = "after_id" if after_id else "before_id"
            raise ValidationError({name: [f"no object with id {cursor_id!r} in this list."]})
        value, pk = anchor
        if after_id:
            qs = qs.filter(_after(order_field, value, pk, descending))
        else:
            qs = qs.filter(_after(order_field, value, pk, not descending))
            reverse = (f"{'' if descending else '-'}{order_field}", f"{'' if descending else '-'}pk")
            rows = list(qs.order_by(*reverse)[: limit + 1])
            has_more = len(rows) > limit
            return list(reversed(rows[:limit])), has_more
    rows = list(qs.order_by(*order)[: limit + 1])
    return rows[:limit], len(rows) > limit


def list_body(items, has_more, id_of=lambda item: item["id"]):
    return {
        "data": items,
        "has_more": has_more,
        "first_id": id_of(items[0]) if items else None,
        "last_id": id_of(items[-1]) if items else None,
    }
