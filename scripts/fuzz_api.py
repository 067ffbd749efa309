#!/usr/bin/env python3
"""Fuzz the REST API against its own OpenAPI document with schemathesis (issue 10 item 5).

    .venv/bin/python scripts/fuzz_api.py [--max-time SECONDS]

For the database DATABASE_URL names (SQLite by default; on PostgreSQL a fresh database beside
it), this migrates a fresh database, creates an organization with an owner's key and a
`user`-role member's key, serves the project with gunicorn, and runs `schemathesis run` with
every check and every phase (examples, coverage, fuzzing, stateful links) once as each key,
within a time budget. It exits non-zero on any server error or conformance failure.

The hooks in scripts/fuzz_hooks.py keep the run going: the key a run authenticates with is
never revoked or paused by the run itself (revoking another key is still fuzzed).
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
SCHEMATHESIS = str(Path(PY).parent / "schemathesis")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_database(url, tmp):
    """A new, empty database of the same kind as `url`."""
    if not url or url.startswith("sqlite"):
        return f"sqlite:///{tmp}/fuzz.sqlite3"
    import psycopg

    parts = urllib.parse.urlsplit(url)
    name = f"{parts.path.strip('/') or 'residency'}_fuzz"  # beside the given database, never shared
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    return parts._replace(path=f"/{name}").geturl()


def environment(database_url):
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DEBUG": "false",
        "API_RATE_LIMIT": os.environ.get("FUZZ_API_RATE_LIMIT", "100000/min"),  # the fuzz run states its limit
        "LOG_LEVEL": "ERROR",
    }


def manage(env, *args):
    return subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True,
                          text=True).stdout


SETUP = """
import json, sys
from core.actor import Actor
from orgs import services
from orgs.models import Membership
owner = Membership.objects.get(organization_id=sys.argv[1], role_id="primary_owner")
actor = Actor(user=owner.user, source="command")
member = services.member_add(actor=actor, organization=owner.organization, email="fuzz-user@example.test",
                             role_id="user")
_, secret = services.api_key_create(actor=Actor(user=member.user, source="command"),
                                    organization=owner.organization, name="fuzz user")
print(json.dumps({"user_key": secret}))
"""


def prepare(env):
    manage(env, "migrate", "--noinput", "-v0")
    boot = json.loads(manage(env, "bootstrap_org", "--name", "Fuzz Co", "--plan", "enterprise_usage",
                             "--owner-email", "fuzz-owner@example.test", "--json"))
    extra = subprocess.run([PY, "-c", "import django; django.setup()\n" + SETUP, boot["organization_id"]],
                           cwd=ROOT, env=env, check=True, capture_output=True, text=True).stdout
    return {"owner": boot["api_key"], **{"user": json.loads(extra)["user_key"]}}


def serve(env):
    port = free_port()
    # `--limit-request-line 0`: the application's own answer to an over-long query (a 400 naming the
    # bound, e.g. 100 `ids[]`) is what is fuzzed, not the front server's 414 for a request line over
    # its limit (gunicorn's default 4094 bytes; see README, Deploying).
    proc = subprocess.Popen([PY, "-m", "gunicorn", "config.wsgi:application", "--workers", "2", "--bind",
                             f"127.0.0.1:{port}", "--log-level", "warning", "--limit-request-line", "0"], cwd=ROOT,
                            env={**env, "DJANGO_SETTINGS_MODULE": "config.settings.base"})
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=2).read()
            return proc, base
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit("gunicorn did not start")


def fuzz(base, key, seconds, report_dir):
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "scripts.fuzz_hooks", "FUZZ_AUTH_KEY": key,
           "PYTHONPATH": str(ROOT)}
    cmd = [SCHEMATHESIS, "run", f"{base}/v1/openapi.json", "--checks", "all", "--max-time", str(seconds),
           "--header", f"x-api-key: {key}", "--seed", os.environ.get("FUZZ_SEED", "2026"),
           "--report", "junit", "--report-dir", report_dir, "--request-timeout", "30",
           "--suppress-health-check", "too_slow,filter_too_much", "--warnings", "off"]
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--max-time", type=int, default=100, help="seconds of fuzzing per key")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rcfuzz") as tmp:
        env = environment(fresh_database(os.environ.get("DATABASE_URL", ""), tmp))
        keys = prepare(env)
        proc, base = serve(env)
        try:
            failed = []
            for who in ("user", "owner"):  # the owner's run could revoke the user's key
                print(f"==> schemathesis as the {who}'s key ({args.max_time} s)", flush=True)
                if fuzz(base, keys[who], args.max_time, f"{tmp}/{who}") != 0:
                    failed.append(who)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    if failed:
        raise SystemExit(f"schemathesis found failures with the {' and '.join(failed)} key(s); see above.")
    print("schemathesis: no server errors, no conformance failures.")


if __name__ == "__main__":
    main()
