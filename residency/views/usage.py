"""Console page: usage and cost by day, stacked by inference geo, with a table and CSV."""

import csv
from decimal import Decimal
from urllib.parse import urlencode

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from orgs.views.base import console_page

from .. import selectors
from ..charts import NARROW, compact, stacked_bars
from ..forms import UsageFilterForm
from ..models import Surface
from ..permissions import can_see_cost, require_usage_view
from ..policy import decimal_str
from ..reports import PriceBook, daily_usage_by_geo, usage_by_surface

GEO_LABELS = {"global": "global", "us": "us", "not_available": "not available (older models)"}
CENT = Decimal("0.01")


def usd(value):
    value = Decimal(value)
    if value and abs(value) < CENT:
        return "<$0.01"
    return f"${value.quantize(CENT):,}"


@console_page
@require_GET
def usage(request):
    """Billing or Analytics view; cost figures need Billing view."""
    access = request.access
    require_usage_view(access)
    organization = access.organization
    with_cost = can_see_cost(access)
    workspaces = selectors.workspaces_of(organization)
    models = selectors.catalog_models()
    # by default the period starts at the first day with usage in the last 30 days, so a young
    # organization's chart is not half empty
    form = UsageFilterForm(request.GET, workspaces=workspaces, models=models,
                           first_usage_day=selectors.first_usage_day(organization, UsageFilterForm.DEFAULT_DAYS))
    if not form.is_valid():
        # only the errors: no figures for a period or filter that does not make sense
        return render(request, "console/usage.html", {"form": form, "data": None, "with_cost": with_cost})
    start, end = form.cleaned_data["from"], form.cleaned_data["to"]
    workspace, model, surface = form.cleaned_data["workspace"], form.cleaned_data["model"], form.cleaned_data["surface"]
    filters = {"workspace_ids": (workspace,) if workspace else (), "models": (model,) if model else (),
               "surfaces": (surface,) if surface else ()}
    book = PriceBook.load(organization) if with_cost else None
    data = daily_usage_by_geo(organization, start_day=start, end_day=end, with_cost=with_cost, book=book, **filters)
    if form.cleaned_data["format"] == "csv":
        return _csv(organization, data, start, end)
    by_surface = usage_by_surface(organization, start_day=start, end_day=end, book=book, **filters)
    us_multiplier = selectors.geo_multiplier("us")
    table, charts, shares = [], {}, []
    if not data.empty:
        series = [(g, GEO_LABELS.get(g, g)) for g in data.geos]
        labels = [f"{d:%b %-d}" for d in data.days]

        def tokens_of(day, geo):
            cell = data.cells.get((day, geo))
            return sum(cell.tokens) if cell else 0

        tokens_chart = {"title": "Tokens per day by inference geo", "categories": data.days,
                        "category_labels": labels, "series": series, "value": tokens_of}
        charts["tokens"] = stacked_bars(**tokens_chart, chart_id="tokens")
        charts["tokens_narrow"] = stacked_bars(**tokens_chart, chart_id="tokens-narrow", **NARROW)
        if with_cost:
            def cost_of(day, geo):
                cell = data.cells.get((day, geo))
                return cell.cost if cell else 0

            cost_chart = {"title": "Cost per day by inference geo (USD)", "categories": data.days,
                          "category_labels": labels, "series": series, "value": cost_of, "fmt": usd,
                          "axis_fmt": lambda v: "$" + compact(v)}
            charts["cost"] = stacked_bars(**cost_chart, chart_id="cost")
            charts["cost_narrow"] = stacked_bars(**cost_chart, chart_id="cost-narrow", **NARROW)
        for day in reversed(data.days):
            total = data.day_total(day)
            if not sum(total.tokens):
                continue
            cells = [data.cells.get((day, g)) for g in data.geos]
            table.append({
                "day": day,
                "tokens": [sum(c.tokens) if c else 0 for c in cells],
                "total_tokens": sum(total.tokens),
                "costs": [usd(c.cost) if c else "$0.00" for c in cells],
                "total_cost": usd(total.cost),
            })
        all_tokens = sum(sum(data.geo_total(g).tokens) for g in data.geos)
        all_cost = sum((data.geo_total(g).cost for g in data.geos), Decimal(0))
        for g in data.geos:
            total = data.geo_total(g)
            shares.append({
                "geo": g, "label": GEO_LABELS.get(g, g),
                "tokens": sum(total.tokens),
                "token_share": round(100 * sum(total.tokens) / all_tokens, 1) if all_tokens else 0,
                "cost": usd(total.cost),
                "cost_share": round(100 * total.cost / all_cost, 1) if all_cost else 0,
                "uplift": usd(total.uplift) if total.uplift else None,
            })
    surfaces = _surface_rows(by_surface)
    return render(request, "console/usage.html", {
        "data": data, "charts": charts, "table": table, "shares": shares, "with_cost": with_cost,
        "surfaces": surfaces,
        "geo_labels": [GEO_LABELS.get(g, g) for g in data.geos],
        "form": form, "filtered": bool(workspace or model or surface),
        "query": urlencode({k: v for k, v in [("from", start.isoformat()), ("to", end.isoformat()),
                                                ("workspace", workspace), ("model", model), ("surface", surface)]
                            if v}),
        "us_multiplier": decimal_str(us_multiplier) if us_multiplier is not None else "1.1",
    })


def _surface_rows(by_surface):
    """API and Claude apps side by side, each with its share of tokens and cost."""
    all_tokens = sum(sum(g.tokens) for g in by_surface.values())
    all_cost = sum((g.cost for g in by_surface.values()), Decimal(0))
    rows = []
    for value, label in Surface.choices:
        group = by_surface.get(value)
        if group is None:
            continue
        tokens = sum(group.tokens)
        rows.append({
            "surface": value, "label": label, "tokens": tokens,
            "token_share": round(100 * tokens / all_tokens, 1) if all_tokens else 0,
            "cost": usd(group.cost), "cost_share": round(100 * group.cost / all_cost, 1) if all_cost else 0,
            "uplift": usd(group.uplift) if group.uplift else None,
        })
    return rows


def _csv(organization, data, start, end):
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="usage-{organization.pk}-{start:%Y%m%d}-{end:%Y%m%d}.csv"'
    )
    writer = csv.writer(response)
    header = ["date", "inference_geo", "uncached_input_tokens", "cache_creation_5m_input_tokens",
              "cache_creation_1h_input_tokens", "cache_read_input_tokens", "output_tokens"]
    if data.with_cost:
        header += ["cost_usd_cents", "residency_uplift_usd_cents"]
    writer.writerow(header)
    for day in data.days:
        for geo in data.geos:
            cell = data.cells.get((day, geo))
            if cell is None:
                continue
            row = [day.isoformat(), geo, *cell.tokens]
            if data.with_cost:
                row += [decimal_str(cell.cost * 100), decimal_str(cell.uplift * 100)]
            writer.writerow(row)
    return response
