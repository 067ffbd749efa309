"""System checks of the project's own settings (`manage.py check`)."""

from django.conf import settings
from django.core.checks import Error, register

from .ratelimit import parse_rate


@register()
def mail_is_configured(app_configs, **kwargs):
    """Production settings need somewhere to send invitations (SPEC §6)."""
    if getattr(settings, "EMAIL_REQUIRED", False) and not (settings.EMAIL_HOST or settings.EMAIL_FILE_PATH):
        return [Error(
            "No mail configuration: invitations and notifications could not be sent.",
            hint="Set EMAIL_HOST (with EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS, "
                 "DEFAULT_FROM_EMAIL) for SMTP, or EMAIL_FILE_PATH to write each message to a folder.",
            id="core.E001",
        )]
    if getattr(settings, "EMAIL_REQUIRED", False) and not settings.CONSOLE_BASE_URL:
        return [Error(
            "CONSOLE_BASE_URL is not set: invitation emails would link to the wrong address.",
            hint="Set CONSOLE_BASE_URL to the console's public address, e.g. https://console.example.com.",
            id="core.E003",
        )]
    return []


@register()
def rate_limits_are_readable(app_configs, **kwargs):
    """A typo in a rate limit is caught at start, not as a 500 on every request."""
    errors = []
    for name in ("API_RATE_LIMIT", "DECISION_RATE_LIMIT"):
        try:
            parse_rate(getattr(settings, name, None))
        except ValueError as exc:
            errors.append(Error(str(exc), hint=f"Fix the {name} environment variable, e.g. 1000/min.", id="core.E002"))
    return errors
