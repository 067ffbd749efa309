#!/usr/bin/env bash
# Idempotent setup shared by the two README commands: a virtualenv with pinned packages.
# With --system it also installs the Debian packages the full test run needs.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

if [[ "${1:-}" == "--system" ]]; then
  need=()
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
  command -v wrk >/dev/null 2>&1 || need+=(wrk)  # for benchmarks/decisions.py
  command -v redis-server >/dev/null 2>&1 || need+=(redis-server)  # the shared rate-limit store, tested
  if ((${#need[@]})); then
    echo "==> apt-get install ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
fi

stamp=.venv/.requirements.sha
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [[ ! -x .venv/bin/python || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  echo "==> creating .venv and installing requirements-dev.txt"
  "$PYTHON" -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import django, rest_framework, guardian, playwright" 
  echo "$want" > "$stamp"
fi
