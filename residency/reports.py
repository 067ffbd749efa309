"""Usage and cost reads (SPEC §3 usage_report/messages, cost_report; the console's Usage page).
The REST query strings are validated by `residency.api.usage`'s query serializers into a
`ReportQuery`.

Reports read `UsageRollup`, kept at ingestion per hour and per day, never the raw rows: a
report over a million usage rows reads a few thousand rollup rows. `1d` buckets read the
daily rollup and `1h` buckets the hourly one; both are UTC-aligned.

Cost is computed here, per (model, geo, tier) group, with `residency.policy.price` and the
catalog's current prices: the residency multiplier (Geo.price_multiplier, e.g. 1.1 for `us`)
applies to geo-capable models only, batch halves input and output, Decimals throughout.
Amounts are USD cents as decimal strings.
"""

import base64
import functools
import hashlib
import heapq
import json
import operator
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db.models import BigIntegerField, Func, Q, Sum
from django.utils import timezone

from orgs.models import Workspace

from .models import TOKEN_FIELDS, CatalogModel, Geo, UsageRollup
from .policy import NOT_AVAILABLE, Prices, Tokens, decimal_str, price, residency_multiplier

WIDTHS = {"1h": timedelta(hours=1), "1d": timedelta(days=1)}
LIMITS = {"1h": (24, 168), "1d": (7, 31)}  # (default, maximum) buckets per page, as the Admin API
USAGE_GROUPS = ("workspace_id", "model", "inference_geo", "service_tier", "surface")
COST_GROUPS = ("workspace_id", "inference_geo", "model", "surface")
DIMENSION_COLUMNS = {"workspace_id": "workspace_id", "model": "model_id", "inference_geo": "inference_geo",
                     "service_tier": "service_tier", "surface": "surface"}
PRICE_COLUMNS = ["model_id", "inference_geo", "service_tier", "surface"]  # what decides a group's price
HUNDRED = Decimal(100)
ZERO = Decimal(0)


def floor_bucket(dt, width):
    dt = dt.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return dt.replace(hour=0) if width == "1d" else dt


@dataclass
class ReportQuery:
    width: str
    start: datetime  # first bucket start
    end: datetime  # exclusive; buckets start before it
    group_by: tuple = ()
    workspace_ids: tuple = ()
    models: tuple = ()
    geos: tuple = ()
    limit: int = 7

    def bucket_starts(self):
        step, t, out = WIDTHS[self.width], self.start, []
        while t < self.end and len(out) < self.limit + 1:
            out.append(t)
            t += step
        return out


def unknown_workspace_ids(organization, workspace_ids):
    """Those of `workspace_ids` that are not workspaces of `organization`, in the order given."""
    if not workspace_ids:
        return []
    known = set(Workspace.objects.filter(organization_id=organization.pk, pk__in=workspace_ids)
                .values_list("pk", flat=True))
    return [w for w in workspace_ids if w not in known]


