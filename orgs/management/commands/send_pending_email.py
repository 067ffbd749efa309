from django.core.management.base import BaseCommand

from orgs.mail import MAX_ATTEMPTS, send_pending


class Command(BaseCommand):
    help = "Send again every invitation or notification email whose sending failed (SPEC §6)."

    def add_arguments(self, parser):
        parser.add_argument("--max-attempts", type=int, default=MAX_ATTEMPTS,
                            help=f"Skip messages that already failed this many times (default {MAX_ATTEMPTS}).")

    def handle(self, *args, **opts):
        sent, failed = send_pending(max_attempts=opts["max_attempts"])
        self.stdout.write(f"Sent {sent} pending email(s); {failed} failed again (see the log).")
        if failed:
            raise SystemExit(1)
