"""Who is doing something, from where: every service takes one as `actor`."""

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import models


class Source(models.TextChoices):
    """Where a change came from (recorded on every audit event)."""

    CONSOLE = "console", "console"
    REST = "rest", "REST API"
    ADMIN = "admin", "Django admin"
    COMMAND = "command", "command line"
    MIGRATION = "migration", "migration"


@dataclass
class Actor:
    """A user (optionally through one of their API keys) or the system itself.

    Services reload what they need about the user (their current role) from the database;
    nothing here is trusted to be current.
    """

    user: Any = None
    api_key: Any = None
    source: str = Source.COMMAND
    ip: str | None = None
    user_agent: str = ""
    request_id: str = ""
    system_label: str = ""

    @property
    def label(self):
        if self.api_key is not None:
            return f"API key {self.api_key.name}"
        if self.user is not None:
            return self.user.display_name
        return self.system_label or "system"

    @property
    def is_platform_staff(self):
        """A superuser acting through the Django admin: platform staff, not a member."""
        return self.user is not None and self.source == Source.ADMIN and self.user.is_superuser

    @classmethod
    def system(cls, label, *, source=Source.COMMAND):
        return cls(source=source, system_label=label)


def client_ip(request):
    # Behind a load balancer REMOTE_ADDR is the balancer; trust the first forwarded hop only
    # when the deployment says so.
    if getattr(settings, "TRUST_X_FORWARDED_FOR", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR")


def actor_from_request(request, *, source):
    user = getattr(request, "user", None)
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    return Actor(
        user=user,
        api_key=getattr(request, "api_key", None),
        source=source,
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:500],
        request_id=getattr(request, "request_id", ""),
    )