@dataclass
class PriceBook:
    """Catalog prices and geo multipliers, loaded once per report (two queries), and whether the
    organization is locked (its Claude apps usage keeps its existing terms: no uplift)."""

    prices: dict
    supports_geo: dict
    multipliers: dict
    locked: bool = False

    @classmethod
    def load(cls, organization=None):
        prices, supports = {}, {}
        for m in CatalogModel.objects.all():
            prices[m.id] = Prices(m.input_price, m.cache_write_5m_price, m.cache_write_1h_price, m.cache_read_price,
                                  m.output_price)
            supports[m.id] = m.supports_inference_geo
        return cls(prices, supports, dict(Geo.objects.filter(inference=True).values_list("code", "price_multiplier")),
                   locked=bool(organization is not None and organization.locked))

    def _multiplier(self, model, geo, surface):
        return residency_multiplier(supports_inference_geo=self.supports_geo[model], inference_geo=geo,
                                    geo_multipliers=self.multipliers, surface=surface, locked=self.locked)

    def cost(self, model, geo, tier, tokens, surface="api"):
        """(cost in USD, of which residency uplift in USD) for one group of tokens."""
        prices = self.prices.get(model)
        if prices is None:
            return ZERO, ZERO
        standard = price(prices, tokens, batch=tier == "batch")
        total = standard * self._multiplier(model, geo, surface)
        return total, total - standard

    def unit_amounts(self, model, geo, tier, surface="api"):
        """What one token of each category (`TOKEN_FIELDS` order) costs in USD for this price
        group: (after the batch discount, before it), the residency multiplier in both. `price`
        is linear in the tokens, so a group's cost is the sum of its tokens times these."""
        prices = self.prices.get(model)
        if prices is None:
            return (ZERO,) * 5, (ZERO,) * 5
        multiplier = self._multiplier(model, geo, surface)
        basis = [Tokens(*(1 if i == j else 0 for j in range(5))) for i in range(5)]
        listed = tuple(price(prices, one) * multiplier for one in basis)
        if tier != "batch":
            return listed, listed
        return tuple(price(prices, one, batch=True) * multiplier for one in basis), listed


@dataclass
class Group:
    tokens: list = field(default_factory=lambda: [0, 0, 0, 0, 0])
    cost: Decimal = ZERO
    uplift: Decimal = ZERO
    records: int = 0


def _filtered(qs, *, workspace_ids=(), models=(), geos=(), service_tiers=(), products=(), surfaces=()):
    """Rollup rows of these workspaces, models, geos, tiers, products and surfaces (each: all when empty)."""
    if workspace_ids:
        qs = qs.filter(workspace_id__in=workspace_ids)
    if models:
        qs = qs.filter(model_id__in=models)
    if geos:
        qs = qs.filter(inference_geo__in=geos)
    if service_tiers:
        qs = qs.filter(service_tier__in=service_tiers)
    if products:
        qs = qs.filter(product_filter(products))
    if surfaces:
        qs = qs.filter(surface__in=surfaces)
    return qs


def aggregate(organization, *, width, start, end, dims, workspace_ids=(), models=(), geos=(), surfaces=(),
              book=None):
    """{(bucket_start, *dims values): Group} from the rollup, with cost if `book` is given.

    One query (plus the price book's two when costing). SQL groups by the requested dims and,
    when costing, by model, geo and tier too, since those decide the price.
    """
    qs = UsageRollup.objects.filter(organization_id=organization.pk, width=width, bucket_start__gte=start,
                                    bucket_start__lt=end)
    qs = _filtered(qs, workspace_ids=workspace_ids, models=models, geos=geos, surfaces=surfaces)
    columns = [DIMENSION_COLUMNS[d] for d in dims]
    sql_columns = list(dict.fromkeys(columns + (PRICE_COLUMNS if book else [])))
    rows = qs.values("bucket_start", *sql_columns).annotate(
        records_sum=Sum("records"), **{f"{f}_sum": Sum(f) for f in TOKEN_FIELDS}
    ).order_by()
    out = defaultdict(Group)
    for row in rows:
        key = (row["bucket_start"], *(row[c] for c in columns))
        group = out[key]
        # PostgreSQL sums bigints as numeric (Decimal): token counts stay ints
        tokens = [int(row[f"{f}_sum"] or 0) for f in TOKEN_FIELDS]
        for i, value in enumerate(tokens):
            group.tokens[i] += value
        group.records += int(row["records_sum"] or 0)
        if book is not None:
            cost, uplift = book.cost(row["model_id"], row["inference_geo"], row["service_tier"], Tokens(*tokens),
                                     row["surface"])
            group.cost += cost
            group.uplift += uplift
    return out


