from django import template

from orgs.models import AREA_LABELS, Level, permission_label
from orgs.selectors import memberships_for_user

register = template.Library()


@register.simple_tag(takes_context=True)
def user_memberships(context):
    request = context["request"]
    if not request.user.is_authenticated:
        return []
    return memberships_for_user(request.user)


@register.filter
def level_label(level):
    return dict(Level.choices).get(level, level)


@register.simple_tag
def permission(area, level):
    """{% permission "privacy" "manage" %} → Privacy: Can manage (orgs.models.permission_label)."""
    return permission_label(area, level)


@register.filter
def area_label(area):
    return AREA_LABELS.get(area, area)
