#!/usr/bin/env bash
# `make run`'s server: collect static files, start the background-job worker,
# then serve with gunicorn (scripts/gunicorn.conf.py) until interrupted.
# The worker is stopped when the server stops. See docs/deploy.md.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}

"$PY" manage.py collectstatic --noinput --verbosity 0
if [ "${COURSEPACK_WORKER:-1}" = "1" ]; then
    "$PY" manage.py run_jobs &
    WORKER=$!
    trap 'kill "$WORKER" 2>/dev/null || true; wait "$WORKER" 2>/dev/null || true' EXIT
fi
"$PY" -m gunicorn --config scripts/gunicorn.conf.py coursepack.wsgi:application
