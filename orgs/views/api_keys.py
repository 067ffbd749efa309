"""API keys page: create (the secret is shown once), list, revoke."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render

from core.forms import PageForm, add_service_errors, posted

from .. import services
from ..forms import ApiKeyCreateForm
from ..models import Level
from ..permissions import access_api_key, may_change_key, may_create_key_for, sees_all_api_keys
from ..selectors import api_keys_visible_to, members_of
from .base import console_page

KEYS_PER_PAGE = 50


def _create_form(access, data=None):
    # Identity & access: manage may create a key for a member strictly below them (the service
    # decides; the picker offers only those the same rule allows); everyone else for themself.
    members = None
    if access.can("identity_access", Level.MANAGE):
        members = [m for m in members_of(access.organization) if may_create_key_for(access, m)]
    initial = {"user_id": access.membership.user_id} if access.membership else {}
    return ApiKeyCreateForm(data, members=members, initial=initial)


@console_page
def api_keys(request):
    """GET lists the keys the member may see; POST creates one and shows its secret once."""
    access = request.access
    form = _create_form(access, posted(request))
    status = 200
    used = request.session.get("api_key_submissions", [])
    if request.method == "POST" and form.is_valid() and form.cleaned_data["submission"] in used:
        messages.info(request, "That key was already created; its secret was shown once. "
                               "Create a new key if you did not copy it.")
        return redirect("console:api_keys")
    if request.method == "POST" and form.is_valid():
        try:
            key, secret = services.api_key_create(actor=request.actor, organization=access.organization,
                                                  name=form.cleaned_data["name"],
                                                  membership=form.owner(access.membership))
        except ValidationError as exc:
            add_service_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
            status = 403
        else:
            if form.cleaned_data["submission"]:
                request.session["api_key_submissions"] = [*used, form.cleaned_data["submission"]][-20:]
            # Rendered in the POST response, never stored: reloading does not show it again.
            response = render(request, "console/api_keys/created.html", {"key": key, "secret": secret})
            response["Cache-Control"] = "no-store"
            return response
    page = Paginator(api_keys_visible_to(access).order_by("-created_at", "-pk"), KEYS_PER_PAGE).get_page(
        PageForm.number(request.GET))
    rows = [(k, not k.is_archived and may_change_key(access, k)) for k in page.object_list]
    return render(request, "console/api_keys/list.html", {
        "form": form, "page": page, "rows": rows, "sees_all": sees_all_api_keys(access),
    }, status=status)


@console_page
def api_key_revoke(request, key_id):
    access = request.access
    key = access_api_key(access=access, id=key_id, need=Level.MANAGE)
    if request.method == "POST":
        if not key.is_archived:
            services.api_key_revoke(actor=request.actor, api_key=key)
            messages.success(request, f"API key {key.name} is revoked; it stopped working at once.")
        else:
            messages.info(request, f"API key {key.name} was already revoked.")
        return redirect("console:api_keys")
    return render(request, "console/api_keys/revoke.html", {"key": key})
