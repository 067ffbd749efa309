#!/usr/bin/env bash
# One benchmark against a fresh, throwaway database:
#   bash benchmarks/run.sh usage sqlite      # ingest 1,000,000 usage rows, then time the reports
#   bash benchmarks/run.sh usage postgres
#   bash benchmarks/run.sh audit sqlite      # 1,000,000 audit events: pages, API, export, verification
#   bash benchmarks/run.sh audit postgres
# An optional third argument changes the row count (default 1000000).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH=${1:?usage: bash benchmarks/run.sh usage|audit sqlite|postgres [rows]}
DB=${2:-sqlite}
ROWS=${3:-1000000}
PY=.venv/bin/python
export DJANGO_SETTINGS_MODULE=config.settings.base
TMP=$(mktemp -d /tmp/rcb.XXXXXX)
cleanup() {
  if [[ -n "${PGBIN:-}" ]]; then runuser -u postgres -- "$PGBIN/pg_ctl" -D "$TMP/data" -m immediate stop >/dev/null 2>&1 || true; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
case "$DB" in
  sqlite)
    export DATABASE_URL="sqlite:///$TMP/bench.sqlite3" ;;
  postgres)
    # the same throwaway cluster scripts/test.sh starts
    PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
    chown postgres "$TMP"
    PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    runuser -u postgres -- "$PGBIN/initdb" -D "$TMP/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$TMP/data" -w -l "$TMP/log" \
      -o "-c listen_addresses=127.0.0.1 -p $PORT -k $TMP -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
    "$PGBIN/psql" -q -h 127.0.0.1 -p "$PORT" -U postgres -c "CREATE DATABASE bench" >/dev/null
    export DATABASE_URL="postgres://postgres@127.0.0.1:$PORT/bench" ;;
  *) echo "database must be sqlite or postgres" >&2; exit 2 ;;
esac
$PY manage.py migrate -v0
$PY "benchmarks/bench_$BENCH.py" "$ROWS"
