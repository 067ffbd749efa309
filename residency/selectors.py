"""Reads the decision API needs, shaped for `residency.policy` (SPEC §2 "Deciding where a
request runs").

Nothing is cached in the process: every decision reads the current rows, so a change is seen
by the very next decision in every server process. A single decision is one SQL statement
(workspace, model and geo multipliers together); a batch is three, whatever its size.

Reads for the audit log and for usage/cost reports, always scoped to one organization.

The audit log can hold millions of events per organization, so every read here is keyset
paginated by `seq` over the `(organization, ..., -seq)` indexes: no OFFSET, no COUNT(*).
"""

import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q
from django.utils.dateparse import parse_date, parse_datetime

from core.pagination import parse_limit
from orgs.models import ApiKey, Membership, Organization, Role, User, Workspace

from .audit import EVENT_TYPES
from .audit_text import Names
from .models import AuditEvent, CatalogModel, Geo
from .policy import ModelInfo, WorkspaceInfo


@dataclass(frozen=True)
class DecisionState:
    workspace: WorkspaceInfo | None
    workspace_organization_id: str | None
    model: ModelInfo | None
    geo_multipliers: dict


def _q(name):
    return connection.ops.quote_name(name)


def _model_and_geos_sql():
    model, geo = _q(CatalogModel._meta.db_table), _q(Geo._meta.db_table)
    # Every branch yields six text columns, so the UNION has the same types on SQLite and
    # PostgreSQL; booleans become '1'/'0' explicitly (PostgreSQL would cast them to 'true').
    return (
        f"SELECT 'm', {_q('id')}, NULL, CASE WHEN {_q('supports_inference_geo')} THEN '1' ELSE '0' END, "
        f"CAST(NULL AS TEXT), CAST(NULL AS TEXT) FROM {model} WHERE {_q('id')} = %s UNION ALL "
        f"SELECT 'g', {_q('code')}, NULL, NULL, CAST({_q('price_multiplier')} AS TEXT), NULL "
        f"FROM {geo} WHERE {_q('inference')}"
    )


def _workspace_sql():
    table = _q(Workspace._meta.db_table)
    return (
        f"SELECT 'w', {_q('id')}, {_q('organization_id')}, "
        f"CASE WHEN {_q('archived_at')} IS NULL THEN '0' ELSE '1' END, "
        f"CAST({_q('allowed_inference_geos')} AS TEXT), {_q('default_inference_geo')} "
        f"FROM {table} WHERE {_q('id')} = %s UNION ALL " + _model_and_geos_sql()
    )


_SQL = {}


def _sql(kind):
    key = (kind, connection.vendor)
    if key not in _SQL:
        _SQL[key] = {"workspace": _workspace_sql, "keyed": _keyed_sql, "apps": _model_and_geos_sql}[kind]()
    return _SQL[key]


def _allowed(value):
    if value is None:
        return None
    if isinstance(value, str):
        value = json.loads(value)
    return None if value is None else tuple(value)


def decision_state(*, workspace_id, model_id):
    """Workspace, model and every inference geo's multiplier, in one query."""
    workspace = org_id = model = None
    geos = {}
    with connection.cursor() as cursor:
        cursor.execute(_sql("workspace"), [workspace_id, model_id])
        for kind, key, org, flag, text, default in cursor.fetchall():
            if kind == "w":
                workspace = WorkspaceInfo(key, flag == "1", _allowed(text), default)
                org_id = org
            elif kind == "m":
                model = ModelInfo(key, flag == "1")
            else:
                geos[key] = Decimal(text)
    return DecisionState(workspace, org_id, model, geos)


def apps_decision_state(*, model_id):
    """Model and geo multipliers, in one query (the organization comes with the caller's key)."""
    model = None
    geos = {}
    with connection.cursor() as cursor:
        cursor.execute(_sql("apps"), [model_id])
        for kind, key, _org, flag, text, _default in cursor.fetchall():
            if kind == "m":
                model = ModelInfo(key, flag == "1")
            elif kind == "g":
                geos[key] = Decimal(text)
    return DecisionState(None, None, model, geos)


@dataclass
class DecisionKey:
    """An API key as far as a decision needs it: its organization and that organization's
    US-only state (`last_used_at` for `orgs.services.api_key_touch`)."""

    pk: str
    last_used_at: datetime | None
    organization_id: str
    us_only_inference: bool
    locked: bool


