"""The cost of a residency change, as every console confirmation shows it (SPEC §5): "over the last
30 days this would have cost $X more", the period and what is counted; or, for a member without
Billing: view, that the figure needs billing access."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from .. import services
from ..permissions import can_see_cost, can_see_impact
from ..selectors import models_by_rate
from .usage import usd

DAYS = 30
COUNTED = {
    "us_only": "Claude apps usage on {models} and later models, priced in the US if US-only inference routes it "
               "there and in global otherwise. API usage, older models (billed the same wherever they run) and "
               "seat fees are not affected.",
    "data_residency_policy": "API usage of every workspace on {models} and later models: requests that ran "
                             "outside the new policy are priced where it would have sent them (the workspace's "
                             "default if the policy allows it, else the policy's default). Claude apps usage and "
                             "older models are not affected.",
    "workspace": "This workspace's API usage on {models} and later models: requests that ran outside its new "
                 "allowed geos are priced in its new default. Other workspaces, Claude apps usage and older models "
                 "are not affected.",
}


@dataclass(frozen=True)
class ImpactSummary:
    """What a confirmation says about cost; `needs_billing` when the member may not see it."""

    kind: str
    needs_billing: bool = False  # the member may not see the figure: it needs billing access
    needs_privacy_view: bool = False  # ... and Privacy: view (a delegated workspace admin may lack it)
    days: int = DAYS
    first_day: date | None = None
    last_day: date | None = None
    current: Decimal = Decimal(0)
    projected: Decimal = Decimal(0)
    counted: str = ""

    @property
    def delta(self):
        return self.projected - self.current

    @property
    def direction(self):
        return "more" if self.delta > 0 else "less" if self.delta < 0 else "the same"

    @property
    def delta_text(self):
        return usd(abs(self.delta))

    @property
    def current_text(self):
        return usd(self.current)

    @property
    def projected_text(self):
        return usd(self.projected)


def change_impact(request, change):
    """The ImpactSummary of `change` (as `services.residency_impact_estimate` takes it) for this
    member: the figure with Billing: view (and Privacy: view), else only that it needs billing
    access. The change must already be valid (the estimate validates it again)."""
    kind = next(iter(change))
    access = request.access
    if not can_see_impact(access):
        return ImpactSummary(kind, needs_billing=True, needs_privacy_view=can_see_cost(access))
    impact = services.residency_impact_estimate(actor=request.actor, organization=request.access.organization,
                                                change=change, days=DAYS)
    uplift = models_by_rate()[0]
    models = ", ".join(uplift) if uplift else "Claude Opus 4.6, Claude Sonnet 4.6"
    return ImpactSummary(kind, days=DAYS, first_day=impact.starting_at.date(),
                         last_day=(impact.ending_at - timedelta(days=1)).date(), current=impact.current,
                         projected=impact.projected, counted=COUNTED[kind].format(models=models))
