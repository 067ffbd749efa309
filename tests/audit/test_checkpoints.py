"""`audit_checkpoint` (SPEC §7): Ed25519 checkpoints of every organization's chain head, one
file per organization and checkpoint, written atomically; a development key only outside
production settings; the console's integrity panel shows the newest one and its age."""

import json
import os
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from audit import checkpoints as signed
from audit.chain import chain_head
from residency import services as residency_services
from tests.db import TABLE, ids, tamper
from tests.factories import actor_for, make_org

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def folder(settings, tmp_path):
    settings.AUDIT_CHECKPOINT_DIR = str(tmp_path / "checkpoints")
    settings.AUDIT_SIGNING_KEY = None
    settings.AUDIT_PUBLIC_KEY = None
    return tmp_path / "checkpoints"


def run(*args, **opts):
    out, err = _Capture(), _Capture()
    call_command("audit_checkpoint", *args, stdout=out, stderr=err, **opts)
    return out.text, err.text


class _Capture:
    def __init__(self):
        self.text = ""

    def write(self, text):
        self.text += text

    def flush(self):
        pass


def test_without_a_key_a_development_key_is_created_and_said_so(org, folder):
    other = make_org(name="Other")
    out, err = run()
    key_path = folder / signed.DEVELOPMENT_KEY_NAME
    assert f"created a development signing key at {key_path}" in err and "could forge checkpoints" in err
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    key = signed.load_private_key(key_path)
    for organization in (org, other):
        seq, head_hash = chain_head(organization.pk)
        [path] = (folder / organization.pk).glob("*.json")
        assert f"{organization.pk}: signed #{seq}" in out and str(path) in out
        checkpoint, problem = signed.parse(path)
        assert problem is None and (checkpoint.seq, checkpoint.hash) == (seq, head_hash)
        assert signed.verify(key.public_key(), checkpoint) is None
        assert json.loads(path.read_text())["key_id"] == signed.key_id(key.public_key())
    # the second run reuses the key, says so, and writes nothing for unchanged chains
    out, err = run()
    assert "Using the development signing key" in err and f"{org.pk}: unchanged since checkpoint" in out
    assert len(list((folder / org.pk).glob("*"))) == 1  # no temporary files left behind either
    residency_services.inference_residency_set(actor=actor_for(org.memberships.first().user), organization=org,
                                               us_only=True)
    out, _ = run(organization=org.pk)
    assert f"{org.pk}: signed #{chain_head(org.pk)[0]}" in out and other.pk not in out
    assert len(list((folder / org.pk).glob("*.json"))) == 2


def test_production_settings_refuse_without_a_key(org, folder, settings):
    settings.AUDIT_DEVELOPMENT_KEY_ALLOWED = False
    with pytest.raises(CommandError, match="AUDIT_SIGNING_KEY is not set, and production settings never create"):
        run()
    with pytest.raises(CommandError, match="AUDIT_SIGNING_KEY is not set"):
        run(public_key=True)
    assert not folder.exists()


