"""A change commits in one process; the very next decision in another process sees it
(SPEC §2: "A change takes effect for the very next decision after it commits, in every server
process"). Real separate processes on one PostgreSQL database, no shared cache."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.db import connection

from residency import services as residency_services
from tests.factories import actor_for, api_key_for, make_org, primary_owner

ROOT = Path(__file__).resolve().parents[2]

# A long-lived "router" process: one request per line on stdin, one decision per line out.
DECIDER = textwrap.dedent("""
    import json, sys
    import django
    django.setup()
    from django.test import Client
    client = Client()
    secret, workspace_id = sys.argv[1], sys.argv[2]
    print("ready", flush=True)
    for line in sys.stdin:
        response = client.post("/v1/residency/decisions",
                               {"workspace_id": workspace_id, "model": "claude-opus-4-6"},
                               content_type="application/json", HTTP_X_API_KEY=secret)
        print(json.dumps(response.json()), flush=True)
""")

# A one-shot "console" process that flips the workspace default through the service.
FLIPPER = textwrap.dedent("""
    import sys
    import django
    django.setup()
    from core.actor import Actor
    from orgs.models import User, Workspace
    from residency import services
    user = User.objects.get(pk=sys.argv[1])
    ws = Workspace.objects.get(pk=sys.argv[2])
    services.workspace_update(actor=Actor(user=user, source="console"), workspace=ws,
                              data_residency={"default_inference_geo": sys.argv[3]})
""")


def _env():
    settings = connection.settings_dict
    url = (f"postgres://{settings['USER']}:{settings['PASSWORD'] or ''}@{settings['HOST']}:{settings['PORT']}"
           f"/{settings['NAME']}")
    return {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings.test"}


@pytest.mark.postgres_only
def test_a_flip_in_one_process_is_seen_by_the_next_decision_in_another(committed_db):
    assert connection.vendor == "postgresql"
    org = make_org(name="Cross")
    owner = primary_owner(org)
    ws = residency_services.workspace_create(actor=actor_for(owner.user), organization=org, name="W",
                                   data_residency={"allowed_inference_geos": ["global", "us"]})
    secret = api_key_for(owner)
    env = _env()
    decider = subprocess.Popen([sys.executable, "-c", DECIDER, secret, ws.id], cwd=ROOT, env=env,
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert decider.stdout.readline().strip() == "ready"

        def ask():
            decider.stdin.write("decide\n")
            decider.stdin.flush()
            return json.loads(decider.stdout.readline())["routing_geo"]

        assert ask() == "global"
        # flip in this process (committed at once: no transaction wraps this test)
        residency_services.workspace_update(actor=actor_for(owner.user), workspace=ws,
                                  data_residency={"default_inference_geo": "us"})
        assert ask() == "us"
        # flip back from a third process
        subprocess.run([sys.executable, "-c", FLIPPER, owner.user_id, ws.id, "global"], cwd=ROOT, env=env,
                       check=True)
        assert ask() == "global"
        # archiving is seen by the next decision too: it is refused
        residency_services.workspace_archive(actor=actor_for(owner.user), workspace=ws)
        decider.stdin.write("decide\n")
        decider.stdin.flush()
        assert json.loads(decider.stdout.readline())["error"]["type"] == "permission_error"
    finally:
        decider.stdin.close()
        decider.wait(timeout=30)
