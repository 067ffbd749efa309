#!/usr/bin/env bash
# README command 1: set up, load demo data into the SQLite database, serve the console.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export DEBUG=${DEBUG:-false}
PORT=${PORT:-8000}
# The demo's mail (invitations, notices) is written as files here, never sent anywhere.
export EMAIL_FILE_PATH=${EMAIL_FILE_PATH:-$PWD/demo-mail}
export CONSOLE_BASE_URL=${CONSOLE_BASE_URL:-http://127.0.0.1:${PORT}}
mkdir -p "$EMAIL_FILE_PATH" staticfiles  # WhiteNoise warns when STATIC_ROOT is missing (collectstatic is optional)
.venv/bin/python manage.py migrate --noinput -v0
# WhiteNoise serves from the apps either way; collecting fills STATIC_ROOT, so it warns of no missing folder
.venv/bin/python manage.py collectstatic --noinput -v0
.venv/bin/python manage.py seed_demo
echo
echo "Residency Console: http://127.0.0.1:${PORT}/   (Django admin: http://127.0.0.1:${PORT}/admin/, API docs: http://127.0.0.1:${PORT}/v1/docs)"
echo "Mail goes to ${EMAIL_FILE_PATH}/ (one file per message); staff@residency.test reads it at http://127.0.0.1:${PORT}/dev/sent-mail/"
echo "Sign in with any login above, e.g. ana@acme.test / demo-pass-2026. Ctrl-C stops the server."
exec .venv/bin/python manage.py runserver "127.0.0.1:${PORT}" --noreload
