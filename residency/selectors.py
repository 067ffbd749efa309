"""Reads the decision API needs, shaped for `residency.policy` (SPEC §2 "Deciding where a
request runs").

Nothing is cached in the process: every decision reads the current rows, so a change is seen
by the very next decision in every server process. A single decision is one SQL statement
(workspace, model and geo multipliers together); a batch is three, whatever its size.
"""

import json
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from orgs.models import Workspace

from .models import CatalogModel, Geo
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
        _SQL[key] = _workspace_sql() if kind == "workspace" else _model_and_geos_sql()
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
