"""The router's question, answered in one place (SPEC §2 "Deciding where a request runs", §3).

Every decision goes through here, whichever transport brings it:

- `decide_with_key(key_hash, params)`: the router's hot path (an API key and a JSON body): the
  key, its organization's US-only state, the workspace, the model and every geo multiplier come
  back from ONE SQL statement. Which keys work is `ApiKey.objects.usable()`, compiled into that
  statement, so the rule is written once for the ORM and for this SQL.
- `decide_for(caller, params)`: a caller already authenticated by DRF (a console session, or a
  key through `orgs.auth`), one statement for the state.
- `decide_batch(caller, items)`: any number of decisions, three statements.

A workspace of another organization is unknown, exactly like one that does not exist: that rule
is `_visible_workspace` and nowhere else. The rules themselves are the pure `policy.decide` and
`policy.decide_apps`. Nothing is cached in the process: every decision reads the current rows, so
a change is seen by the very next decision in every server process.
"""

import functools
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from django.db import DEFAULT_DB_ALIAS, connection, connections

from orgs.models import ApiKey, Membership, Workspace

from .models import CatalogModel, DataResidencyPolicy, Geo
from .policy import OPEN_POLICY, DecisionError, ModelInfo, PolicyInfo, WorkspaceInfo, decide, decide_apps

_KEY_SENTINEL = "\x00key_hash\x00"  # stands for the key hash while the ORM compiles the key query


@dataclass(frozen=True)
class DecisionState:
    workspace: WorkspaceInfo | None
    workspace_organization_id: str | None
    model: ModelInfo | None
    geo_multipliers: dict
    policy: PolicyInfo = OPEN_POLICY  # the workspace's organization's data residency policy


@dataclass
class DecisionKey:
    """An API key as far as a decision needs it (`last_used_at` for `orgs.services.api_key_touch`)."""

    pk: str
    last_used_at: datetime | None
    organization_id: str
    us_only_inference: bool
    locked: bool


@dataclass(frozen=True)
class Caller:
    """Who asks: the organizations whose workspaces they may ask about, and each one's US-only
    state (`(us_only, locked)`) for apps-surface decisions."""

    organizations: dict  # organization id -> (us_only, locked)

    @classmethod
    def for_key(cls, key):
        """A DecisionKey, or an ORM ApiKey with its membership's organization loaded."""
        if isinstance(key, DecisionKey):
            return cls({key.organization_id: (key.us_only_inference, key.locked)})
        org = key.membership.organization
        return cls({org.pk: (org.us_only_inference, org.locked)})

    @classmethod
    def for_user(cls, user):
        """A console session: every organization the person belongs to (one query)."""
        rows = Membership.objects.filter(user=user).values_list(
            "organization_id", "organization__us_only_inference", "organization__lock_reason")
        return cls({org_id: (us_only, lock is not None) for org_id, us_only, lock in rows})


def _visible_workspace(state, caller):
    """The state's workspace if it belongs to one of the caller's organizations, else None."""
    if state.workspace is not None and state.workspace_organization_id in caller.organizations:
        return state.workspace
    return None


def _decide(params, state, caller):
    if params.apps:
        org_state = caller.organizations.get(params.organization_id)
        if org_state is None:
            return DecisionError(404, "not_found_error", f"No organization with id {params.organization_id!r}.")
        return decide_apps(us_only=org_state[0], locked=org_state[1], model=state.model,
                           geo_multipliers=state.geo_multipliers, model_id=params.model)
    return decide(workspace=_visible_workspace(state, caller), model=state.model, inference_geo=params.inference_geo,
                  endpoint=params.endpoint, geo_multipliers=state.geo_multipliers, policy=state.policy,
                  model_id=params.model)


# --- SQL ---------------------------------------------------------------------------------------


def _q(name):
    return connection.ops.quote_name(name)


def _key_query():
    """(SQL, params) of the usable key with this hash: `ApiKey.objects.usable()` compiled, with
    `_KEY_SENTINEL` among the params where the hash goes."""
    qs = (ApiKey.objects.usable().filter(key_hash=_KEY_SENTINEL).order_by()
          .values_list("id", "last_used_at", "membership__organization_id",
                       "membership__organization__us_only_inference", "membership__organization__lock_reason"))
    sql, params = qs.query.sql_with_params()
    return sql, tuple(params)