def test_under_config_settings_production_the_command_refuses(tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.production", "SECRET_KEY": "x",
           "DATABASE_URL": "postgres://nobody@127.0.0.1:9/nowhere", "AUDIT_CHECKPOINT_DIR": str(tmp_path),
           # the rest of a production configuration, so the system checks pass and the command runs
           "EMAIL_FILE_PATH": str(tmp_path / "mail"), "CONSOLE_BASE_URL": "https://console.example.test"}
    env.pop("AUDIT_SIGNING_KEY", None)
    done = subprocess.run([sys.executable, "manage.py", "audit_checkpoint"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "production settings never create a signing key" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_configured_key_signs_and_public_key_prints_its_pem(org, folder, tmp_path, settings):
    key_path = tmp_path / "keys" / "signing.pem"
    out, _ = run(generate_key=str(key_path))
    assert f"Wrote a new signing key to {key_path}" in out and stat.S_IMODE(key_path.stat().st_mode) == 0o600
    with pytest.raises(CommandError, match="never overwritten"):
        run(generate_key=str(key_path))
    settings.AUDIT_SIGNING_KEY = str(key_path)
    pem, err = run(public_key=True)
    assert pem.startswith("-----BEGIN PUBLIC KEY-----") and err == ""
    public = tmp_path / "public.pem"
    public.write_text(pem)
    out, err = run()
    assert err == "" and not (folder / signed.DEVELOPMENT_KEY_NAME).exists()
    loaded = signed.load(folder, org.pk, signed.load_public_key(public))
    assert len(loaded.valid) == 1 and not loaded.invalid
    # verifiers given another public key refuse to sign: they would reject every checkpoint
    other = tmp_path / "other.pem"
    other.write_bytes(signed.generate_private_key_pem())
    settings.AUDIT_PUBLIC_KEY = str(other)
    with pytest.raises(CommandError, match="is not the public half of the signing key"):
        run()


def test_a_chain_that_does_not_verify_is_not_signed(org, folder):
    run()
    residency_services.inference_residency_set(actor=actor_for(org.memberships.first().user), organization=org,
                                               us_only=True)
    tamper((f"UPDATE {TABLE} SET actor_label = 'x' WHERE id = %s", [ids(org)[chain_head(org.pk)[0]]]))
    with pytest.raises(CommandError, match=f"Not signed: the audit chain of {org.pk} does not verify"):
        run()
    assert len(list((folder / org.pk).glob("*.json"))) == 1
    # history before the newest checkpoint rewritten: refused as well
    tamper((f"UPDATE {TABLE} SET actor_label = 'Someone' WHERE id = %s", [ids(org)[chain_head(org.pk)[0]]]))
    last = ids(org)[chain_head(org.pk)[0] - 1]
    tamper((f"UPDATE {TABLE} SET hash = %s WHERE id = %s", ["e" * 64, last]))  # the checkpointed record
    with pytest.raises(CommandError, match="does not verify"):
        run()


def test_a_write_leaves_no_partial_file(tmp_path, monkeypatch):
    key_path = tmp_path / "k.pem"
    key_path.write_bytes(signed.generate_private_key_pem())
    checkpoint = signed.sign(signed.load_private_key(key_path), "org_abc", 3, "a" * 64)

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError):
        signed.write(tmp_path / "cp", checkpoint)
    assert list((tmp_path / "cp" / "org_abc").iterdir()) == []


def test_the_integrity_panel_shows_the_newest_checkpoint_and_its_age(org, owner, folder, console):
    page = reverse("console:audit_log")
    html = console(owner.user).get(page).content.decode()
    assert "No signed checkpoint yet" in html
    run()
    html = console(owner.user).get(page).content.decode()
    seq = chain_head(org.pk)[0]
    assert f"Newest signed checkpoint: event <strong>#{seq}</strong>" in html and "the chain head" in html
    assert "0\xa0minutes ago" in html
    # an older checkpoint file shows its age; a forged newest one is flagged, never trusted
    path = next((folder / org.pk).glob("*.json"))
    data = json.loads(path.read_text())
    data["seq"] = seq + 5
    (folder / org.pk / f"{seq + 5:012d}-forged.json").write_text(json.dumps(data))
    html = console(owner.user).get(page).content.decode()
    assert "not trusted" in html and "does not verify" in html
    verify = console(owner.user).post(reverse("console:audit_verify")).content.decode()
    assert "forged checkpoint" in verify and "Chain broken: 1 bad record" in verify


def test_age_is_shown_from_the_signing_time(org, owner, folder, console, settings):
    key_path = folder.parent / "k.pem"
    key_path.write_bytes(signed.generate_private_key_pem())
    settings.AUDIT_SIGNING_KEY = str(key_path)
    seq, head_hash = chain_head(org.pk)
    signed.write(folder, signed.sign(signed.load_private_key(key_path), org.pk, seq, head_hash,
                                     now=timezone.now() - timedelta(hours=3)))
    html = console(owner.user).get(reverse("console:audit_log")).content.decode()
    assert "3\xa0hours ago" in html


def test_the_verify_page_lists_every_bad_record_with_its_kind(org, owner, folder, console):
    actor = actor_for(owner.user)
    for value in (True, False, True, False):
        residency_services.inference_residency_set(actor=actor, organization=org, us_only=value)
    i = ids(org)
    tamper((f"UPDATE {TABLE} SET ip = '10.9.9.9' WHERE id = %s", [i[2]]),
           (f"DELETE FROM {TABLE} WHERE id = %s", [i[4]]))
    html = console(owner.user).post(reverse("console:audit_verify")).content.decode()
    assert "Chain broken: 2 bad records" in html and "(edited, missing)" in html
    assert 'data-seq="2"' in html and 'data-seq="4"' in html
    assert "record #4 is missing (removed)" in html
    assert Path(folder).exists() is False  # verifying never writes checkpoints
