from django import template

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
    return {"none": "No access", "view": "Can view", "manage": "Can manage"}.get(level, level)


@register.filter
def area_label(area):
    from orgs.models import AREA_LABELS

    return AREA_LABELS.get(area, area)