def iso(dt):
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _page(query, buckets_by_start, render):
    starts = query.bucket_starts()
    has_more = len(starts) > query.limit
    starts = starts[: query.limit]
    step = WIDTHS[query.width]
    data = []
    for s in starts:
        results = [render(key, group) for key, group in sorted(buckets_by_start.get(s, []), key=_sort_key)]
        data.append({"starting_at": iso(s), "ending_at": iso(s + step), "results": results})
    next_page = iso(starts[-1] + step) if has_more else None
    return {"data": data, "has_more": has_more, "next_page": next_page}


def _sort_key(item):
    key, _group = item
    return tuple("" if v is None else str(v) for v in key)


def _by_bucket(groups):
    out = defaultdict(list)
    for (start, *dims), group in groups.items():
        out[start].append((tuple(dims), group))
    return out


def _page_window(query):
    starts = query.bucket_starts()[: query.limit]
    return starts[0], starts[-1] + WIDTHS[query.width]


def usage_report(organization, query):
    """The Admin API usage report: token sums per bucket, grouped by `query.group_by`."""
    start, end = _page_window(query)
    groups = aggregate(organization, width=query.width, start=start, end=end, dims=query.group_by,
                       workspace_ids=query.workspace_ids, models=query.models, geos=query.geos)

    def render(dims, group):
        values = dict(zip(query.group_by, dims, strict=True))
        t = group.tokens
        return {
            "uncached_input_tokens": t[0],
            "cache_creation": {"ephemeral_5m_input_tokens": t[1], "ephemeral_1h_input_tokens": t[2]},
            "cache_read_input_tokens": t[3],
            "output_tokens": t[4],
            **{d: values.get(d) or None for d in USAGE_GROUPS},  # a Claude apps row's workspace_id "" is null
        }

    return _page(query, _by_bucket(groups), render)


def cost_report(organization, query):
    """The Admin API cost report: daily cost in USD cents (decimal strings)."""
    start, end = _page_window(query)
    groups = aggregate(organization, width="1d", start=start, end=end, dims=query.group_by,
                       workspace_ids=query.workspace_ids, models=query.models, geos=query.geos,
                       book=PriceBook.load(organization))

    def render(dims, group):
        values = dict(zip(query.group_by, dims, strict=True))
        return {
            "currency": "USD",
            "amount": decimal_str(group.cost * HUNDRED) if group.cost else "0",
            **{d: values.get(d) or None for d in COST_GROUPS},
        }

    return _page(query, _by_bucket(groups), render)


# --- the Admin API's analytics (SPEC §9): usage and cost by dimension, ranked, paged ------------

ANALYTICS_DIMENSIONS = ("workspace_id", "service_tier", "inference_geo", "model", "product")
PRODUCTS = ("messages_api", "message_batches_api", "chat")
MAX_ANALYTICS_RANGE = timedelta(days=31)
USAGE_ORDERS = ("total_tokens", "uncached_input_tokens", "output_tokens", "requests", "time")
COST_ORDERS = ("amount", "list_amount", "time")


def product_of(surface, service_tier):
    """The Admin API's product of a usage row: `chat` for the Claude apps, `message_batches_api`
    for API rows of tier batch, `messages_api` for the other API rows."""
    if surface == "apps":
        return "chat"
    return "message_batches_api" if service_tier == "batch" else "messages_api"


def product_filter(products):
    """The rollup rows of these products (`product_of` as a query)."""
    parts = {"chat": Q(surface="apps"),
             "message_batches_api": Q(surface="api", service_tier="batch"),
             "messages_api": Q(surface="api") & ~Q(service_tier="batch")}
    return functools.reduce(operator.or_, (parts[p] for p in products))


