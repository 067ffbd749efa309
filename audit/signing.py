"""Where checkpoints and their keys are, from settings (SPEC §7).

- `AUDIT_CHECKPOINT_DIR`: the folder of checkpoint files (one subfolder per organization).
- `AUDIT_SIGNING_KEY`: the PEM file of the Ed25519 private key that signs them (only the host
  that runs `audit_checkpoint` needs it).
- `AUDIT_PUBLIC_KEY`: the PEM file of its public half, for hosts that only verify (web servers,
  auditors); when unset, verifiers take the public half of `AUDIT_SIGNING_KEY`.
Outside production settings (`AUDIT_DEVELOPMENT_KEY_ALLOWED`), with no key configured, a
development key is created in the checkpoint folder, and said so: whoever can write that folder
could forge checkpoints, so production settings refuse to.
"""

import os
from pathlib import Path

from django.conf import settings

from . import checkpoints as signed


class SigningKeyMissing(Exception):
    pass


def checkpoint_dir():
    return Path(settings.AUDIT_CHECKPOINT_DIR)


def development_key_path():
    return checkpoint_dir() / signed.DEVELOPMENT_KEY_NAME


def development_keys_allowed():
    return bool(getattr(settings, "AUDIT_DEVELOPMENT_KEY_ALLOWED", False))


def write_private_key(path):
    """A new Ed25519 private key in PEM at `path`, readable by its owner only."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(signed.generate_private_key_pem())
    return path


def signing_key(*, create=True):
    """(private key, note): the configured key, or the development key (created when missing
    and allowed; the note says so). Raises SigningKeyMissing under production settings."""
    if settings.AUDIT_SIGNING_KEY:
        return signed.load_private_key(settings.AUDIT_SIGNING_KEY), ""
    if not development_keys_allowed():
        raise SigningKeyMissing(
            "AUDIT_SIGNING_KEY is not set, and production settings never create a signing key. Create one on "
            "the host that signs checkpoints (python manage.py audit_checkpoint --generate-key /etc/residency/"
            "audit-signing-key.pem), keep it where the database's writers cannot read or write it, and set "
            "AUDIT_SIGNING_KEY to its path (README: Audit checkpoints).")
    path = development_key_path()
    if path.exists():
        return signed.load_private_key(path), f"Using the development signing key {path} (AUDIT_SIGNING_KEY is not set)."
    if not create:
        raise SigningKeyMissing("No signing key: AUDIT_SIGNING_KEY is not set and there is no development key yet.")
    write_private_key(path)
    return signed.load_private_key(path), (
        f"AUDIT_SIGNING_KEY is not set: created a development signing key at {path}. For development only: "
        "whoever can write that folder could forge checkpoints. Production needs AUDIT_SIGNING_KEY.")


def verify_key(path=None):
    """The public key verifiers trust: `path` if given, else AUDIT_PUBLIC_KEY, else the public
    half of AUDIT_SIGNING_KEY, else (outside production) the development key; None if none."""
    if path:
        return signed.load_public_key(path)
    if getattr(settings, "AUDIT_PUBLIC_KEY", None):
        return signed.load_public_key(settings.AUDIT_PUBLIC_KEY)
    if settings.AUDIT_SIGNING_KEY:
        return signed.load_public_key(settings.AUDIT_SIGNING_KEY)
    if development_keys_allowed() and development_key_path().exists():
        return signed.load_public_key(development_key_path())
    return None


def newest_checkpoint(organization_id):
    """(checkpoint or None, problem or "") for the console's integrity panel: the newest file
    of the organization, its signature checked with the configured public key."""
    path = signed.newest_file(checkpoint_dir(), organization_id)
    if path is None:
        return None, ""
    checkpoint, problem = signed.parse(path)
    if checkpoint is None:
        return None, f"{path.name}: {problem}"
    try:
        key = verify_key()
    except signed.KeyFileError as exc:
        return checkpoint, str(exc)
    problem = signed.verify(key, checkpoint) if checkpoint.organization_id == organization_id else \
        f"signed for organization {checkpoint.organization_id}"
    return checkpoint, problem or ""
