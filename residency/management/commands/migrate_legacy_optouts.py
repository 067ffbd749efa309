from django.core.management.base import BaseCommand, CommandError

from core.actor import Actor, Source
from orgs.models import Organization
from residency.services import legacy_optout_migrate

MIGRATION_ACTOR_LABEL = "legacy opt-out migration"


class Command(BaseCommand):
    help = ('Move organizations that opted out of global routing to the new controls: US-only locked on '
            '(legacy_opt_out) and every workspace allowed ["us"], default "us". Safe to re-run.')

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="List what would change; change nothing.")

    def handle(self, *args, **opts):
        dry_run = opts["dry_run"]
        actor = Actor(source=Source.MIGRATION, system_label=MIGRATION_ACTOR_LABEL)
        orgs = list(Organization.objects.filter(legacy_opt_out=True).order_by("name", "pk"))
        if dry_run:
            self.stdout.write("Dry run: nothing will be changed.")
        migrated = unchanged = workspaces = 0
        failed = []
        for index, org in enumerate(orgs, start=1):
            prefix = f"[{index}/{len(orgs)}] {org.name} ({org.pk}): "
            try:
                result = legacy_optout_migrate(actor=actor, organization=org, dry_run=dry_run)
            except Exception as exc:  # one broken organization must not stop the others
                failed.append(org)
                self.stderr.write(f"{prefix}FAILED: {exc}")
                continue
            self.stdout.write(prefix + result.describe())
            if result.changed:
                migrated += 1
                workspaces += len(result.workspace_changes)
            else:
                unchanged += 1
        verb = "would migrate" if dry_run else "migrated"
        summary = (f"{len(orgs)} legacy opt-out organization{'s' if len(orgs) != 1 else ''}: {verb} {migrated} "
                   f"({workspaces} workspace{'s' if workspaces != 1 else ''}), {unchanged} already migrated"
                   + (f", {len(failed)} failed" if failed else "") + ".")
        if failed:
            raise CommandError(summary)
        self.stdout.write(self.style.SUCCESS(summary + (" Dry run: nothing was changed." if dry_run else "")))