@dataclass
class AnalyticsQuery:
    """What `analytics` reports: rows of [start, end) (whole hours; per `width` bucket when set),
    grouped by `group_by`, filtered, ordered by `order_by` in `order`, `limit` per page, the page
    after the row whose sort key is `after`."""

    start: datetime
    end: datetime
    width: str | None = None
    group_by: tuple = ()
    workspace_ids: tuple = ()
    models: tuple = ()
    geos: tuple = ()
    service_tiers: tuple = ()
    products: tuple = ()
    order_by: str = "total_tokens"
    order: str = "desc"
    limit: int = 20
    after: tuple | None = None

    def fingerprint(self):
        """Names the report a page cursor belongs to (everything but the page and its size)."""
        parts = (self.start.isoformat(), self.end.isoformat(), self.width, sorted(self.group_by),
                 sorted(self.workspace_ids), sorted(self.models), sorted(self.geos), sorted(self.service_tiers),
                 sorted(self.products), self.order_by, self.order)
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def _analytics_window(qs, query):
    """Rollup rows of the report's range: per `query.width` bucket, else whole days from the daily
    rollup and the hours at either end from the hourly one (one query either way)."""
    if query.width:
        return qs.filter(width=query.width, bucket_start__gte=query.start, bucket_start__lt=query.end)
    first_day = floor_bucket(query.start, "1d")
    if first_day < query.start:
        first_day += WIDTHS["1d"]
    last_day = floor_bucket(query.end, "1d")
    if first_day >= last_day:
        return qs.filter(width="1h", bucket_start__gte=query.start, bucket_start__lt=query.end)
    parts = [Q(width="1d", bucket_start__gte=first_day, bucket_start__lt=last_day)]
    if query.start < first_day:
        parts.append(Q(width="1h", bucket_start__gte=query.start, bucket_start__lt=first_day))
    if last_day < query.end:
        parts.append(Q(width="1h", bucket_start__gte=last_day, bucket_start__lt=query.end))
    return qs.filter(functools.reduce(operator.or_, parts))


class Epoch(Func):
    """A timestamp column as whole seconds since 1970 (UTC): rows compare and sort on an integer,
    and only the page's buckets become datetimes (SQLite hands timestamps back as text)."""

    output_field = BigIntegerField()

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="CAST(strftime('%%%%s', %(expressions)s) AS INTEGER)", **extra)

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="CAST(EXTRACT(EPOCH FROM %(expressions)s) AS BIGINT)",
                           **extra)


# a rollup row's key within one organization and width: grouping by all of it adds nothing up
ROLLUP_KEY = {"bucket_start", "surface", "workspace_id", "model_id", "inference_geo", "service_tier"}
SUMS = ("records", *TOKEN_FIELDS)
# an analytics row's sums: requests, the five token counts, amount, list amount (USD)
REQUESTS, AMOUNT, LIST_AMOUNT = 0, 6, 7