def aware(value):
    """A datetime read by raw SQL: SQLite may hand back text, and naive values are UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _keyed_sql():
    key, member = _q(ApiKey._meta.db_table), _q(Membership._meta.db_table)
    user, org = _q(User._meta.db_table), _q(Organization._meta.db_table)
    workspace, model, geo = _q(Workspace._meta.db_table), _q(CatalogModel._meta.db_table), _q(Geo._meta.db_table)
    # One row per inference geo; the key, workspace and model columns repeat on each. LEFT
    # JOINs, so an unknown workspace or model still returns the key (and a 404 follows).
    # SQLite: datetimes as text and expressions rather than datetime columns, which the driver
    # would parse on every row (aware() reads the text once).
    last_used = f"k.{_q('last_used_at')}"
    if connection.vendor == "sqlite":
        last_used = f"CAST({last_used} AS TEXT)"
    return (
        f"SELECT k.{_q('id')}, {last_used}, m.{_q('organization_id')}, o.{_q('us_only_inference')}, "
        f"o.{_q('lock_reason')}, w.{_q('id')}, w.{_q('organization_id')}, w.{_q('archived_at')} IS NOT NULL, "
        f"CAST(w.{_q('allowed_inference_geos')} AS TEXT), w.{_q('default_inference_geo')}, "
        f"c.{_q('id')}, c.{_q('supports_inference_geo')}, g.{_q('code')}, CAST(g.{_q('price_multiplier')} AS TEXT) "
        f"FROM {key} k JOIN {member} m ON m.{_q('id')} = k.{_q('membership_id')} "
        f"JOIN {user} u ON u.{_q('id')} = m.{_q('user_id')} "
        f"JOIN {org} o ON o.{_q('id')} = m.{_q('organization_id')} "
        f"LEFT JOIN {workspace} w ON w.{_q('id')} = %s "
        f"LEFT JOIN {model} c ON c.{_q('id')} = %s "
        f"LEFT JOIN {geo} g ON g.{_q('inference')} "
        f"WHERE k.{_q('key_hash')} = %s AND k.{_q('revoked_at')} IS NULL AND u.{_q('is_active')}"
    )


@functools.cache
def _prepared_cursor_class():
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparedCursor(ServerBindingCursor):
        def execute(self, query, params=None, **kwargs):
            return super().execute(query, params, prepare=True)

    return PreparedCursor


def _prepared_cursor():
    """A cursor for the decision statement. On PostgreSQL (with `prepare_threshold` set, see
    settings) a server-side binding cursor whose statements are prepared: the plan for the
    seven-table statement is made once per connection instead of on every decision, which is
    most of its cost. Still a Django cursor, so query counting and logging see it."""
    if connection.vendor != "postgresql" or connection.settings_dict["OPTIONS"].get("prepare_threshold") is None:
        return connection.cursor()
    connection.ensure_connection()
    raw = _prepared_cursor_class()(connection.connection)
    return connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)


def keyed_decision_state(*, key_hash, workspace_id, model_id):
    """The caller's API key and everything one decision reads, in a single SQL statement.

    Returns (DecisionKey, DecisionState), or None when no unrevoked key of an active user has
    that hash. `workspace_id` None (the apps surface) reads no workspace. The workspace is
    returned whatever its organization; the caller scopes it to the key's organization.
    """
    key = workspace = ws_org = model = None
    geos = {}
    with _prepared_cursor() as cursor:
        cursor.execute(_sql("keyed"), [workspace_id, model_id, key_hash])
        for (key_id, last_used, org_id, us_only, lock_reason, ws_id, ws_org_id, archived, allowed, default,
             model_id_, supports_geo, geo, multiplier) in cursor.fetchall():
            if key is None:
                key = DecisionKey(key_id, aware(last_used), org_id, bool(us_only), lock_reason is not None)
                if ws_id is not None:
                    workspace = WorkspaceInfo(ws_id, bool(archived), _allowed(allowed), default)
                    ws_org = ws_org_id
                if model_id_ is not None:
                    model = ModelInfo(model_id_, bool(supports_geo))
            if geo is not None:
                geos[geo] = Decimal(multiplier)
    if key is None:
        return None
    return key, DecisionState(workspace, ws_org, model, geos)


def batch_decision_state(*, workspace_ids, model_ids):
    """Every named workspace and model, and the geo multipliers: three queries for any size.

    Returns ({workspace_id: (WorkspaceInfo, organization_id)}, {model_id: ModelInfo}, geos).
    """
    workspaces = {
        pk: (WorkspaceInfo(pk, archived_at is not None, _allowed(allowed), default), org_id)
        for pk, org_id, archived_at, allowed, default in Workspace.objects.filter(pk__in=workspace_ids)
        .values_list("id", "organization_id", "archived_at", "allowed_inference_geos", "default_inference_geo")
        .order_by()
    }
    models = {
        pk: ModelInfo(pk, geo)
        for pk, geo in CatalogModel.objects.filter(pk__in=model_ids).values_list("id", "supports_inference_geo")
        .order_by()
    }
    geos = {code: Decimal(m) for code, m in Geo.objects.filter(inference=True).values_list("code", "price_multiplier")}
    return workspaces, models, geos


def catalog_prices(model_id):
    """(ModelInfo, Prices) for a catalog model, read fresh (staff edit the catalog in the admin)."""
    from .policy import Prices

    row = CatalogModel.objects.filter(pk=model_id).first()
    if row is None:
        return None, None
    prices = Prices(row.input_price, row.cache_write_5m_price, row.cache_write_1h_price, row.cache_read_price,
                    row.output_price)
    return ModelInfo(row.pk, row.supports_inference_geo), prices


@dataclass(frozen=True)
class AuditFilters:
    action: str | None = None
    actor_id: str | None = None
    target_id: str | None = None
    starting_at: datetime | None = None
    ending_at: datetime | None = None

    @property
    def active(self):
        return any(v is not None for v in (self.action, self.actor_id, self.target_id, self.starting_at,
                                           self.ending_at))


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
    return parsed


def audit_filters_from_api(params):
    """Filters from `GET /v1/organizations/audit_events` query parameters (400 on bad values)."""
    action = params.get("action") or None
    if action is not None and action not in EVENT_TYPES:
        raise ValidationError({"action": [
            f"Unknown action {action!r}; use one of {', '.join(EVENT_TYPES)}."
        ]})
    filters = AuditFilters(
        action=action,
        actor_id=params.get("actor_id") or None,
        target_id=params.get("target_id") or None,
        starting_at=parse_rfc3339(params.get("starting_at"), "starting_at"),
        ending_at=parse_rfc3339(params.get("ending_at"), "ending_at"),
    )
    if filters.starting_at and filters.ending_at and filters.ending_at <= filters.starting_at:
        raise ValidationError({"ending_at": ["must be after starting_at."]})
    return filters


def day_start(day):
    from datetime import UTC

    return datetime.combine(day, time.min, tzinfo=UTC)


def audit_filters_from_console(params):
    """Filters from the console form (dates are whole UTC days, `to` inclusive).

    Returns (filters, errors) so the page can show a bad date next to its field.
    """
    errors = {}
    dates = {}
    for name in ("from", "to"):
        raw = (params.get(name) or "").strip()
        if raw:
            try:
                value = parse_date(raw)
            except ValueError:
                value = None
            if value is None:
                errors[name] = f"{raw!r} is not a date; use YYYY-MM-DD."
            dates[name] = value
    action = params.get("action") or None
    if action is not None and action not in EVENT_TYPES:
        errors["action"] = f"Unknown action {action!r}."
        action = None
    start = day_start(dates["from"]) if dates.get("from") else None
    end = day_start(dates["to"]) + timedelta(days=1) if dates.get("to") else None
    if start and end and end <= start:
        errors["to"] = "The end date is before the start date."
    filters = AuditFilters(
        action=action,
        actor_id=(params.get("actor") or "").strip() or None,
        target_id=(params.get("target") or "").strip() or None,
        starting_at=start,
        ending_at=end,
    )
    return filters, errors


def audit_events(scope, filters=None):
    """The events `scope` may see, filtered; ordered newest first (by seq)."""
    filters = filters or AuditFilters()
    qs = AuditEvent.objects.filter(organization_id=scope.organization.pk)
    if scope.actions is not None:
        qs = qs.filter(action__in=scope.actions)
    if filters.action:
        qs = qs.filter(action=filters.action)
    if filters.actor_id:
        if filters.actor_id.startswith("user_"):
            # a person: what they did themselves and through any of their API keys
            qs = qs.filter(actor_user_id=filters.actor_id)
        elif filters.actor_id == "system":
            qs = qs.filter(actor_type="system")
        else:
            qs = qs.filter(actor_id=filters.actor_id)
    if filters.target_id:
        qs = qs.filter(target_id=filters.target_id)
    if filters.starting_at:
        qs = qs.filter(created_at__gte=filters.starting_at)
    if filters.ending_at:
        qs = qs.filter(created_at__lt=filters.ending_at)
    return qs.order_by("-seq")


def _seq_page(qs, *, limit, older_than=None, newer_than=None):
    if older_than is not None:
        rows = list(qs.filter(seq__lt=older_than).order_by("-seq")[: limit + 1])
        return rows[:limit], len(rows) > limit, older_than is not None
    if newer_than is not None:
        rows = list(qs.filter(seq__gt=newer_than).order_by("seq")[: limit + 1])
        has_newer = len(rows) > limit
        return list(reversed(rows[:limit])), True, has_newer
    rows = list(qs.order_by("-seq")[: limit + 1])
    return rows[:limit], len(rows) > limit, False


def audit_page(scope, filters, *, limit=50, older_than=None, newer_than=None):
    """One console page: (events, has_older, has_newer), keyset by seq (cursor = a seq)."""
    return _seq_page(audit_events(scope, filters), limit=limit, older_than=older_than, newer_than=newer_than)


def audit_api_page(scope, filters, params):
    """One REST page per the list contract: (events, has_more), newest first.

    `after_id` continues to older events, `before_id` goes back to newer ones; the cursor is
    an event id (string) visible to this caller.
    """
    limit = parse_limit(params.get("limit"))
    after_id, before_id = params.get("after_id"), params.get("before_id")
    if after_id and before_id:
        raise ValidationError("Send at most one of after_id and before_id.")
    qs = audit_events(scope, filters)
    cursor = after_id or before_id
    if cursor:
        name = "after_id" if after_id else "before_id"
        anchor = None
        if str(cursor).isdigit():
            visible = AuditEvent.objects.filter(organization_id=scope.organization.pk, pk=int(cursor))
            if scope.actions is not None:
                visible = visible.filter(action__in=scope.actions)
            anchor = visible.values_list("seq", flat=True).first()
        if anchor is None:
            raise ValidationError({name: [f"no audit event with id {cursor!r} in this list."]})
        if after_id:
            rows, has_more, _ = _seq_page(qs, limit=limit, older_than=anchor)
        else:
            rows, _, has_more = _seq_page(qs, limit=limit, newer_than=anchor)
        return rows, has_more
    rows, has_more, _ = _seq_page(qs, limit=limit)
    return rows, has_more


def audit_names(organization):
    """Role names for rendering role ids in sentences (one query)."""
    roles = Role.objects.filter(Q(builtin=True) | Q(organization_id=organization.pk)).values_list("id", "name")
    return Names(dict(roles))


def audit_filter_choices(scope, names):
    """Options for the console's actor/target/action selects, from current objects (3 queries)."""
    org = scope.organization
    members = list(
        Membership.objects.filter(organization_id=org.pk).select_related("user").order_by("user__email")
    )
    keys = list(
        ApiKey.objects.filter(membership__organization_id=org.pk).select_related("membership__user").order_by("name")
    )
    workspaces = list(Workspace.objects.filter(organization_id=org.pk).order_by("name").values_list("id", "name"))
    actors = [(m.user_id, f"{m.user.display_name} (any source)") for m in members]
    actors += [(k.pk, f"API key {k.name} ({k.membership.user.email})") for k in keys]
    actors.append(("system", "System (commands, migrations)"))
    targets = [(org.pk, f"Organization {org.name}")]
    targets += [(ws_id, f"Workspace {name}") for ws_id, name in workspaces]
    if scope.actions is None:
        targets += [(m.user_id, f"Member {m.user.email}") for m in members]
        targets += [(k.pk, f"API key {k.name}") for k in keys]
        targets += [(rid, f"Role {name}") for rid, name in names.roles.items() if rid.startswith("role_")]
    actions = [(a, e.label) for a, e in EVENT_TYPES.items() if scope.actions is None or a in scope.actions]
    return {"actors": actors, "targets": targets, "actions": actions}
