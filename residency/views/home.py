"""The console's Overview page: a residency dashboard (SPEC §5). Each panel shows to those who may
see what it shows, decided by the same permission helpers that guard the pages it links: the Claude
apps setting, the organization policy and the workspaces outside it or able to route outside the US,
a legacy opt-out still waiting for its migration, spend by geo this month, and recent residency
changes."""

from datetime import UTC, datetime

from django.shortcuts import render

from audit.permissions import can_read_audit_log
from orgs.views.base import console_page

from ..permissions import can_see_cost, can_see_inference_residency, can_see_residency_policy
from ..reports import daily_usage_by_geo
from ..selectors import legacy_migration_pending, policy_state, residency_history, workspaces_routing_outside
from .usage import GEO_LABELS, usd


@console_page
def home(request):
    access = request.access
    org = access.organization
    context = {"membership": access.membership, "levels": access.levels(),
               "apps": can_see_inference_residency(access)}
    if can_see_residency_policy(access):
        state = policy_state(org)
        outside_us, live = workspaces_routing_outside(org, state.info)
        context.update(policy=state, outside_us=outside_us, live_workspaces=live,
                       legacy_pending=legacy_migration_pending(org, state.row))
    if can_see_cost(access):
        context["spend"] = _spend_this_month(org)
    if can_read_audit_log(access):
        context["history"] = residency_history(org, limit=8)
    return render(request, "console/home.html", context)


def _spend_this_month(organization):
    """Cost by inference geo from the first of this month (UTC) to today, from the daily rollups."""
    today = datetime.now(UTC).date()
    first = today.replace(day=1)
    data = daily_usage_by_geo(organization, start_day=first, end_day=today, with_cost=True)
    rows = []
    for geo in data.geos:
        total = data.geo_total(geo)
        rows.append({"geo": geo, "label": GEO_LABELS.get(geo, geo), "cost": usd(total.cost),
                     "uplift": usd(total.uplift) if total.uplift else None, "tokens": sum(total.tokens)})
    all_cost = sum((data.geo_total(g).cost for g in data.geos), 0)
    return {"first": first, "today": today, "rows": rows, "total": usd(all_cost)}
