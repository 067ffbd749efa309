"""Who is doing something, from where: every service takes one as `actor`."""

from dataclasses import dataclass, field
from typing import Any

SOURCE_CONSOLE = "console"
SOURCE_REST = "rest"
SOURCE_ADMIN = "admin"
SOURCE_COMMAND = "command"
SOURCE_MIGRATION = "migration"
SOURCES = (SOURCE_CONSOLE, SOURCE_REST, SOURCE_ADMIN, SOURCE_COMMAND, SOURCE_MIGRATION)


@dataclass
class Actor:
    """A user (optionally through one of their API keys) or the system itself.

    `membership` is the actor's membership in the organization being acted on, when known;
    services reload it when they need the current role (never trust a stale one).
    """

    user: Any = None
    api_key: Any = None
    source: str = SOURCE_COMMAND
    ip: str | None = None
    user_agent: str = ""
    request_id: str = ""
    system_label: str = ""
    staff: bool = False
    extra: dict = field(default_factory=dict)

    @property
    def is_system(self):
        return self.user is None

    @property
    def label(self):
        if self.api_key is not None:
            return f"API key {self.api_key.name}"
        if self.user is not None:
            return self.user.display_name
        return self.system_label or "system"

    @classmethod
    def system(cls, label, *, source=SOURCE_COMMAND):
        return cls(source=source, system_label=label)


def client_ip(request):
    # Behind a load balancer REMOTE_ADDR is the balancer; trust the first forwarded hop only
    # when the deployment says so.
    from django.conf import settings

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
        staff=bool(user and user.is_staff),
    )
