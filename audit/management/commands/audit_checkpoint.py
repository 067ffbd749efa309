"""`audit_checkpoint` (SPEC §4, §7): sign each organization's current chain head.

For each organization whose chain moved since its newest checkpoint, the records after that
checkpoint are verified first (all of them when there is none): a chain that does not verify
is not signed, and the command exits non-zero naming its bad records. Then (seq, hash) of the
head is signed with Ed25519 and written as one file in AUDIT_CHECKPOINT_DIR/<organization>/.
Run it from cron or a systemd timer (README: Audit checkpoints).
"""


from django.core.management.base import BaseCommand, CommandError

from audit import checkpoints as signed
from audit.chain import verify_chain
from audit.models import AuditEvent, ChainHead
from audit.signing import SigningKeyMissing, checkpoint_dir, signing_key, write_private_key


class Command(BaseCommand):
    help = "Sign and store a checkpoint of every organization's audit chain (Ed25519)."

    def add_arguments(self, parser):
        parser.add_argument("--organization", help="Only this organization id.")
        parser.add_argument("--public-key", action="store_true",
                            help="Print the signing key's public half (PEM) for verifiers, and sign nothing.")
        parser.add_argument("--generate-key", metavar="PATH",
                            help="Write a new Ed25519 private key (PEM, mode 0600) to PATH, and sign nothing.")

    def handle(self, *args, **opts):
        if opts["generate_key"]:
            try:
                path = write_private_key(opts["generate_key"])
            except FileExistsError:
                raise CommandError(f"{opts['generate_key']} exists; a signing key is never overwritten.")
            key = signed.load_private_key(path)
            self.stdout.write(f"Wrote a new signing key to {path} (key id {signed.key_id(key.public_key())}). "
                              "Set AUDIT_SIGNING_KEY to it on the signing host only.")
            return
        try:
            key, note = signing_key()
        except SigningKeyMissing as exc:
            raise CommandError(str(exc))
        except signed.KeyFileError as exc:
            raise CommandError(str(exc))
        if note:
            self.stderr.write(note)
        public = key.public_key()
        if opts["public_key"]:
            self.stdout.write(signed.public_pem(public), ending="")
            return
        self.check_public_key(public)
        directory = checkpoint_dir()
        heads = ChainHead.objects.order_by("organization__created_at", "pk").values_list("pk", "seq", "hash")
        if opts["organization"]:
            heads = heads.filter(pk=opts["organization"])
            if not heads.exists():
                raise CommandError(f"No organization with id {opts['organization']!r}.")
        failed = []
        for org_id, seq, head_hash in heads.iterator():
            if not self.checkpoint(directory, key, org_id, seq, head_hash):
                failed.append(org_id)
        if failed:
            raise CommandError(f"Not signed: the audit chain of {', '.join(failed)} does not verify (named above).")

    def check_public_key(self, public):
        from audit.signing import verify_key

        configured = verify_key()
        if configured is not None and signed.key_id(configured) != signed.key_id(public):
            raise CommandError(f"AUDIT_PUBLIC_KEY (key id {signed.key_id(configured)}) is not the public half of "
                               f"the signing key (key id {signed.key_id(public)}); verifiers would reject every "
                               "checkpoint. Fix one of them.")

    def checkpoint(self, directory, key, org_id, seq, head_hash):
        """Verify what is new since the newest valid checkpoint, then sign the head. True if fine."""
        loaded = signed.load(directory, org_id, key.public_key())
        for path, _seq, problem in loaded.invalid:
            self.stderr.write(f"{org_id}: {path}: {problem}")
        newest = loaded.newest
        if seq == 0:
            return True
        if newest is not None and (newest.seq, newest.hash) == (seq, head_hash):
            self.stdout.write(f"{org_id}: unchanged since checkpoint #{seq} ({newest.created_at})")
            return not loaded.invalid
        since = None
        if newest is not None:
            held = AuditEvent.objects.filter(organization_id=org_id, seq=newest.seq).values_list("hash", flat=True)
            if list(held) != [newest.hash] or newest.seq > seq:
                self.stdout.write(f"{org_id}: record #{newest.seq} no longer holds the hash signed in "
                                  f"{newest.label}: history before the checkpoint was rewritten or removed")
                return False
            since = (newest.seq, newest.hash)
        report = verify_chain(org_id, since=since)
        if not report.ok:
            for text in report.lines():
                self.stdout.write(text)
            return False
        checkpoint = signed.sign(key, org_id, report.head[0], report.head[1])
        path = signed.write(directory, checkpoint)
        self.stdout.write(f"{org_id}: signed #{checkpoint.seq} ({checkpoint.hash[:16]}…) → {path}")
        return not loaded.invalid


