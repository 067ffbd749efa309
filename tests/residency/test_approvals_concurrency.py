"""Two owners approving the same change request at the same moment (SPEC §8): applied once,
audited once, the other told it is no longer pending (409).

Each approver is a real REST client in its own thread and its own database connection, on
committed data, released together by a barrier, several rounds. The request's row lock (taken
after the organization's, as every residency service does) queues them; on PostgreSQL both reach
the lock, on SQLite IMMEDIATE transactions serialize them earlier."""

import threading
import time

from django.db import connection
from rest_framework.test import APIClient

from audit.chain import verify_chain
from audit.models import AuditEvent
from orgs.models import Organization
from residency import services
from residency.models import ChangeRequest
from tests.factories import actor_for, add_member, api_key_for, make_org, primary_owner

ROUNDS = 4


def test_two_owners_approving_at_once_apply_it_once_and_audit_it_once(committed_db):
    org = make_org(plan="enterprise_usage", name="Race Co")
    asker = primary_owner(org)
    approvers = [add_member(org, "owner"), add_member(org, "privacy_manage")]
    secrets = [api_key_for(m) for m in approvers]
    services.approval_settings_set(actor=actor_for(asker.user), organization=org, loosening_requires_approval=True)
    barrier = threading.Barrier(2, timeout=30)
    spans, failures = [], []

    for _ in range(ROUNDS):
        services.inference_residency_set(actor=actor_for(asker.user), organization=org, us_only=True)
        held = services.inference_residency_set(actor=actor_for(asker.user), organization=org, us_only=False)
        assert isinstance(held, ChangeRequest)
        answers = []

        def approve(secret, held=held, answers=answers):
            try:
                client = APIClient()
                client.credentials(HTTP_X_API_KEY=secret)
                barrier.wait()
                started = time.monotonic()
                response = client.post(f"/v1/organizations/change_requests/{held.pk}/approve")
                spans.append((secret, started, time.monotonic()))
                answers.append((response.status_code, response.json()))
            except Exception as exc:  # reported below; a thread must not die silently
                failures.append(repr(exc))
                barrier.abort()
            finally:
                connection.close()

        threads = [threading.Thread(target=approve, args=(secret,)) for secret in secrets]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not failures, failures
        assert sorted(status for status, _ in answers) == [200, 409], answers
        loser = next(body for status, body in answers if status == 409)
        assert loser["error"]["type"] == "conflict_error" and "approved and applied" in loser["error"]["message"]
        held.refresh_from_db()
        assert held.status == "applied"
        per_request = AuditEvent.objects.filter(organization=org, change_request_id=held.pk)
        assert sorted(per_request.values_list("action", flat=True)) == [
            "change_request.applied", "change_request.approved", "change_request.requested",
            "inference_residency.updated"]
        assert Organization.objects.get(pk=org.pk).us_only_inference is False

    # the approvals really ran at the same time (each round's two spans overlap)
    first, second = [s for s in spans if s[0] == secrets[0]], [s for s in spans if s[0] == secrets[1]]
    assert any(a[1] < b[2] and b[1] < a[2] for a in first for b in second)
    assert AuditEvent.objects.filter(organization=org, action="inference_residency.updated",
                                     after={"us_only": False}).count() == ROUNDS
    assert verify_chain(org).ok
