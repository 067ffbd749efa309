"""Signed checkpoints of audit chains (SPEC §7): files, keys, signatures. Pure Python with
`cryptography` (Ed25519): no Django, so the offline verifier needs only the files and the
public key.

A checkpoint says "organization O's chain held record #seq with hash H at time T", signed
with a key the database never holds. One JSON file per organization and checkpoint:
`<dir>/<organization id>/<seq, 12 digits>-<UTC time>.json`, written atomically (a temporary
file in the same folder, fsynced, then renamed). The signature covers the canonical JSON
(sorted keys, no spaces) of `format`, `organization_id`, `seq`, `hash` and `created_at`.
"""

import base64
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FORMAT = "residency-console/audit-checkpoint/v1"
SIGNED_FIELDS = ("format", "organization_id", "seq", "hash", "created_at")
DEVELOPMENT_KEY_NAME = "development-signing-key.pem"
# organization ids are used as folder names: letters, digits, "_" and "-" only
ORG_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
HASH = re.compile(r"^[0-9a-f]{64}$")


class KeyFileError(ValueError):
    """A key file that cannot be used; the message says what to fix."""


# --- keys ------------------------------------------------------------------------------------


def generate_private_key_pem():
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_private_key(path):
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"Cannot read the signing key {path}: {exc.strerror}.") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 key; checkpoints are signed with Ed25519.")
    return key


def load_public_key(path):
    """An Ed25519 public key from a PEM file (a private key file gives its public half)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"Cannot read the public key {path}: {exc.strerror}.") from None
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError) as exc:
            raise KeyFileError(f"{path} is not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{path} is not an Ed25519 key; checkpoints are signed with Ed25519.")
    return key


def public_key_from_pem(pem):
    key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError("not an Ed25519 public key")
    return key


def public_pem(public_key):
    return public_key.public_bytes(serialization.Encoding.PEM,
                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def key_id(public_key):
    """A short fingerprint of a public key: the first 16 hex digits of SHA-256 of its raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


# --- checkpoints -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    organization_id: str
    seq: int
    hash: str
    created_at: str  # ISO 8601 UTC, "Z"
    key_id: str = ""
    signature: str = ""
    path: str = ""

    @property
    def signed_at(self):
        return datetime.fromisoformat(self.created_at)

    @property
    def label(self):
        name = Path(self.path).name if self.path else "checkpoint"
        return f"checkpoint {name} (signed {self.created_at})"


def _message(organization_id, seq, hash_, created_at):
    body = {"format": FORMAT, "organization_id": organization_id, "seq": seq, "hash": hash_,
            "created_at": created_at}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(private_key, organization_id, seq, hash_, now=None):
    created_at = (now or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    signature = private_key.sign(_message(organization_id, seq, hash_, created_at))
    return Checkpoint(organization_id, seq, hash_, created_at, key_id(private_key.public_key()),
                      base64.b64encode(signature).decode())


def to_json(checkpoint):
    return json.dumps({"format": FORMAT, "organization_id": checkpoint.organization_id, "seq": checkpoint.seq,
                       "hash": checkpoint.hash, "created_at": checkpoint.created_at, "key_id": checkpoint.key_id,
                       "signature": checkpoint.signature}, indent=2) + "\n"


def filename(checkpoint):
    stamp = checkpoint.created_at.replace("-", "").replace(":", "").replace(".", "")
    return f"{checkpoint.seq:012d}-{stamp}.json"


def write(directory, checkpoint):
    """Write one checkpoint file atomically; returns its path."""
    if not ORG_ID.match(checkpoint.organization_id):
        raise ValueError(f"Unusable organization id for a folder name: {checkpoint.organization_id!r}")
    folder = Path(directory) / checkpoint.organization_id
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / filename(checkpoint)
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(to_json(checkpoint))
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return final


def parse(path):
    """(Checkpoint, None) for a well-formed file, else (None, what is wrong with it)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return None, f"unreadable: {exc}"
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return None, "not a checkpoint file of this format"
    org, seq, hash_, created = (data.get(k) for k in ("organization_id", "seq", "hash", "created_at"))
    signature, kid = data.get("signature"), data.get("key_id", "")
    if not (isinstance(org, str) and type(seq) is int and seq >= 0 and isinstance(hash_, str) and HASH.match(hash_)
            and isinstance(created, str) and isinstance(signature, str) and isinstance(kid, str)):
        return None, "malformed (organization_id, seq, hash, created_at and signature are required)"
    try:
        datetime.fromisoformat(created)
    except ValueError:
        return None, f"malformed created_at {created!r}"
    return Checkpoint(org, seq, hash_, created, kid, signature, str(path)), None


def verify(public_key, checkpoint):
    """None when `checkpoint` is signed by `public_key`, else why not."""
    if public_key is None:
        return "cannot be checked: no public key is configured (set AUDIT_PUBLIC_KEY, or pass --public-key)"
    try:
        signature = base64.b64decode(checkpoint.signature, validate=True)
        public_key.verify(signature, _message(checkpoint.organization_id, checkpoint.seq, checkpoint.hash,
                                              checkpoint.created_at))
    except (InvalidSignature, ValueError):
        expected = key_id(public_key)
        if checkpoint.key_id and checkpoint.key_id != expected:
            return (f"signed with another key (key id {checkpoint.key_id}); only the configured key "
                    f"{expected} is trusted")
        return "the signature does not verify with the configured public key (the file was forged or altered)"
    return None


@dataclass(frozen=True)
class Loaded:
    """The checkpoint files of one organization: the valid ones, and (path, seq or None, why)
    for each file that does not verify."""

    valid: tuple
    invalid: tuple

    @property
    def newest(self):
        return max(self.valid, key=lambda c: (c.seq, c.created_at), default=None)


def organization_folders(directory):
    """Organization ids that have a checkpoint folder in `directory`."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    return sorted(e.name for e in entries if e.is_dir() and ORG_ID.match(e.name))


def load(directory, organization_id, public_key):
    """Every checkpoint file in `directory/organization_id/`, each checked against `public_key`."""
    folder = Path(directory) / organization_id
    valid, invalid = [], []
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return Loaded((), ())
    for name in names:
        if not name.endswith(".json") or name.startswith("."):
            continue  # a temporary file of an interrupted write, or not ours
        path = folder / name
        checkpoint, problem = parse(path)
        if checkpoint is not None and checkpoint.organization_id != organization_id:
            problem = f"signed for organization {checkpoint.organization_id}, not {organization_id}"
        if checkpoint is not None and problem is None:
            problem = verify(public_key, checkpoint)
        if problem is None:
            valid.append(checkpoint)
        else:
            invalid.append((str(path), checkpoint.seq if checkpoint is not None else None, problem))
    return Loaded(tuple(valid), tuple(invalid))


def newest_file(directory, organization_id):
    """The newest checkpoint file of one organization by name (highest seq, then time), without
    reading the others: for the console's integrity panel."""
    folder = Path(directory) / organization_id
    try:
        names = [n for n in os.listdir(folder) if n.endswith(".json") and not n.startswith(".")]
    except OSError:
        return None
    return folder / max(names) if names else None
