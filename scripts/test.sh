#!/usr/bin/env bash
# README command 2: set up everything, then lint, check, and run the whole suite on SQLite
# and on a throwaway PostgreSQL server that this script starts and stops. Browser tests run
# in Debian's headless Chromium in both passes, except the console sweep (marker `sweep`: every
# console page as seven kinds of person at two widths, with axe-core), which checks rendered
# pages, not the database, and so runs once, in the SQLite pass.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --system
PY=.venv/bin/python
export DJANGO_SETTINGS_MODULE=config.settings.test

echo "==> ruff"
.venv/bin/ruff check .
echo "==> lint-imports (the layers in docs/ARCHITECTURE.md)"
.venv/bin/lint-imports --no-cache >/dev/null || .venv/bin/lint-imports --no-cache
echo "==> manage.py check / makemigrations --check"
$PY manage.py check
$PY manage.py makemigrations --check --dry-run >/dev/null || { echo "Missing migrations: run makemigrations"; exit 1; }
echo "==> OpenAPI document (docs/openapi.json is what the code generates, and valid)"
$PY manage.py openapi_document --check
.venv/bin/openapi-spec-validator docs/openapi.json

echo "==> pytest on SQLite (with the console sweep)"
unset DATABASE_URL
export SWEEP_ARTIFACTS=${SWEEP_ARTIFACTS:-$PWD/artifacts/console-sweep}
echo "    the sweep's phone-width (390 px) screenshots and its list of pages go to $SWEEP_ARTIFACTS"
$PY -m pytest -q -m "not postgres_only" "$@"
echo "==> console sweep artifacts: $SWEEP_ARTIFACTS ($(find "$SWEEP_ARTIFACTS" -name '*.png' 2>/dev/null | wc -l) phone-width screenshots; pages.txt lists every page visited)"
grep -h '^# sweep took' "$SWEEP_ARTIFACTS/pages.txt" 2>/dev/null || true
echo "==> schemathesis on SQLite (the OpenAPI document against a live server)"
$PY scripts/fuzz_api.py --max-time "${FUZZ_SECONDS:-75}"

echo "==> pytest on PostgreSQL (throwaway server)"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
PGDIR=$(mktemp -d /tmp/rcpg.XXXXXX)
chown postgres "$PGDIR"
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# runuser keeps our working directory, which the postgres user may not be able to enter
pg() { (cd / && runuser -u postgres -- "$@"); }
stop_pg() { pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$PGDIR"; }
trap stop_pg EXIT
pg "$PGBIN/initdb" -D "$PGDIR/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -w -l "$PGDIR/log" \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $PGDIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
# Two roles, as in production (README "PostgreSQL roles"): the suite logs in as the schema owner,
# which creates and migrates the test database, then runs every test as the runtime role, which
# may read and append the audit log but never change it (tests/conftest.py: django_db_setup).
psql_admin() { "$PGBIN/psql" -q -h 127.0.0.1 -p "$PORT" -U postgres -c "$1" >/dev/null; }
psql_admin "CREATE ROLE residency_owner LOGIN CREATEDB"
psql_admin "CREATE ROLE residency_app LOGIN"
psql_admin "GRANT residency_app TO residency_owner"  # the owner may SET ROLE to the runtime role, never the reverse
export DATABASE_URL="postgres://residency_owner@127.0.0.1:$PORT/residency"
export TEST_DATABASE_RUNTIME_ROLE=residency_app
$PY -m pytest -q -m "not sweep" "$@"  # the sweep ran in the SQLite pass
echo "==> schemathesis on PostgreSQL"
$PY scripts/fuzz_api.py --max-time "${FUZZ_SECONDS:-75}"
