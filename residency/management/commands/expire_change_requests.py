"""`python manage.py expire_change_requests`: expire every pending change request older than 72
hours, in every organization (SPEC §8), each one audited and emailed. Run it from cron (every few
minutes); reading change requests expires them lazily too, so it is a backstop, not a
requirement."""

from django.core.management.base import BaseCommand

from residency.services import change_requests_expire


class Command(BaseCommand):
    help = "Expire pending change requests older than 72 hours (audited, emailed)."

    def handle(self, *args, **options):
        count = change_requests_expire()
        self.stdout.write(f"Expired {count} change request{'s' if count != 1 else ''}.")
