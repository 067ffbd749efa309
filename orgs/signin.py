"""Sign-in protection (SPEC §6) with django-axes: 10 failed attempts for one account or from one
address lock sign-in, the right password too, for 15 minutes, on the console's `/login/` and the
Django admin's; the lockout is recorded in the audit log of each organization of the account.
These are the callables `AXES_*` settings name, and the receiver of axes' lockout signal."""

from django.conf import settings
from django.shortcuts import render
from django.utils import timezone

from core.actor import Actor, Source, client_ip

from .models import normalize_email
from .services import sign_in_lockout_record


def axes_username(request, credentials=None):
    """One account per email, whatever its case: ANA@acme.test and ana@acme.test count together."""
    value = (credentials or {}).get("username")
    if value is None and request is not None:
        value = request.POST.get("username")
    return normalize_email(value) or None


def axes_client_ip(request):
    """The address the audit log records too: X-Forwarded-For only behind a proxy we run."""
    return client_ip(request) or ""


def lockout_minutes():
    return int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)


def lockout_response(request, original_response=None, credentials=None):
    """The page a locked-out sign-in gets (429), on the console and the Django admin alike."""
    minutes = lockout_minutes()
    return render(request, "registration/locked_out.html", {
        "minutes": minutes, "failure_limit": settings.AXES_FAILURE_LIMIT,
        "until": timezone.now() + settings.AXES_COOLOFF_TIME,
    }, status=429)


def on_user_locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    """Audit the moment of lockout (axes also signals each refused attempt during a lockout when
    it does not extend it; those are not new lockouts and are not recorded again)."""
    failures = getattr(request, "axes_failures_since_start", None)
    if request is None or failures is None or not username:
        return
    source = Source.ADMIN if request.path.startswith("/admin/") else Source.CONSOLE
    actor = Actor(source=source, ip=ip_address or client_ip(request),
                  user_agent=request.META.get("HTTP_USER_AGENT", "")[:500],
                  request_id=getattr(request, "request_id", ""), system_label="Sign-in protection")
    sign_in_lockout_record(actor=actor, email=username, failures=failures, minutes=lockout_minutes())
