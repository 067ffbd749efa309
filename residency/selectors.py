"""Reads about residency, scoped to one organization: workspaces a member may see, the US-only
setting's history, the catalog; and the reads the decision API needs, shaped for
`residency.policy` (SPEC §2 "Deciding where a request runs").

Nothing is cached in the process: every decision reads the current rows, so a change is seen
by the very next decision in every server process. A single decision is one SQL statement
(workspace, model and geo multipliers together); a batch is three, whatever its size.
"""

import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.db import connection
from django.db.models import Q
from guardian.shortcuts import get_objects_for_user

from audit import events
from audit.models import AuditEvent
from orgs.models import ApiKey, Level, Membership, Organization, User, Workspace, WorkspaceUserObjectPermission

from .models import CatalogModel, Geo
from .permissions import WORKSPACE_ADMIN_PERM
from .policy import ModelInfo, Prices, WorkspaceInfo


def workspaces_visible_to(access, *, include_archived=False):
    """Workspaces this member may see: all of them with Privacy: view, else the ones they
    administer (guardian object permission), filtered in SQL, never row by row."""
    qs = Workspace.objects.filter(organization_id=access.organization.pk)
    if not include_archived:
        qs = qs.filter(archived_at__isnull=True)
    if access.can("privacy"):
        return qs
    qs = get_objects_for_user(
        access.user, f"orgs.{WORKSPACE_ADMIN_PERM}", qs, accept_global_perms=False, with_superuser=False
    )
    creator_id = access.key_creator_id
    if creator_id is not None and access.creator_level("privacy") == Level.NONE:
        # a key someone else minted sees no workspace its creator cannot see (SPEC §3)
        qs = qs.filter(pk__in=WorkspaceUserObjectPermission.objects.filter(
            user_id=creator_id or None, permission__codename=WORKSPACE_ADMIN_PERM).values("content_object_id"))
    return qs


def workspace_admins(workspace):
    """Members made admin of this workspace, by email (two queries)."""
    user_ids = WorkspaceUserObjectPermission.objects.filter(
        content_object=workspace, permission__codename=WORKSPACE_ADMIN_PERM
    ).values_list("user_id", flat=True)
    return list(
        Membership.objects.filter(organization_id=workspace.organization_id, user_id__in=user_ids)
        .select_related("user", "role").order_by("user__email")
    )


INFERENCE_RESIDENCY_HISTORY_ACTIONS = (
    events.INFERENCE_RESIDENCY_UPDATED.name,
    events.INFERENCE_RESIDENCY_CHANGE_DENIED.name,
    events.INFERENCE_RESIDENCY_LEGACY_MIGRATED.name,
)


def inference_residency_history(organization, *, limit=10):
    """The latest changes (and denied attempts) to the US-only setting, newest first.

    Plan or lock changes by platform staff that moved the setting count too.
    """
    return list(
        AuditEvent.objects.filter(organization_id=organization.pk)
        .filter(
            Q(action__in=INFERENCE_RESIDENCY_HISTORY_ACTIONS)
            | Q(action=events.ORGANIZATION_UPDATED.name, after__has_key="us_only")
        )
        .order_by("-seq")[:limit]
    )


def workspaces_of(organization):
    """Every workspace of the organization by name, archived ones too (filter pickers)."""
    return list(Workspace.objects.filter(organization_id=organization.pk).order_by("name"))


def catalog_models():
    return list(CatalogModel.objects.order_by("id"))


def geos():
    """(inference geos, workspace geos), in display order (one query)."""
    rows = list(Geo.objects.all())
    return [g for g in rows if g.inference], [g for g in rows if g.workspace]


def geo_multiplier(code):
    return Geo.objects.filter(code=code).values_list("price_multiplier", flat=True).first()


def delegation_candidates(workspace, admins):
    """Members who could be made admin of this workspace: not already its admin, and not
    already managing every workspace's residency through their role."""
    admin_ids = {m.pk for m in admins}
    return [m for m in Membership.objects.filter(organization=workspace.organization_id)
            .exclude(role__privacy=Level.MANAGE).select_related("user", "role").order_by("user__email")
            if m.pk not in admin_ids]


def models_by_rate():
    """Catalog models that take the residency multiplier in the US, and those that stay at the
    standard rate (data, not code): two lists of display names."""
    uplift, standard = [], []
    for model in CatalogModel.objects.order_by("id").only("id", "display_name", "supports_inference_geo"):
        (uplift if model.supports_inference_geo else standard).append(model.display_name or model.id)
    return uplift, standard


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
    row = CatalogModel.objects.filter(pk=model_id).first()
    if row is None:
        return None, None
    prices = Prices(row.input_price, row.cache_write_5m_price, row.cache_write_1h_price, row.cache_read_price,
                    row.output_price)
    return ModelInfo(row.pk, row.supports_inference_geo), prices
