"""Two owners toggling US-only inference at the same moment (issue 3, "Must hold").

Each owner is a real console session in its own thread and its own database connection,
released together by a barrier on every round. The organization row lock taken by
`inference_residency_set` serializes them: the final state is one of theirs, and every change
is in the audit chain, in order, each one starting from where the previous one left off.
"""

import threading
import time

from django.db import connection
from django.test import Client

from audit.chain import verify_chain
from audit.models import AuditEvent
from orgs.models import Organization
from tests.factories import add_member, make_org, primary_owner

URL = "/settings/privacy/data-residency/"
ROUNDS = 6


# Runs on both databases: the SQLite test database is a file, so the threads share it.
def test_two_owners_toggling_at_once_leave_one_state_and_an_ordered_chain(committed_db):
    org = make_org(plan="enterprise_usage", name="Race Co")
    owners = {"on": primary_owner(org), "off": add_member(org, "owner")}
    barrier = threading.Barrier(2, timeout=30)
    spans, failures = [], []

    def toggle(value, membership):
        try:
            client = Client()
            client.force_login(membership.user)
            for _ in range(ROUNDS):
                barrier.wait()
                started = time.monotonic()
                response = client.post(URL, {"us_only": "true" if value == "on" else "false", "confirmed": "on"})
                spans.append((value, started, time.monotonic()))
                if response.status_code != 302:
                    failures.append(f"{value}: HTTP {response.status_code}")
        except Exception as exc:  # reported below; a thread must not die silently
            failures.append(f"{value}: {exc!r}")
            barrier.abort()
        finally:
            connection.close()

    threads = [threading.Thread(target=toggle, args=item) for item in owners.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures

    # the requests really overlapped in time
    on_spans = [s for s in spans if s[0] == "on"]
    off_spans = [s for s in spans if s[0] == "off"]
    assert any(a[1] < b[2] and b[1] < a[2] for a in on_spans for b in off_spans)

    org = Organization.objects.get(pk=org.pk)
    changes = list(AuditEvent.objects.filter(organization=org, action="inference_residency.updated").order_by("seq"))
    # the first "on" always changes something (it starts off), and "off" changes it back at least once
    assert {e.actor_user_id for e in changes} == {owners["on"].user_id, owners["off"].user_id}
    for earlier, later in zip(changes, changes[1:], strict=False):
        assert later.before == earlier.after, "a change was lost or applied out of order"
        assert later.seq > earlier.seq
    for event in changes:
        expected_actor = owners["on"] if event.after == {"us_only": True} else owners["off"]
        assert event.actor_user_id == expected_actor.user_id
    assert org.us_only_inference == changes[-1].after["us_only"]
    assert verify_chain(org).ok