def analytics_rows(organization, query, *, cost=False):
    """Every row of the report, unordered, as (bucket start in epoch seconds or None, dims, sums): `dims` holds the
    stored values in ANALYTICS_DIMENSIONS order (None where not grouped by; "" for a Claude apps
    row's workspace, "not_available" for an unset geo), `sums` as REQUESTS.. above.

    One SQL query over the rollups (plus the price book's two for cost). SQL groups by the
    requested dimensions (product is surface and tier) and, for cost, by what decides a price
    (nothing to group when that is a rollup row's whole key); Python adds those up into the
    report's rows, pricing each price group once per token category (`PriceBook.unit_amounts`)."""
    qs = _filtered(UsageRollup.objects.filter(organization_id=organization.pk), workspace_ids=query.workspace_ids,
                   models=query.models, geos=query.geos, service_tiers=query.service_tiers, products=query.products)
    qs = _analytics_window(qs, query).order_by()
    group = set(query.group_by)
    columns = [c for d in ANALYTICS_DIMENSIONS if d in group
               for c in (("surface", "service_tier") if d == "product" else (DIMENSION_COLUMNS[d],))]
    columns = list(dict.fromkeys((["bucket_start"] if query.width else []) + columns
                                 + (PRICE_COLUMNS if cost else [])))
    covers_key = ROLLUP_KEY <= set(columns)
    if query.width:
        qs = qs.annotate(bucket=Epoch("bucket_start"))
        columns[0] = "bucket"
    if not columns:  # one row for the range
        totals = qs.aggregate(**{f"{f}_sum": Sum(f) for f in SUMS})
        rows = [tuple(totals[f"{f}_sum"] for f in SUMS)] if totals["records_sum"] is not None else []
    elif query.width and covers_key:
        rows = qs.values_list(*columns, *SUMS)
    else:
        rows = qs.values_list(*columns).annotate(**{f"{f}_sum": Sum(f) for f in SUMS})
    at = {c: i for i, c in enumerate(columns)}
    n = len(columns)
    b = at.get("bucket")
    ws = at["workspace_id"] if "workspace_id" in group else None
    tier = at["service_tier"] if "service_tier" in group else None
    geo = at["inference_geo"] if "inference_geo" in group else None
    model = at["model_id"] if "model" in group else None
    product = (at["surface"], at["service_tier"]) if "product" in group else None
    price_at = (at["model_id"], at["inference_geo"], at["service_tier"], at["surface"]) if cost else None
    book = PriceBook.load(organization) if cost else None
    units = {}
    out = {}
    for row in rows:
        key = (row[b] if b is not None else None,
               (row[ws] if ws is not None else None, row[tier] if tier is not None else None,
                row[geo] if geo is not None else None, row[model] if model is not None else None,
                product_of(row[product[0]], row[product[1]]) if product is not None else None))
        counts = [*map(int, row[n:])]  # requests, then the five token counts (PostgreSQL sums bigints as numeric)
        if book is not None:
            price_key = tuple(row[i] for i in price_at)
            unit = units.get(price_key)
            if unit is None:
                unit = units[price_key] = book.unit_amounts(*price_key)
            _, t0, t1, t2, t3, t4 = counts
            (a0, a1, a2, a3, a4), (l0, l1, l2, l3, l4) = unit
            counts += (t0 * a0 + t1 * a1 + t2 * a2 + t3 * a3 + t4 * a4, t0 * l0 + t1 * l1 + t2 * l2 + t3 * l3 + t4 * l4)
        else:
            counts += (ZERO, ZERO)
        sums = out.get(key)
        if sums is None:
            out[key] = counts
        else:
            for i, value in enumerate(counts):
                sums[i] += value
    return [(bucket, dims, sums) for (bucket, dims), sums in out.items()]


def _metric(name, sums):
    if name in ("total_tokens", "time"):
        return sums[1] + sums[2] + sums[3] + sums[4] + sums[5]
    return sums[{"uncached_input_tokens": 1, "output_tokens": 5, "requests": REQUESTS, "amount": AMOUNT,
                 "list_amount": LIST_AMOUNT}[name]]


def _analytics_key(bucket, dims, sums, query, cost):
    """A row's place in the report: by the `order_by` metric in `order` (ties by the dimension
    values, then the bucket), or with `time` and buckets by bucket in `order`, then the row's
    total (tokens or amount) highest first. Unique per row, so it is also the page cursor.
    (Dimensions not grouped by are None in every row, so tuples never compare None with text.)"""
    when = bucket or 0
    sign = 1 if query.order == "asc" else -1
    if query.order_by == "time" and query.width:
        return (sign * when, -(sums[AMOUNT] if cost else _metric("total_tokens", sums)), dims)
    name = query.order_by if query.order_by != "time" else ("amount" if cost else "total_tokens")
    return (sign * _metric(name, sums), dims, when)


def _key_json(value):
    if isinstance(value, Decimal):
        return {"d": str(value)}
    if isinstance(value, tuple):
        return [_key_json(v) for v in value]
    return value


def _key_value(value):
    if isinstance(value, dict) and set(value) == {"d"} and isinstance(value["d"], str):
        return Decimal(value["d"])
    if isinstance(value, list):
        return tuple(_key_value(v) for v in value)
    if value is None or isinstance(value, (int, float, str)) and not isinstance(value, bool):
        return value
    raise ValueError("not a sort key")


