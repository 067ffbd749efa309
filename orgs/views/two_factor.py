"""The person's own two-factor sign-in: set up (QR code), sign in with a code, recovery codes,
turn off. Not organization pages: they belong to the account (SPEC §6)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from core.actor import Source, actor_from_request

from .. import services, two_factor
from ..forms import OneTimeCodeForm


def _next(request, default="console:home"):
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                   require_https=request.is_secure()):
        return target
    return default


def _no_store(response):
    response["Cache-Control"] = "no-store"
    return response


@login_required
def status(request):
    device = two_factor.authenticator(request.user)
    return render(request, "account/two_factor.html", {
        "enabled": device is not None,
        "codes_left": two_factor.recovery_codes_left(request.user) if device else 0,
        "required": two_factor.required_for(request.user),
        "form": OneTimeCodeForm(),
    })


@login_required
def setup(request):
    """Step 1: scan the QR code; step 2: type the first code. Then the recovery codes, once."""
    user = request.user
    if two_factor.authenticator(user) is not None:
        messages.info(request, "Two-factor sign-in is already on.")
        return redirect("two_factor")
    device = two_factor.start_enrolment(user)
    form = OneTimeCodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        codes = two_factor.confirm_enrolment(request, device, form.cleaned_data["code"])
        if codes is not None:
            services.two_factor_changed_record(actor=actor_from_request(request, source=Source.CONSOLE),
                                               user=user, enabled=True)
            return _no_store(render(request, "account/recovery_codes.html", {
                "codes": codes, "next": _next(request), "first_time": True}))
        form.add_error("code", "That code is not right: type the 6 digits your app shows now.")
        status = 400
    return _no_store(render(request, "account/two_factor_setup.html", {
        "form": form, "qr": two_factor.qr_svg(device), "secret": two_factor.secret_text(device),
        "required": request.session.get(two_factor.STATE_KEY) == two_factor.ENROLL, "next": _next(request, ""),
    }, status=status))


@login_required
def verify(request):
    """The second step of signing in: a code from the app or a recovery code."""
    if request.session.get(two_factor.STATE_KEY) != two_factor.VERIFY:
        return redirect(_next(request))
    form = OneTimeCodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        device = two_factor.verify(request, form.cleaned_data["code"])
        if device is not None:
            request.session.cycle_key()
            if device.__class__.__name__ == "StaticDevice":
                left = two_factor.recovery_codes_left(request.user)
                messages.warning(request, f"You signed in with a recovery code; {left} left. "
                                          "Make new ones on the Two-factor sign-in page if you run low.")
            return redirect(_next(request))
        form.add_error("code", "That code is not right, or too many wrong codes were tried: wait a moment and "
                               "type the code your app shows now, or a recovery code.")
        status = 400
    return render(request, "account/two_factor_verify.html", {"form": form, "next": _next(request, "")},
                  status=status)


@login_required
@require_POST
def recovery_codes(request):
    """New recovery codes (the old ones stop working); needs a code from the app."""
    form = OneTimeCodeForm(request.POST)
    device = two_factor.authenticator(request.user)
    if device is None:
        return redirect("two_factor")
    if not form.is_valid() or not device.verify_token(form.cleaned_data["code"].replace(" ", "")):
        messages.error(request, "New recovery codes need a current code from your authenticator app.")
        return redirect("two_factor")
    return _no_store(render(request, "account/recovery_codes.html", {
        "codes": two_factor.new_recovery_codes(request.user), "next": "", "first_time": False}))


@login_required
@require_POST
def turn_off(request):
    """Turn two-factor off: needs a current code, and is refused while an organization requires it."""
    if two_factor.required_for(request.user):
        messages.error(request, "An organization you manage requires two-factor sign-in; it cannot be turned off.")
        return redirect("two_factor")
    form = OneTimeCodeForm(request.POST)
    device = two_factor.authenticator(request.user)
    if device is None or not form.is_valid() or not device.verify_token(form.cleaned_data["code"].replace(" ", "")):
        messages.error(request, "Turning two-factor sign-in off needs a current code from your authenticator app.")
        return redirect("two_factor")
    two_factor.turn_off(request.user)
    services.two_factor_changed_record(actor=actor_from_request(request, source=Source.CONSOLE),
                                       user=request.user, enabled=False)
    messages.success(request, "Two-factor sign-in is off.")
    return redirect("two_factor")
