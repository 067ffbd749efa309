"""The one paging scheme (SPEC §3 Lists): `limit` (1–1000, default 20), `after_id`, `before_id`
→ `{"data": [...], "has_more", "first_id", "last_id"}`, keyset-paginated (no OFFSET, no COUNT).

`keyset_page` pages any queryset; `KeysetPagination` is the DRF pagination class every REST list
uses (it validates the parameters, answers the list body and documents both in OpenAPI), and
the console's lists call `keyset_page` directly.
"""

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

DEFAULT_LIMIT = 20
MAX_LIMIT = 1000


def parse_limit(value, *, default=DEFAULT_LIMIT, maximum=MAX_LIMIT):
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValidationError({"limit": [f"must be an integer from 1 to {maximum}, got {value!r}."]})
    try:
        limit = int(value)
    except ValueError:
        raise ValidationError({"limit": [f"must be an integer from 1 to {maximum}, got {value!r}."]})
    if not 1 <= limit <= maximum:
        raise ValidationError({"limit": [f"must be from 1 to {maximum}, got {limit}."]})
    return limit


def _cursor_value(model, field_name, raw):
    """`raw` as a value of the cursor column, or None when no row can have it (a word where
    the ids are numbers, a number beyond the column's range)."""
    field = model._meta.get_field(field_name if field_name != "pk" else model._meta.pk.name)
    field = field.target_field if field.is_relation else field
    try:
        value = field.to_python(raw)
    except (ValidationError, ValueError, TypeError):
        return None
    if isinstance(value, int):
        low, high = connection.ops.integer_field_range(field.get_internal_type())
        if (low is not None and value < low) or (high is not None and value > high):
            return None
    return value


def _beyond(fields, values, *, forward):
    """Rows after (forward) or before the anchor `values` in the order `fields` ("-f" descends)."""
    condition = None
    for i, field in enumerate(fields):
        name = field.lstrip("-")
        ascending = not field.startswith("-")
        op = "gt" if ascending == forward else "lt"
        step = Q(**{f"{name}__{op}": values[i]})
        for prior, value in zip(fields[:i], values[:i], strict=True):
            step &= Q(**{prior.lstrip("-"): value})
        condition = step if condition is None else condition | step
    return condition


def _reverse(fields):
    return tuple(f[1:] if f.startswith("-") else f"-{f}" for f in fields)


def keyset_page(queryset, params, *, order_field, descending=False, id_field="pk", unique=False, noun="object"):
    """Return (rows, has_more) for one page in list order: by `order_field`, then pk unless
    `order_field` is unique by itself (one indexed comparison instead of two).

    `after_id` gives the page after that row, `before_id` the page before it, in list order; the
    cursor is matched against `id_field`. An id that is not in the (already scoped and filtered)
    queryset, or that no row of it could have, is a 400 naming it.
    """
    limit = parse_limit(params.get("limit"))
    after_id, before_id = params.get("after_id") or None, params.get("before_id") or None
    if after_id and before_id:
        raise ValidationError("Send at most one of after_id and before_id.")
    sign = "-" if descending else ""
    order = (f"{sign}{order_field}",) if unique else (f"{sign}{order_field}", f"{sign}pk")
    cursor_id = after_id or before_id
    if not cursor_id:
        rows = list(queryset.order_by(*order)[: limit + 1])
        return rows[:limit], len(rows) > limit
    name = "after_id" if after_id else "before_id"
    value = _cursor_value(queryset.model, id_field, cursor_id)
    anchor = None
    if value is not None:
        columns = [f.lstrip("-") for f in order]
        anchor = queryset.filter(**{id_field: value}).values_list(*columns).first()
    if anchor is None:
        raise ValidationError({name: [f"no {noun} with id {cursor_id!r} in this list."]})
    if after_id:
        rows = list(queryset.filter(_beyond(order, anchor, forward=True)).order_by(*order)[: limit + 1])
        return rows[:limit], len(rows) > limit
    rows = list(queryset.filter(_beyond(order, anchor, forward=False)).order_by(*_reverse(order))[: limit + 1])
    return list(reversed(rows[:limit])), len(rows) > limit


class KeysetPagination(BasePagination):
    """The contract's list paging for DRF views. A view using it declares how its list is
    ordered (`page_order_field`, `page_descending`, `page_order_unique`), what `after_id` /
    `before_id` match (`page_id_field`, default the primary key) and what its items are called
    in messages (`page_noun`)."""

    limit_description = f"How many items to return, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})."

    def paginate_queryset(self, queryset, request, view=None):
        params = request.query_params
        self.rows, self.has_more = keyset_page(
            queryset,
            {"limit": params.get("limit"), "after_id": params.get("after_id"), "before_id": params.get("before_id")},
            order_field=getattr(view, "page_order_field", "created_at"),
            descending=getattr(view, "page_descending", False),
            unique=getattr(view, "page_order_unique", False),
            id_field=getattr(view, "page_id_field", "pk"),
            noun=getattr(view, "page_noun", "object"),
        )
        return self.rows

    def get_paginated_response(self, data):
        return Response({
            "data": data,
            "has_more": self.has_more,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        })

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "properties": {
                "data": schema,
                "has_more": {"type": "boolean", "example": False,
                             "description": "Whether more items follow in the direction of travel."},
                "first_id": {"type": "string", "nullable": True, "example": None,
                             "description": "The first item's id (null for an empty page): "
                                            "pass it as before_id for the page before."},
                "last_id": {"type": "string", "nullable": True, "example": None,
                            "description": "The last item's id (null for an empty page): pass it as after_id "
                                           "for the page after."},
            },
            "required": ["data", "has_more", "first_id", "last_id"],
        }

    def get_schema_operation_parameters(self, view):
        return [
            {"name": "limit", "in": "query", "required": False, "description": self.limit_description,
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}},
            {"name": "after_id", "in": "query", "required": False,
             "description": "Return the page after the item with this id (a `last_id`). At most one of "
                            "after_id and before_id; an id not in the list is a 400.",
             "schema": {"type": "string"}},
            {"name": "before_id", "in": "query", "required": False,
             "description": "Return the page before the item with this id (a `first_id`).",
             "schema": {"type": "string"}},
        ]


class PaginatedListMixin:
    """For API views with a list: `self.list_response(queryset, SerializerClass)`."""

    pagination_class = KeysetPagination

    def list_response(self, queryset, serializer_class, **context):
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(queryset, self.request, view=self)
        return paginator.get_paginated_response(serializer_class(page, many=True, context=context).data)
