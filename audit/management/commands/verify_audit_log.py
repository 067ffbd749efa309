"""`verify_audit_log` (SPEC §4, §7): check every organization's audit chain in the database
against its head and the signed checkpoints, or (`--export`) an exported chain with no
database at all. Exit 0 with a summary when everything holds; otherwise print every bad record
and exit non-zero."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit import checkpoints as signed


class Command(BaseCommand):
    help = ("Verify the audit hash chains and their signed checkpoints: exit 0 if intact, non-zero naming "
            "every bad record. With --export, verify an exported chain offline (no database).")
    # no system checks: offline verification must work without a reachable database
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--organization", help="Verify only this organization id.")
        parser.add_argument("--export", metavar="FILE",
                            help="Verify this JSON export (GET /v1/organizations/audit_events?format=json) "
                                 "instead of the database.")
        parser.add_argument("--checkpoints", metavar="DIR",
                            help="Checkpoint folder (default: AUDIT_CHECKPOINT_DIR; required with --export).")
        parser.add_argument("--public-key", metavar="PEM",
                            help="Trust checkpoints signed by this public key only (default: AUDIT_PUBLIC_KEY, "
                                 "else the public half of AUDIT_SIGNING_KEY).")

    def handle(self, *args, **opts):
        if opts["export"]:
            return self.offline(opts)
        return self.database(opts)

    def report(self, reports):
        bad, total = [], 0
        for report in reports:
            total += report.count
            for text in report.lines():
                self.stdout.write(text)
            if not report.ok:
                bad.append(report)
        if bad:
            faults = sum(r.fault_count for r in bad)
            raise CommandError(f"Audit chain broken: {faults} bad record{'s' if faults != 1 else ''} in "
                               f"{', '.join(r.organization_id for r in bad)} (each named above).")
        return total

    def offline(self, opts):
        from audit.offline import verify_export

        export = Path(opts["export"])
        if not export.is_file():
            raise CommandError(f"No export file {export}.")
        if not opts["checkpoints"] or not opts["public_key"]:
            raise CommandError("Offline verification needs --checkpoints DIR and --public-key PEM: without the "
                               "signed checkpoints, a shortened or re-hashed export cannot be told from the real one.")
        try:
            key = signed.load_public_key(opts["public_key"])
        except signed.KeyFileError as exc:
            raise CommandError(str(exc))
        if not Path(opts["checkpoints"]).is_dir():
            raise CommandError(f"No checkpoint folder {opts['checkpoints']}.")
        reports = verify_export(export, opts["checkpoints"], key)
        if opts["organization"]:
            reports = [r for r in reports if r.organization_id == opts["organization"]]
        if not reports:
            raise CommandError(f"{export} holds no audit events" + (
                f" of organization {opts['organization']}." if opts["organization"] else "."))
        total = self.report(reports)
        self.stdout.write(self.style.SUCCESS(
            f"OK: {total} exported audit events verified offline (key {signed.key_id(key)}), every chain intact "
            "and every signed checkpoint found."))

    def database(self, opts):
        from audit.chain import verify_chain
        from audit.models import ChainHead
        from audit.signing import checkpoint_dir, verify_key

        directory = Path(opts["checkpoints"]) if opts["checkpoints"] else checkpoint_dir()
        try:
            key = verify_key(opts["public_key"])
        except signed.KeyFileError as exc:
            raise CommandError(str(exc))
        # every organization has a chain head from its first record (its creation); an
        # organization with checkpoints but no head (removed?) is verified too
        org_ids = list(ChainHead.objects.order_by("organization__created_at", "pk").values_list("pk", flat=True))
        org_ids += [o for o in signed.organization_folders(directory) if o not in set(org_ids)]
        if opts["organization"]:
            if opts["organization"] not in org_ids:
                raise CommandError(f"No organization with id {opts['organization']!r}.")
            org_ids = [opts["organization"]]
        reports, found = [], 0
        for org_id in org_ids:
            loaded = signed.load(directory, org_id, key)
            found += len(loaded.valid) + len(loaded.invalid)
            reports.append(verify_chain(org_id, checkpoints=loaded))
        total = self.report(reports)
        if found:
            checked = f"{sum(r.checkpoints for r in reports)} signed checkpoints in {directory} hold " \
                      f"(key {signed.key_id(key)})"
        else:
            checked = f"no checkpoints in {directory}: run audit_checkpoint so truncation or re-hashing is caught"
        self.stdout.write(self.style.SUCCESS(f"OK: {total} audit events verified, every chain intact; {checked}."))
