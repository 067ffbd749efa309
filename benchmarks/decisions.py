#!/usr/bin/env python3
"""Decision API benchmark, one command: `.venv/bin/python benchmarks/decisions.py [--write]`.

For SQLite and for a throwaway PostgreSQL cluster (started and stopped here, as
scripts/test.sh does), it serves the project with gunicorn on loopback (one sync worker per
core, production settings, DEBUG off) and measures, in the same run:

- the framework floor: `GET /bench/floor`, a trivial JSON view of the same project;
- the one-query floor: `GET /bench/one-query`, a trivial JSON view doing one indexed primary-key
  SELECT (benchmarks/urls.py; a decision is one statement, so this is what it can approach);
- the single decision: `POST /v1/residency/decisions` with an API key (1 query);
- a 10,000-request `POST /v1/residency/decisions/batch`, wall time seen by the client;

with `wrk` (Debian package), alternating floor, one-query floor and decision rounds so all three
see the same machine load, plus the in-process `residency.policy.decide()` cost per call. The
workspace's organization has a data residency policy in force (`["us"]` / `"us"`, SPEC §5; the
workspace allows global and us, so every decision intersects the two), unless `--without-policy`.
Targets: decision throughput >= 90% of the one-query floor's (issue 10) and not below the 71%
(SQLite) / 57% (PostgreSQL) of the plain floor measured before it; p99 <= 2x the floor's,
decide() < 20 us, batch < 1 s.
`--write` replaces the figures block in benchmarks/RESULTS.md.
"""

import argparse
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
BEGIN, END = "<!-- figures:begin -->", "<!-- figures:end -->"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def sqlite_database():
    with tempfile.TemporaryDirectory(prefix="rcbench") as tmp:
        yield f"sqlite:///{tmp}/bench.sqlite3"


@contextmanager
def postgres_database():
    """A throwaway cluster in a temp dir (initdb refuses root: run it as `postgres`)."""
    pgbin = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: [int(x) for x in p.parent.name.split(".")])
    if not pgbin:
        raise SystemExit("PostgreSQL is not installed (Debian package `postgresql`).")
    pgbin = pgbin[-1]
    tmp = tempfile.mkdtemp(prefix="rcpg")
    shutil.chown(tmp, "postgres")
    port = free_port()
    as_pg = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    data = f"{tmp}/data"
    subprocess.run([*as_pg, f"{pgbin}/initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                    "--locale=C.UTF-8", "--no-sync"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*as_pg, f"{pgbin}/pg_ctl", "-D", data, "-w", "-l", f"{tmp}/log", "-o",
                    f"-c listen_addresses=127.0.0.1 -p {port} -k {tmp} -c fsync=off", "start"],
                   check=True, stdout=subprocess.DEVNULL)
    try:
        yield f"postgres://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_pg, f"{pgbin}/pg_ctl", "-D", data, "-m", "immediate", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)


def server_env(database_url):
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "benchmarks.settings",
        "SECRET_KEY": "benchmark-only-secret-key-not-for-production-use-0123456789",
        "DEBUG": "false",
        "SECURE_COOKIES": "false",
        "CONN_MAX_AGE": "600",  # persistent connections, as any production deployment would use
        "LOG_LEVEL": "WARNING",
    }


def manage(env, *args):
    return subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True,
                          text=True).stdout