def encode_page(query, key):
    text = json.dumps([query.fingerprint(), _key_json(key)], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_page(query, token):
    """The sort key a `next_page` cursor of this same report names, or ValueError."""
    try:
        fingerprint, key = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        key = _key_value(key)
    except (ValueError, TypeError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError("not a page of this report") from exc
    if fingerprint != query.fingerprint() or not isinstance(key, tuple):
        raise ValueError("not a page of this report")
    return key


def analytics(organization, query, *, cost=False):
    """The Admin API's usage (or, with `cost`, cost) analytics: one page of rows as
    {"data": [{starting_at, ending_at, group, usage | cost}], "has_more", "next_page"}."""
    # only the page's rows (and whether one more follows) need ordering: a heap, not a sort of every row
    keyed = ((_analytics_key(bucket, dims, sums, query, cost), bucket, dims, sums)
             for bucket, dims, sums in analytics_rows(organization, query, cost=cost))
    if query.after is not None:
        keyed = (item for item in keyed if item[0] > query.after)
    try:
        page = heapq.nsmallest(query.limit + 1, keyed, key=operator.itemgetter(0))
    except TypeError:  # a cursor key of another shape: no row comes after it
        page = []
    has_more = len(page) > query.limit
    page = page[:query.limit]
    step = WIDTHS.get(query.width)
    data = []
    for _, bucket, (workspace, tier, geo, model, product), sums in page:
        start = datetime.fromtimestamp(bucket, UTC) if step else query.start
        item = {"starting_at": iso(start), "ending_at": iso(start + step if step else query.end),
                "group": {"workspace_id": workspace or None, "service_tier": tier,
                          # the Admin API reports an unset region as null
                          "inference_geo": None if geo == NOT_AVAILABLE else geo, "model": model, "product": product}}
        if cost:
            item["cost"] = {"amount": _cents(sums[AMOUNT]), "list_amount": _cents(sums[LIST_AMOUNT]),
                            "currency": "USD", "requests": sums[REQUESTS]}
        else:
            item["usage"] = {
                "uncached_input_tokens": sums[1],
                "cache_creation": {"ephemeral_5m_input_tokens": sums[2], "ephemeral_1h_input_tokens": sums[3]},
                "cache_read_input_tokens": sums[4], "output_tokens": sums[5],
                "total_tokens": _metric("total_tokens", sums), "requests": sums[REQUESTS],
                "server_tool_use": {"web_search_requests": 0},
            }
        data.append(item)
    return {"data": data, "has_more": has_more,
            "next_page": encode_page(query, page[-1][0]) if has_more else None}


def _cents(usd):
    return decimal_str(usd * HUNDRED) if usd else "0"


# --- the console's Usage & cost page ----------------------------------------------------------

GEO_ORDER = ("global", "us", NOT_AVAILABLE)


@dataclass
class DailyUsage:
    days: list
    geos: list
    cells: dict  # (day, geo) -> Group
    with_cost: bool

    @property
    def empty(self):
        return not self.cells

    def day_total(self, day):
        return self._total((day, geo) for geo in self.geos)

    def geo_total(self, geo):
        return self._total((day, geo) for day in self.days)

    def _total(self, keys):
        total = Group()
        for key in keys:
            g = self.cells.get(key)
            if g:
                total.tokens = [a + b for a, b in zip(total.tokens, g.tokens, strict=True)]
                total.cost += g.cost
                total.uplift += g.uplift
        return total


def _days(start_day, end_day):
    start = datetime.combine(start_day, datetime.min.time(), tzinfo=UTC)
    return start, datetime.combine(end_day, datetime.min.time(), tzinfo=UTC) + timedelta(days=1)


def daily_usage_by_geo(organization, *, start_day, end_day, workspace_ids=(), models=(), surfaces=(), with_cost=True,
                       book=None):
    """Tokens (and cost) per UTC day and inference geo, `end_day` inclusive. `book` (a PriceBook
    already loaded) saves loading prices again."""
    start, end = _days(start_day, end_day)
    if with_cost and book is None:
        book = PriceBook.load(organization)
    groups = aggregate(organization, width="1d", start=start, end=end, dims=("inference_geo",),
                       workspace_ids=workspace_ids, models=models, surfaces=surfaces,
                       book=book if with_cost else None)
    cells = {(bucket.date(), geo): group for (bucket, geo), group in groups.items()}
    days = [start_day + timedelta(days=i) for i in range((end_day - start_day).days + 1)]
    present = {geo for _, geo in cells}
    geos = [g for g in GEO_ORDER if g in present] + sorted(present - set(GEO_ORDER))
    return DailyUsage(days=days, geos=geos, cells=cells, with_cost=with_cost)


def usage_by_surface(organization, *, start_day, end_day, workspace_ids=(), models=(), surfaces=(), book=None):
    """{surface: Group} over the days `start_day`..`end_day` (inclusive): API and Claude apps usage
    apart (one query; cost when `book` is given)."""
    start, end = _days(start_day, end_day)
    groups = aggregate(organization, width="1d", start=start, end=end, dims=("surface",),
                       workspace_ids=workspace_ids, models=models, surfaces=surfaces, book=book)
    out = defaultdict(Group)
    for (_bucket, surface), group in groups.items():
        total = out[surface]
        total.tokens = [a + b for a, b in zip(total.tokens, group.tokens, strict=True)]
        total.cost += group.cost
        total.uplift += group.uplift
        total.records += group.records
    return dict(out)




# --- the cost of a residency change, before it is made (SPEC §5) -----------------------------

MAX_IMPACT_DAYS = 90


@dataclass(frozen=True)
class Impact:
    starting_at: datetime
    ending_at: datetime
    current: Decimal  # USD
    projected: Decimal  # USD

    def as_json(self):
        return {
            "type": "residency_impact",
            "starting_at": iso(self.starting_at),
            "ending_at": iso(self.ending_at),
            "currency": "USD",
            "current_cost": decimal_str(self.current * HUNDRED) if self.current else "0",
            "projected_cost": decimal_str(self.projected * HUNDRED) if self.projected else "0",
            "delta": decimal_str((self.projected - self.current) * HUNDRED) if self.projected != self.current else "0",
        }


def impact_window(days, now=None):
    """The last `days` whole UTC days, today included: (start, end) with end exclusive."""
    today = floor_bucket(now or timezone.now(), "1d")
    return today - timedelta(days=days - 1), today + timedelta(days=1)


def residency_impact(organization, *, projected_geo, days=30, now=None):
    """What the organization's usage of the last `days` days cost, and what it would have cost
    had a change been in force: `projected_geo(surface, workspace_id, supports_geo, geo)` says
    where a group of tokens would have run (None: where it did). Read from the daily rollups
    (one query, plus the price book's two); older models (no inference_geo support) are priced
    the same either way, and a locked organization's Claude apps usage carries no uplift.
    """
    start, end = impact_window(days, now)
    book = PriceBook.load(organization)
    rows = (UsageRollup.objects.filter(organization_id=organization.pk, width="1d", bucket_start__gte=start,
                                       bucket_start__lt=end)
            .values("surface", "workspace_id", *PRICE_COLUMNS[:3])
            .annotate(**{f"{f}_sum": Sum(f) for f in TOKEN_FIELDS}).order_by())
    current = projected = ZERO
    for row in rows:
        tokens = Tokens(*(int(row[f"{f}_sum"] or 0) for f in TOKEN_FIELDS))
        model, geo, tier, surface = row["model_id"], row["inference_geo"], row["service_tier"], row["surface"]
        cost, _ = book.cost(model, geo, tier, tokens, surface)
        current += cost
        supports = book.supports_geo.get(model, False)
        moved = projected_geo(surface, row["workspace_id"], supports, geo) if supports else None
        projected += book.cost(model, moved, tier, tokens, surface)[0] if moved and moved != geo else cost
    return Impact(start, end, current, projected)
