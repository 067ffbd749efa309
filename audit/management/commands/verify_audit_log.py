from django.core.management.base import BaseCommand, CommandError

from audit.chain import verify_chain
from audit.models import ChainHead


class Command(BaseCommand):
    help = "Verify the audit hash chain: exit 0 if intact, non-zero naming the first bad record."

    def add_arguments(self, parser):
        parser.add_argument("--organization", help="Verify only this organization id.")

    def handle(self, *args, **opts):
        # every organization has a chain head from its first record (its creation)
        org_ids = ChainHead.objects.order_by("organization__created_at", "pk").values_list("pk", flat=True)
        if opts["organization"]:
            org_ids = org_ids.filter(pk=opts["organization"])
            if not org_ids.exists():
                raise CommandError(f"No organization with id {opts['organization']!r}.")
        total = 0
        for org_id in org_ids.iterator():
            report = verify_chain(org_id)
            total += report.count
            if not report.ok:
                raise CommandError(f"Audit chain broken: {report.summary}")
            self.stdout.write(report.summary)
        self.stdout.write(self.style.SUCCESS(f"OK: {total} audit events verified, every chain intact."))