def http(method, url, body=None, key=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("x-api-key", key)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


@contextmanager
def gunicorn(env, workers):
    port = free_port()
    proc = subprocess.Popen(
        [PY, "-m", "gunicorn", "config.wsgi:application", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
         "--worker-class", "sync", "--log-level", "warning"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                http("GET", f"{base}/bench/floor")
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit("gunicorn did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


UNIT = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(url, *, seconds, connections, script=None):
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script:
        cmd[1:1] = ["-s", script]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    if "Non-2xx or 3xx responses" in out or "Socket errors" in out:
        raise SystemExit(f"wrk saw errors:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = re.search(r"\s50%\s+([\d.]+)(us|ms|s)\b", out)
    p99 = re.search(r"\s99%\s+([\d.]+)(us|ms|s)\b", out)
    return {"rps": rps, "p50_ms": float(p50.group(1)) * UNIT[p50.group(2)],
            "p99_ms": float(p99.group(1)) * UNIT[p99.group(2)]}


def http_error(method, url, body, key):
    """The error body of a request expected to fail."""
    try:
        http(method, url, body, key)
    except urllib.error.HTTPError as exc:
        return json.loads(exc.read())
    raise SystemExit(f"{url} did not refuse {body}")


def decide_microbenchmark():
    sys.path.insert(0, str(ROOT))
    from decimal import Decimal

    from residency.policy import ModelInfo, WorkspaceInfo, decide

    ws = WorkspaceInfo("wrkspc_x", False, ("global", "us"), "us")
    model = ModelInfo("claude-opus-4-6", True)
    geos = {"global": Decimal("1"), "us": Decimal("1.100")}

    def call():
        decide(workspace=ws, model=model, inference_geo="us", endpoint="messages", geo_multipliers=geos)
        decide(workspace=ws, model=model, inference_geo=None, endpoint="messages", geo_multipliers=geos)

    n = 100_000
    best = min(timeit.repeat(call, number=n, repeat=5))
    return best / (2 * n) * 1e6


US_POLICY = {"allowed_inference_geos": ["us"], "default_inference_geo": "us"}


def bench_database(name, database_url, *, seconds, rounds, workers, connections, policy=True):
    env = server_env(database_url)
    manage(env, "migrate", "-v0")
    boot = json.loads(manage(env, "bootstrap_org", "--name", "Bench", "--plan", "enterprise_usage",
                             "--owner-email", "bench@example.test", "--json"))
    key = boot["api_key"]
    with gunicorn(env, workers) as base:
        ws = http("POST", f"{base}/v1/organizations/workspaces", {
            "name": "Bench", "data_residency": {"allowed_inference_geos": ["global", "us"],
                                                "default_inference_geo": "us"}}, key)
        if policy:
            # the organization policy in force (SPEC §5): decisions intersect it in the same statement
            answer = http("POST", f"{base}/v1/organizations/data_residency_policy", US_POLICY, key)
            assert answer["allowed_inference_geos"] == ["us"] and answer["nonconforming_workspace_ids"] == [ws["id"]]
        body = {"workspace_id": ws["id"], "model": "claude-opus-4-6", "inference_geo": "us"}
        assert http("POST", f"{base}/v1/residency/decisions", body, key)["price_multiplier"] == "1.1"
        if policy:
            outside = http_error("POST", f"{base}/v1/residency/decisions", {**body, "inference_geo": "global"}, key)
            assert outside["error"]["details"]["error_code"] == "workspace_policy_violation", outside
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
            lua.write('wrk.method = "POST"\n'
                      f"wrk.body = {json.dumps(json.dumps(body))}\n"
                      'wrk.headers["Content-Type"] = "application/json"\n'
                      f'wrk.headers["x-api-key"] = "{key}"\n')
        floor_runs, query_runs, decision_runs = [], [], []
        wrk(f"{base}/bench/floor", seconds=2, connections=connections)  # warm up every path
        wrk(f"{base}/bench/one-query", seconds=2, connections=connections)
        wrk(f"{base}/v1/residency/decisions", seconds=2, connections=connections, script=lua.name)
        for _ in range(rounds):
            floor_runs.append(wrk(f"{base}/bench/floor", seconds=seconds, connections=connections))
            query_runs.append(wrk(f"{base}/bench/one-query", seconds=seconds, connections=connections))
            decision_runs.append(wrk(f"{base}/v1/residency/decisions", seconds=seconds, connections=connections,
                                     script=lua.name))
        os.unlink(lua.name)
        batch = {"requests": [
            {"custom_id": f"r{i}", "params": {"workspace_id": ws["id"], "model": "claude-opus-4-6",
                                              **({"inference_geo": "us"} if i % 2 else {})}}
            for i in range(10_000)]}
        times = []
        for _ in range(5):
            start = time.perf_counter()
            result = http("POST", f"{base}/v1/residency/decisions/batch", batch, key)
            times.append(time.perf_counter() - start)
            assert len(result["results"]) == 10_000 and result["results"][0]["result"]["type"] == "succeeded"

    def median(runs, field):
        return statistics.median(r[field] for r in runs)

    floor_rps, decision_rps = median(floor_runs, "rps"), median(decision_runs, "rps")
    query_rps = median(query_runs, "rps")
    floor_p99, decision_p99 = median(floor_runs, "p99_ms"), median(decision_runs, "p99_ms")
    return {
        "database": name,
        "floor_rps": floor_rps, "decision_rps": decision_rps, "throughput_ratio": decision_rps / floor_rps,
        "query_rps": query_rps, "query_ratio": decision_rps / query_rps,
        "floor_p50_ms": median(floor_runs, "p50_ms"), "decision_p50_ms": median(decision_runs, "p50_ms"),
        "floor_p99_ms": floor_p99, "decision_p99_ms": decision_p99, "p99_ratio": decision_p99 / floor_p99,
        "batch_median_s": statistics.median(times), "batch_max_s": max(times),
        "rounds": [{"floor": f, "query": q, "decision": d}
                   for f, q, d in zip(floor_runs, query_runs, decision_runs, strict=True)],
    }


def report(results, micro, args, workers):
    ok = lambda good: "ok" if good else "MISSED"  # noqa: E731
    lines = [
        f"Run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.node() or 'host'}: "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, gunicorn {workers} sync workers, "
        f"wrk 1 thread / {args.connections} connections, {args.rounds} alternating rounds of {args.seconds} s "
        "per endpoint (medians); "
        + ("the organization's data residency policy in force (`[\"us\"]` / `\"us\"`)."
           if args.policy else "no organization policy (`--without-policy`)."),
        "",
        f"In-process `decide()`: **{micro:.2f} µs** per call (target < 20 µs: {ok(micro < 20)}).",
        "",
        "| database | floor req/s | one-query floor req/s | decision req/s | vs one-query floor (≥ 90%) "
        "| vs floor (≥ 71% SQLite / 57% PostgreSQL) | floor p99 | decision p99 | p99 ratio (≤ 2×) "
        "| 10,000-request batch (median / max, < 1 s) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    before = {"sqlite": 0.71, "postgresql": 0.57}
    for r in results:
        lines.append(
            f"| {r['database']} | {r['floor_rps']:.0f} | {r['query_rps']:.0f} | {r['decision_rps']:.0f} | "
            f"{r['query_ratio']:.0%} ({ok(r['query_ratio'] >= 0.90)}) | "
            f"{r['throughput_ratio']:.0%} ({ok(r['throughput_ratio'] >= before.get(r['database'], 0))}) | "
            f"{r['floor_p99_ms']:.2f} ms | "
            f"{r['decision_p99_ms']:.2f} ms | {r['p99_ratio']:.2f}× ({ok(r['p99_ratio'] <= 2)}) | "
            f"{r['batch_median_s'] * 1000:.0f} ms / {r['batch_max_s'] * 1000:.0f} ms "
            f"({ok(r['batch_max_s'] < 1)}) |")
    lines += ["", "Per round (req/s, p99 ms): floor, one-query floor, decision:", ""]
    for r in results:
        rounds = "; ".join(f"{x['floor']['rps']:.0f}/{x['floor']['p99_ms']:.1f}, "
                           f"{x['query']['rps']:.0f}/{x['query']['p99_ms']:.1f}, "
                           f"{x['decision']['rps']:.0f}/{x['decision']['p99_ms']:.1f}" for x in r["rounds"])
        lines.append(f"- {r['database']}: {rounds}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=10, help="wrk duration per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating floor/decision rounds")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--write", action="store_true", help="Update the figures in benchmarks/RESULTS.md")
    parser.add_argument("--without-policy", dest="policy", action="store_false",
                        help="Leave the organization's data residency policy at its default (the run before it)")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (Debian package `wrk`).")
    workers = os.cpu_count() or 1
    micro = decide_microbenchmark()
    print(f"decide(): {micro:.2f} us per call", flush=True)
    results = []
    for name in args.databases.split(","):
        database = sqlite_database() if name == "sqlite" else postgres_database()
        with database as url:
            print(f"== {name}", flush=True)
            results.append(bench_database(name, url, seconds=args.seconds, rounds=args.rounds, workers=workers,
                                          connections=args.connections, policy=args.policy))
            print(json.dumps({k: v for k, v in results[-1].items() if k != "rounds"}, indent=1), flush=True)
    text = report(results, micro, args, workers)
    print("\n" + text)
    if args.write:
        current = RESULTS.read_text() if RESULTS.exists() else f"{BEGIN}\n{END}\n"
        before, _, rest = current.partition(BEGIN)
        _, _, after = rest.partition(END)
        RESULTS.write_text(f"{before}{BEGIN}\n{text}\n{END}{after}")
        print(f"\nWrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
