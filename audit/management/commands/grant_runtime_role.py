from django.core.management.base import BaseCommand, CommandError

from audit.roles import RoleError, grant_runtime_role


class Command(BaseCommand):
    help = ("PostgreSQL: give the application's runtime role what it needs and no more (on the audit "
            "table: SELECT and INSERT only). Run as the migration role, after every migrate.")

    def add_arguments(self, parser):
        parser.add_argument("role", help="The runtime role the application connects as.")

    def handle(self, *args, role, **opts):
        try:
            statements = grant_runtime_role(role)
        except RoleError as exc:
            raise CommandError(str(exc))
        for sql in statements:
            self.stdout.write(sql + ";")
        self.stdout.write(self.style.SUCCESS(f"{role}: may read and append the audit log, never change it."))
