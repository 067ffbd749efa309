"""`{% pending_changes_banner %}`: the banner the Data residency and Overview pages show while a
change request waits for approval (SPEC §8), for members who see change requests (one query)."""

from django import template

from ..approvals import describe_target
from ..permissions import can_see_approvals
from ..selectors import pending_change_requests

register = template.Library()


@register.inclusion_tag("components/pending_changes_banner.html", takes_context=True)
def pending_changes_banner(context):
    access = getattr(context.get("request"), "access", None)
    if access is None or not can_see_approvals(access):
        return {"pending": []}
    return {"pending": [{"cr": cr, "what": describe_target(cr)} for cr in pending_change_requests(access.organization)]}
