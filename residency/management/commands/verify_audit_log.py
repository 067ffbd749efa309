from django.core.management.base import BaseCommand, CommandError

from orgs.models import Organization
from residency.audit import verify_chain


class Command(BaseCommand):
    help = "Verify the audit hash chain: exit 0 if intact, non-zero naming the first bad record."

    def add_arguments(self, parser):
        parser.add_argument("--organization", help="Verify only this organization id.")

    def handle(self, *args, **opts):
        orgs = Organization.objects.order_by("created_at", "pk")
        if opts["organization"]:
            orgs = orgs.filter(pk=opts["organization"])
            if not orgs.exists():
                raise CommandError(f"No organization with id {opts['organization']!r}.")
        total = 0
        for org in orgs.iterator():
            report = verify_chain(org)
            total += report.count
            if not report.ok:
                raise CommandError(f"Audit chain broken: {report.summary}")
            self.stdout.write(report.summary)
        self.stdout.write(self.style.SUCCESS(f"OK: {total} audit events verified, every chain intact."))
