"""Two-factor sign-in (SPEC §6) with django-otp: an authenticator app (TOTP) and single-use
recovery codes, for everyone; an organization's primary owner can require it of members who
hold `manage` on any area.

A session is in one of three states, kept in the session (`STATE_KEY`) from sign-in and
re-checked at most once a minute (`orgs.middleware.SessionGuardMiddleware`):
- done (no key): nothing pending;
- "verify": the person has an authenticator but this session has not given a code yet;
- "enroll": an organization requires two-factor of them and they have none yet.
While a step is pending, every page sends them to it first, and the REST API refuses the session.
"""

import time
from base64 import b32encode

import segno
from django.db import transaction
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import Level, OrganizationUserObjectPermission

STATE_KEY = "two_factor"
VERIFY, ENROLL = "verify", "enroll"
RECOVERY_CODES = 10
DEVICE_NAME = "Authenticator app"


def required_for(user):
    """Whether an organization requires two-factor of `user`: they hold `manage` on any area of
    an organization that has the requirement on (one query)."""
    return OrganizationUserObjectPermission.objects.filter(
        user_id=user.pk, content_object__require_two_factor=True,
        permission__codename__startswith=f"{Level.MANAGE}_",
    ).exists()


def authenticator(user):
    """The person's confirmed authenticator (TOTP device), or None."""
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).first()


def session_verified(request):
    return bool(request.session.get(DEVICE_ID_SESSION_KEY)) and getattr(request.user, "is_verified", lambda: False)()


def pending_step(request, user=None):
    """VERIFY, ENROLL or None for this signed-in session."""
    user = user or request.user
    if session_verified(request):
        return None
    if TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists():
        return VERIFY
    if required_for(user):
        return ENROLL
    return None


def refresh_state(request, user=None):
    step = pending_step(request, user)
    if step:
        request.session[STATE_KEY] = step
    else:
        request.session.pop(STATE_KEY, None)
    return step


def on_user_logged_in(sender, request=None, user=None, **kwargs):
    """After the password step: decide at once whether a code or an enrolment comes next."""
    if request is None or not hasattr(request, "session"):
        return
    request.session["_last_seen"] = int(time.time())
    if getattr(user, "otp_device", None) is not None:  # signed in with a code already
        request.session.pop(STATE_KEY, None)
        return
    step = VERIFY if TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists() else (
        ENROLL if required_for(user) else None)
    if step:
        request.session[STATE_KEY] = step
    else:
        request.session.pop(STATE_KEY, None)


def start_enrolment(user):
    """The person's unconfirmed authenticator being set up (created on first call)."""
    device = TOTPDevice.objects.filter(user_id=user.pk, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def qr_svg(device):
    """The enrolment QR code as inline SVG markup (no script, no inline style)."""
    return segno.make(device.config_url, error="m").svg_inline(scale=5, border=2, dark="#111", light="#fff")


def secret_text(device):
    """The key in base32, grouped by four, for typing into an app by hand."""
    raw = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(raw[i:i + 4] for i in range(0, len(raw), 4))


def new_recovery_codes(user):
    """Replace the person's recovery codes with RECOVERY_CODES new ones; returns them (shown once)."""
    with transaction.atomic():
        device, _ = StaticDevice.objects.get_or_create(user=user, name="Recovery codes", defaults={"confirmed": True})
        device.token_set.all().delete()
        codes = [StaticToken.random_token() for _ in range(RECOVERY_CODES)]
        StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def confirm_enrolment(request, device, token):
    """Check the first code from the app; on success the authenticator is on, this session is
    verified, and recovery codes are returned (shown once). None when the code is wrong."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
        if not device.verify_token(_clean(token)):
            return None
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user_id=device.user_id).exclude(pk=device.pk).delete()
    codes = new_recovery_codes(device.user)
    otp_login(request, device)
    request.session.pop(STATE_KEY, None)
    return codes


def verify(request, token):
    """Check a code from the app or a recovery code (used up); on success the session is verified."""
    token = _clean(token)
    user = request.user
    # a 6-digit code is for the app, anything else a recovery code: a typo of one never counts
    # against the other's throttle (each device slows down after failures, django-otp)
    model = TOTPDevice if token.isdigit() and len(token) <= 8 else StaticDevice
    devices = list(model.objects.filter(user_id=user.pk, confirmed=True))
    for device in devices:
        with transaction.atomic():
            locked = type(device).objects.select_for_update().get(pk=device.pk)
            allowed, _ = locked.verify_is_allowed()
            if allowed and locked.verify_token(token):
                otp_login(request, locked)
                request.session.pop(STATE_KEY, None)
                return locked
    return None


def turn_off(user):
    """Remove the person's authenticator and recovery codes."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user_id=user.pk).delete()
        StaticDevice.objects.filter(user_id=user.pk).delete()


def recovery_codes_left(user):
    return StaticToken.objects.filter(device__user_id=user.pk).count()


def _clean(token):
    return "".join((token or "").split()).lower()
