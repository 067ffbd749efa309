"""Emails to people (SPEC §6): invitations, membership notices, and notices other apps write
(change requests and residency changes, SPEC §8).

A service calls `queue(...)` inside its transaction: the message is written to
`OutgoingEmail` and sent by `deliver` once that transaction commits, through Django's email
framework (SMTP, a folder of files, or the console: see settings). A failed send never fails
the change: it is logged, kept with its error, and `python manage.py send_pending_email`
sends it again.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from .models import EmailKind, OutgoingEmail
from .tokens import invitation_path

logger = logging.getLogger(__name__)
MAX_ATTEMPTS = 20


def queue(*, kind, user, organization=None, invited_by="", role_name=""):
    """Write the message in the caller's transaction; send it after commit."""
    row = OutgoingEmail.objects.create(kind=kind, user=user, organization=organization,
                                       invited_by=invited_by[:300], role_name=role_name[:100])
    transaction.on_commit(lambda: deliver(row.pk))
    return row


def queue_notice(*, user, organization, subject, body):
    """A message whose text the caller rendered, written in the caller's transaction and sent
    after commit like every other."""
    row = OutgoingEmail.objects.create(kind=EmailKind.NOTICE, user=user, organization=organization,
                                       subject=subject[:300], body=body)
    transaction.on_commit(lambda: deliver(row.pk))
    return row


def describe_delivery():
    """Where mail goes with the current settings, in one sentence (the demo prints it)."""
    if settings.EMAIL_HOST:
        return f"SMTP server {settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
    if settings.EMAIL_FILE_PATH:
        return f"files in {settings.EMAIL_FILE_PATH} (one per message)"
    if settings.EMAIL_BACKEND in ("core.mail.StderrEmailBackend", "django.core.mail.backends.console.EmailBackend"):
        return "this terminal (standard error)"
    return settings.EMAIL_BACKEND


def base_url():
    return settings.CONSOLE_BASE_URL or "http://127.0.0.1:8000"


def render(row):
    """The EmailMessage for an `OutgoingEmail` row. An invitation's link is made now."""
    if row.kind == EmailKind.NOTICE:
        return EmailMessage(subject=row.subject, body=row.body, to=[row.user.email])
    org_name = row.organization.name if row.organization else "Residency Console"
    context = {"row": row, "user": row.user, "organization_name": org_name, "base_url": base_url(),
               "login_url": f"{base_url()}/login/"}
    if row.kind == EmailKind.INVITATION:
        hours = settings.PASSWORD_RESET_TIMEOUT // 3600
        context.update(link=f"{base_url()}{invitation_path(row.user)}", hours=hours,
                       expires_at=timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT))
        subject = f"You are invited to {org_name} on Residency Console"
        template = "email/invitation.txt"
    else:
        subject = f"You were added to {org_name} on Residency Console"
        template = "email/membership_notice.txt"
    return EmailMessage(subject=subject, body=render_to_string(template, context), to=[row.user.email])


def deliver(email_id):
    """Send one pending message; True when sent. Failures are logged and kept for a retry."""
    row = OutgoingEmail.objects.select_related("user", "organization").filter(pk=email_id, sent_at__isnull=True).first()
    if row is None:
        return False
    try:
        render(row).send(fail_silently=False)
    except Exception as exc:  # any transport error: the change stands, the message waits
        logger.exception("Could not send %s email %s to %s; `manage.py send_pending_email` retries it.",
                         row.kind, row.pk, row.user.email)
        OutgoingEmail.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1, last_error=str(exc)[:2000])
        return False
    OutgoingEmail.objects.filter(pk=row.pk).update(sent_at=timezone.now(), attempts=F("attempts") + 1, last_error="")
    return True


def send_pending(*, max_attempts=MAX_ATTEMPTS):
    """Send every message still waiting (oldest first); returns (sent, failed)."""
    sent = failed = 0
    ids = list(OutgoingEmail.objects.filter(sent_at__isnull=True, attempts__lt=max_attempts)
               .order_by("created_at").values_list("pk", flat=True))
    for email_id in ids:
        if deliver(email_id):
            sent += 1
        else:
            failed += 1
    return sent, failed
