"""N audit events in one organization: first pages (console and REST), a filtered page, a
deep page, the streamed CSV export, chain verification with signed checkpoints, the
`format=json` export and its offline verification (SPEC §7).

Events are generated with a correct hash chain computed in Python (the same `compute_hash`
the service uses) and bulk-inserted; the organization's chain head is moved to the last one,
so `verify_chain` must accept the whole chain.
"""

import os
import sys
import time
from datetime import UTC, datetime, timedelta

from common import analyze, header, line, load, timed, vendor

from audit.chain import CURRENT_VERSION, GENESIS_HASH, chain_head, compute_hash, default_workers, verify_chain
from audit.models import AuditEvent, ChainHead
from core.actor import Actor
from orgs import services
from residency import services as residency_services

N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
BATCH = 5000


def main():
    from django.test import Client
    from rest_framework.test import APIClient

    system = Actor.system("benchmark")
    org, primary = residency_services.organization_provision(actor=system, name="Bench", plan="enterprise_usage",
                                                owner_email="bench@example.test")
    owner = Actor(user=primary.user, source="command")
    ws = residency_services.workspace_create(actor=owner, organization=org, name="Prod")
    key, secret = services.api_key_create(actor=owner, organization=org, name="bench")
    org.refresh_from_db()
    print(f"## Audit log: {N:,} events on {vendor()}\n", flush=True)

    seq, prev = chain_head(org.pk)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    step = timedelta(days=700) / N

    def kind(n):
        """Four kinds of event; three carry values unique to the event, as real logs do."""
        k = n % 4
        if k == 0:
            return ("workspace.updated", "workspace", ws.pk, f"ws-{n}", {"name": f"ws-{n - 4}"}, {"name": f"ws-{n}"})
        if k == 1:
            return ("inference_residency.updated", "organization", org.pk, org.name, {"us_only": n % 8 == 1},
                    {"us_only": n % 8 != 1})
        if k == 2:
            return ("member.added", "user", f"user_{n}", f"person{n}@example.test", None,
                    {"email": f"person{n}@example.test", "role": "user"})
        return ("api_key.created", "apikey", f"apikey_{n}", f"key {n}", None, {"name": f"key {n}", "user_id": "u"})

    t_gen = time.perf_counter()
    made = 0
    while made < N:
        events = []
        for _ in range(min(BATCH, N - made)):
            seq += 1
            action, ttype, tid, tlabel, before, after = kind(seq)
            by_key = seq % 3 == 0
            fields = {
                "organization_id": org.pk, "seq": seq, "hash_version": CURRENT_VERSION,
                "created_at": start + step * seq, "action": action,
                "outcome": "success", "actor_type": "api_key" if by_key else "user",
                "actor_id": key.pk if by_key else primary.user_id, "actor_user_id": primary.user_id,
                "actor_label": "API key bench" if by_key else "Bench Owner", "actor_role": "Primary owner",
                "actor_key_creator_id": primary.user_id if by_key else "",
                "actor_key_creator_label": "Bench Owner" if by_key else "", "requested_by_id": "",
                "requested_by_label": "", "change_request_id": "",
                "source": "rest" if by_key else "console", "ip": "10.0.0.1", "user_agent": "bench/1.0",
                "request_id": f"req_{seq}", "target_type": ttype, "target_id": tid, "target_label": tlabel,
                "before": before, "after": after, "prev_hash": prev,
            }
            fields["hash"] = prev = compute_hash(fields)
            events.append(AuditEvent(**fields))
        AuditEvent.objects.bulk_create(events, batch_size=1000)
        made += len(events)
    ChainHead.objects.filter(pk=org.pk).update(seq=seq, hash=prev)
    org.refresh_from_db()
    print(f"- generated and inserted {made:,} chained events in {time.perf_counter() - t_gen:.0f} s "
          f"(chain head #{seq}; first hash links to {GENESIS_HASH[:8]}...)\n", flush=True)
    analyze()

    api = APIClient()
    api.credentials(HTTP_X_API_KEY=secret)
    console = Client()
    console.force_login(primary.user)
    header()
    line("console Audit log, first page (50 events)", *timed(lambda: ok(console.get("/audit-log/"))))
    line("console Audit log, filtered by action, first page", *timed(
        lambda: ok(console.get("/audit-log/", {"action": "workspace.updated"}))))
    line("console Audit log, filtered by date range (one day)", *timed(
        lambda: ok(console.get("/audit-log/", {"from": "2025-01-01", "to": "2025-01-01"}))))
    line(f"console Audit log, a page in the middle (older_than={seq // 2})", *timed(
        lambda: ok(console.get("/audit-log/", {"older_than": seq // 2}))))
    line("GET /v1/organizations/audit_events (limit 20)", *timed(
        lambda: ok(api.get("/v1/organizations/audit_events"))))
    line("GET /v1/organizations/audit_events (limit 1000)", *timed(
        lambda: ok(api.get("/v1/organizations/audit_events", {"limit": 1000})), runs=5))
    first = api.get("/v1/organizations/audit_events", {"limit": 1, "actor_id": key.pk}).json()["data"][0]["id"]
    line("GET audit_events actor_id=<key>, after_id=<an event id>", *timed(
        lambda: ok(api.get("/v1/organizations/audit_events", {"actor_id": key.pk, "after_id": first}))))
    line("GET audit_events target_id + starting_at/ending_at", *timed(
        lambda: ok(api.get("/v1/organizations/audit_events", {
            "target_id": ws.pk, "starting_at": "2025-01-01T00:00:00Z", "ending_at": "2025-02-01T00:00:00Z"}))))
    print(flush=True)

    import resource

    # a month of events (about 4% of them) as streamed CSV: the rate and whether memory grows
    month = {"format": "csv", "starting_at": "2025-01-01T00:00:00Z", "ending_at": "2025-02-01T00:00:00Z"}
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    response = api.get("/v1/organizations/audit_events", month)
    size = lines = 0
    for chunk in response.streaming_content:
        size += len(chunk)
        lines += 1
    export = time.perf_counter() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"- `format=csv` export of one month ({lines - 1:,} events), streamed: {size / 1e6:.1f} MB in {export:.1f} s "
          f"({(lines - 1) / export:,.0f} events/s); peak RSS grew by {(rss1 - rss0) / 1024:.0f} MB")

    org.refresh_from_db()
    workers = default_workers(seq)
    print(f"- load average before verification: {load()}")
    t0, c0 = time.perf_counter(), cpu()
    report = verify_chain(org)  # what `verify_audit_log` and the console's "Verify now" run
    elapsed = time.perf_counter() - t0
    assert report.ok, report.summary
    print(f"- verify_chain: {report.count:,} events in **{elapsed:.1f} s** with {workers} worker processes "
          f"({cpu() - c0:.1f} s CPU in Python) ({report.summary})")
    t0 = time.perf_counter()
    report = verify_chain(org, workers=1)
    elapsed = time.perf_counter() - t0
    assert report.ok, report.summary
    print(f"- verify_chain in one process (workers=1, for comparison): {report.count:,} events in {elapsed:.1f} s; "
          f"load average after: {load()}")
    checkpoints_and_offline(org, seq, api)


def checkpoints_and_offline(org, seq, api):
    """Signed checkpoints every 100,000 events (as a periodic audit_checkpoint leaves them), the
    database verification that checks them all, the whole chain as a `format=json` export, and
    its offline verification against the same checkpoints (what `verify_audit_log --export` runs)."""
    import tempfile
    from pathlib import Path

    from audit import checkpoints as signed
    from audit.offline import default_workers as offline_workers
    from audit.offline import verify_export

    tmp = Path(tempfile.mkdtemp(prefix="rcbench-"))
    (tmp / "key.pem").write_bytes(signed.generate_private_key_pem())
    key = signed.load_private_key(tmp / "key.pem")
    step = max(1, seq // 10)
    marks = list(AuditEvent.objects.filter(organization=org, seq__in=range(step, seq + 1, step))
                 .values_list("seq", "hash"))
    for mark_seq, mark_hash in marks:
        signed.write(tmp / "checkpoints", signed.sign(key, org.pk, mark_seq, mark_hash))
    print(f"- load average before verification with checkpoints: {load()}")
    t0, c0 = time.perf_counter(), cpu()
    loaded = signed.load(tmp / "checkpoints", org.pk, key.public_key())
    report = verify_chain(org, checkpoints=loaded)  # what `verify_audit_log` runs
    elapsed = time.perf_counter() - t0
    assert report.ok and report.checkpoints == len(marks), report.lines()[:5]
    print(f"- verify_chain with {len(marks)} signed checkpoints (loading and checking them included): "
          f"{report.count:,} events in **{elapsed:.1f} s** wall, {cpu() - c0:.1f} s CPU in Python (this process "
          f"and its workers; the database's own work not included) ({report.summary}); load average after: "
          f"{load()}", flush=True)

    export = tmp / "export.json"
    t0 = time.perf_counter()
    response = api.get("/v1/organizations/audit_events", {"format": "json"})
    assert response.status_code == 200
    with open(export, "wb") as handle:
        for chunk in response.streaming_content:
            handle.write(chunk)
    elapsed = time.perf_counter() - t0
    print(f"- `format=json` export of the whole chain, streamed to a file: {export.stat().st_size / 1e6:,.0f} MB "
          f"in {elapsed:.1f} s", flush=True)
    print(f"- load average before offline verification: {load()}")
    t0, c0 = time.perf_counter(), cpu()
    [offline] = verify_export(export, tmp / "checkpoints", key.public_key())
    elapsed = time.perf_counter() - t0
    assert offline.ok and offline.count == seq and offline.checkpoints == len(marks), offline.lines()[:5]
    print(f"- offline verification of the export (no database) against {len(marks)} checkpoints: "
          f"{offline.count:,} events in **{elapsed:.1f} s** wall, {cpu() - c0:.1f} s CPU (this process and its "
          f"{offline_workers(export)} workers); load average after: {load()}", flush=True)
    export.unlink()

def cpu():
    """CPU seconds used by this process and its finished children (the worker processes)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def ok(response):
    assert response.status_code == 200, response.content[:300]
    if getattr(response, "streaming", False):
        b"".join(response.streaming_content)
    return response


if __name__ == "__main__":
    main()