def _state_sql(with_key):
    """One row per inference geo with the workspace, its organization's policy and the model
    beside it (LEFT JOINs, so an unknown workspace or model still returns the rest and a 404
    follows). With `with_key`, the key's columns lead each row and no row comes back for a key
    that does not work. SQLite gets datetimes as text (the driver would otherwise parse one per
    row; `_aware` reads it once)."""
    workspace, policy, model, geo = (_q(m._meta.db_table) for m in (Workspace, DataResidencyPolicy, CatalogModel, Geo))
    columns = (f"w.{_q('id')}, w.{_q('organization_id')}, w.{_q('archived_at')} IS NOT NULL, "
               f"CAST(w.{_q('allowed_inference_geos')} AS TEXT), w.{_q('default_inference_geo')}, "
               f"CAST(p.{_q('allowed_inference_geos')} AS TEXT), p.{_q('default_inference_geo')}, "
               f"c.{_q('id')}, c.{_q('supports_inference_geo')}, g.{_q('code')}, "
               f"CAST(g.{_q('price_multiplier')} AS TEXT)")
    joins = (f"LEFT JOIN {workspace} w ON w.{_q('id')} = %s "
             f"LEFT JOIN {policy} p ON p.{_q('organization_id')} = w.{_q('organization_id')} "
             f"LEFT JOIN {model} c ON c.{_q('id')} = %s "
             f"LEFT JOIN {geo} g ON g.{_q('inference')}")
    if not with_key:
        # the geos must come back even without a key row to hang them on
        return f"SELECT {columns} FROM (SELECT 1 AS one) one {joins}", ()
    key_sql, key_params = _key_query()
    last_used = "CAST(k.last_used_at AS TEXT)" if connection.vendor == "sqlite" else "k.last_used_at"
    sql = (f"WITH k (id, last_used_at, organization_id, us_only, lock_reason) AS ({key_sql}) "
           f"SELECT k.id, {last_used}, k.organization_id, k.us_only, k.lock_reason, {columns} FROM k {joins}")
    return sql, key_params


@functools.cache
def _statement(vendor, with_key):
    return _state_sql(with_key)


def _params(db, with_key, key_hash, workspace_id, model_id):
    sql, key_params = _statement(db.vendor, with_key)
    params = [key_hash if p == _KEY_SENTINEL else p for p in key_params] if with_key else []
    return sql, [*params, workspace_id, model_id]


@functools.cache
def _cursor_class(vendor):
    """The driver cursor for the decision statements (which are fixed strings):
    PostgreSQL: a server-side binding cursor whose statements are prepared, so the plan is made
    once per connection instead of on every decision, which is most of its cost. SQLite: Django's
    cursor with its %s-to-? conversion of these statements done once, not on every call."""
    if vendor == "sqlite":
        from django.db.backends.sqlite3.base import SQLiteCursorWrapper

        converted = {}

        class ConvertedOnceCursor(SQLiteCursorWrapper):
            def convert_query(self, query, *, param_names=None):
                if param_names is not None:
                    return super().convert_query(query, param_names=param_names)
                text = converted.get(query)
                if text is None:
                    text = converted[query] = super().convert_query(query)
                return text

        return ConvertedOnceCursor
    from django.db.backends.postgresql.base import ServerBindingCursor  # psycopg only matters on PostgreSQL

    class PreparedCursor(ServerBindingCursor):
        def execute(self, query, params=None, **kwargs):
            return super().execute(query, params, prepare=True)

    return PreparedCursor


def _cursor(db):
    """A cursor of `db` for the decision statements, still a Django cursor (query counting and
    logging see it). PostgreSQL prepares only with `prepare_threshold` set (settings)."""
    vendor = db.vendor
    if vendor not in ("sqlite", "postgresql") or (
            vendor == "postgresql" and db.settings_dict["OPTIONS"].get("prepare_threshold") is None):
        return db.cursor()
    db.ensure_connection()
    raw = _cursor_class(vendor)(db.connection)
    return db.make_debug_cursor(raw) if db.queries_logged else db.make_cursor(raw)


