"""Session guard: idle expiry, and two-factor steps before anything else (SPEC §6)."""

import time
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse

from . import two_factor

TOUCH_SECONDS = 60  # the session's expiry moves forward at most once a minute (one write)
# pages a session with a pending two-factor step may still open
OPEN_PREFIXES = ("/account/two-factor/", "/logout/", "/admin/logout/", "/static/", "/healthz", "/readyz",
                 "/accounts/invitation/", "/v1/")


class SessionGuardMiddleware:
    """For a signed-in session:

    - idle expiry: a session unused for SESSION_IDLE_TIMEOUT seconds is over (the session's
      expiry, SESSION_COOKIE_AGE, is pushed forward at most once a minute, so an active session
      costs one write a minute, not one per request);
    - two-factor: a pending step ("verify" or "enroll", see `orgs.two_factor`) sends every page
      to it first; the step is re-checked at each renewal, so an organization's new requirement
      reaches members who are already signed in within a minute. /v1 refuses such a session in
      `orgs.auth.ConsoleSessionAuthentication`.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.SESSION_COOKIE_NAME in request.COOKIES and request.user.is_authenticated:
            response = self.guard(request)
            if response is not None:
                return response
        return self.get_response(request)

    def guard(self, request):
        session = request.session
        now = int(time.time())
        last = session.get("_last_seen")
        if last is not None and now - last > settings.SESSION_IDLE_TIMEOUT:
            logout(request)
            if request.path.startswith("/v1/"):
                return None  # the API answers its own 401 to a request with no credentials left
            return redirect(f"{reverse('login')}?{urlencode({'next': request.get_full_path(), 'idle': 1})}")
        if last is None or now - last >= TOUCH_SECONDS:
            session["_last_seen"] = now
            two_factor.refresh_state(request)
        step = session.get(two_factor.STATE_KEY)
        if step and not request.path.startswith(OPEN_PREFIXES):
            target = "two_factor_verify" if step == two_factor.VERIFY else "two_factor_setup"
            return redirect(f"{reverse(target)}?{urlencode({'next': request.get_full_path()})}")
        return None