def _aware(value):
    """A datetime read by raw SQL: SQLite may hand back text, and naive values are UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _allowed(value):
    if value is None:
        return None
    if isinstance(value, str):
        value = json.loads(value)
    return None if value is None else tuple(value)


def _policy(allowed, default):
    return PolicyInfo(_allowed(allowed), default) if default is not None else OPEN_POLICY


def _read_state(rows, offset):
    """DecisionState from statement rows whose state columns start at `offset`."""
    workspace = ws_org = model = None
    policy = OPEN_POLICY
    geos = {}
    for row in rows:
        (ws_id, ws_org_id, archived, allowed, default, policy_allowed, policy_default, model_id, supports_geo, geo,
         multiplier) = row[offset:]
        if ws_id is not None and workspace is None:
            workspace, ws_org = WorkspaceInfo(ws_id, bool(archived), _allowed(allowed), default), ws_org_id
            policy = _policy(policy_allowed, policy_default)
        if model_id is not None and model is None:
            model = ModelInfo(model_id, bool(supports_geo))
        if geo is not None:
            geos[geo] = Decimal(multiplier)
    return DecisionState(workspace, ws_org, model, geos, policy)


def state_with_key(*, key_hash, workspace_id, model_id):
    """(DecisionKey, DecisionState) in one statement, or None when no usable key has that hash.
    `workspace_id` is None on the apps surface (no workspace is read)."""
    db = connections[DEFAULT_DB_ALIAS]  # the proxy `connection` costs a lookup per attribute
    sql, params = _params(db, True, key_hash, workspace_id, model_id)
    with _cursor(db) as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if not rows:
        return None
    key_id, last_used, org_id, us_only, lock_reason = rows[0][:5]
    return DecisionKey(key_id, _aware(last_used), org_id, bool(us_only), lock_reason is not None), _read_state(rows, 5)


def state(*, workspace_id, model_id):
    """DecisionState in one statement (the caller is already authenticated)."""
    db = connections[DEFAULT_DB_ALIAS]
    sql, params = _params(db, False, None, workspace_id, model_id)
    with _cursor(db) as cursor:
        cursor.execute(sql, params)
        return _read_state(cursor.fetchall(), 0)


def batch_state(*, workspace_ids, model_ids):
    """Every named workspace and model, and the geo multipliers: three queries for any size.

    Returns ({workspace_id: (WorkspaceInfo, organization_id, PolicyInfo)}, {model_id: ModelInfo}, geos).
    """
    workspaces = {
        pk: (WorkspaceInfo(pk, archived_at is not None, _allowed(allowed), default), org_id,
             _policy(policy_allowed, policy_default))
        for pk, org_id, archived_at, allowed, default, policy_allowed, policy_default
        in Workspace.objects.filter(pk__in=workspace_ids).values_list(
            "id", "organization_id", "archived_at", "allowed_inference_geos", "default_inference_geo",
            "organization__data_residency_policy__allowed_inference_geos",
            "organization__data_residency_policy__default_inference_geo").order_by()
    }
    models = {
        pk: ModelInfo(pk, geo)
        for pk, geo in CatalogModel.objects.filter(pk__in=model_ids).values_list("id", "supports_inference_geo")
        .order_by()
    }
    geos = {code: Decimal(m) for code, m in Geo.objects.filter(inference=True).values_list("code", "price_multiplier")}
    return workspaces, models, geos


# --- the three ways in -------------------------------------------------------------------------


def decide_with_key(*, key_hash, params):
    """(DecisionKey, Decision or DecisionError), or None when the key does not work. One statement."""
    found = state_with_key(key_hash=key_hash, workspace_id=params.workspace_id, model_id=params.model)
    if found is None:
        return None
    key, loaded = found
    return key, _decide(params, loaded, Caller.for_key(key))


def decide_for(caller, params):
    """Decision or DecisionError for an authenticated caller. One statement for the state."""
    return _decide(params, state(workspace_id=params.workspace_id, model_id=params.model), caller)


def decide_batch(caller, items):
    """[(custom_id, Decision or DecisionError)] in request order; `items` are (custom_id,
    DecisionParams or DecisionError for an item whose params were malformed)."""
    wanted = [p for _, p in items if not isinstance(p, DecisionError)]
    workspaces, models, geos = batch_state(workspace_ids={p.workspace_id for p in wanted},
                                           model_ids={p.model for p in wanted})
    results = []
    for custom_id, params in items:
        if not isinstance(params, DecisionError):
            workspace, org_id, policy = workspaces.get(params.workspace_id, (None, None, OPEN_POLICY))
            params = _decide(params, DecisionState(workspace, org_id, models.get(params.model), geos, policy), caller)
        results.append((custom_id, params))
    return results
