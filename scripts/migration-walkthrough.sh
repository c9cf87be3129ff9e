#!/usr/bin/env bash
# Run every command of docs/migration.md on a fresh SQLite database and print each
# command with its real output (the doc's listings are pasted from this).
#
#   scripts/migration-walkthrough.sh > /tmp/walkthrough.txt
#
# Works in a temporary directory (COURSEPACK_VAR_DIR) that is deleted afterwards;
# starts a development server on a free 127.0.0.1 port for the API calls and
# stops it on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

export COURSEPACK_VAR_DIR
COURSEPACK_VAR_DIR=$(mktemp -d "${TMPDIR:-/tmp}/coursepack-walkthrough.XXXXXX")
unset DATABASE_URL
export COURSEPACK_DEBUG=0
PY=(.venv/bin/python)
SERVER_PID=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    rm -rf "$COURSEPACK_VAR_DIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Print a command as the reader types it (var/ instead of the temp dir), then its output.
show() {
    echo '```console'
    echo "\$ $*" | sed "s#$COURSEPACK_VAR_DIR#var#g; s#\.venv/bin/python #python #"
    "$@" 2>&1 | sed "s#$COURSEPACK_VAR_DIR#var#g" || true
    echo '```'
    echo
}

V=$COURSEPACK_VAR_DIR
"${PY[@]}" manage.py migrate --noinput -v 0
DJANGO_SUPERUSER_PASSWORD=walkthrough-admin "${PY[@]}" manage.py createsuperuser \
    --noinput --username admin --email admin@example.org >/dev/null

show "${PY[@]}" manage.py build_legacy_example --to "$V/legacy.sqlite3" --mapping "$V/groups.yaml"
echo '```console'
echo '$ sqlite3 var/legacy.sqlite3 "SELECT id, name, package_id FROM courses"'
sqlite3 "$V/legacy.sqlite3" "SELECT id, name, package_id FROM courses"
echo '```'
echo
show cat "$V/groups.yaml"
show "${PY[@]}" manage.py import_legacy --from "$V/legacy.sqlite3" --mapping "$V/groups.yaml" --dry-run
show "${PY[@]}" manage.py import_legacy --from "$V/legacy.sqlite3" --mapping "$V/groups.yaml" --report "$V/legacy-report" --no-progress
show "${PY[@]}" manage.py import_legacy --from "$V/legacy.sqlite3" --mapping "$V/groups.yaml" --skip-orphans --report "$V/legacy-report" --no-progress
show head -c 700 "$V/legacy-report.json"
echo; echo
show "${PY[@]}" manage.py import_legacy --from "$V/legacy.sqlite3" --mapping "$V/groups.yaml" --skip-orphans --report "$V/legacy-report-2" --no-progress
# The same run as a background job: queued, run by the worker, followed.
echo '```console'
echo '$ python manage.py start_job legacy_import --from var/legacy.sqlite3 --mapping var/groups.yaml --skip-orphans --report var/legacy-report-3 --detach'
"${PY[@]}" manage.py start_job legacy_import --from "$V/legacy.sqlite3" --mapping "$V/groups.yaml" \
    --skip-orphans --report "$V/legacy-report-3" --detach 2>&1 | sed "s#$V#var#g"
JOB=$("${PY[@]}" manage.py shell -v 0 -c "from coursepack.jobs.models import Job; print(Job.objects.latest('pk').pk)" | tail -n 1)
echo '$ python manage.py run_jobs --batch     # the worker; `make run` starts one'
"${PY[@]}" manage.py run_jobs --batch >/dev/null 2>&1
echo "\$ python manage.py start_job --watch $JOB 2>/dev/null"
"${PY[@]}" manage.py start_job --watch "$JOB" 2>/dev/null | sed "s#$V#var#g"
echo '```'
echo
show "${PY[@]}" manage.py rebuild_statuses --no-progress
show "${PY[@]}" manage.py verify_audit
show "${PY[@]}" manage.py export_package 1 --format yaml --output "$V/cyber-v1.yaml"
show cat "$V/cyber-v1.yaml"
show "${PY[@]}" manage.py export_package 1 --history
"${PY[@]}" - "$V/cyber-v1.yaml" <<'PYEOF'
import sys
path = sys.argv[1]
text = open(path).read()
# Make Data Protection Basics optional in the next version.
text = text.replace("  - course: legacy-3\n    required: true", "  - course: legacy-3\n    required: false")
open(path, "w").write(text)
PYEOF
show "${PY[@]}" manage.py import_package "$V/cyber-v1.yaml" --as admin --into 1
show "${PY[@]}" manage.py export_package 1 --number 2 --format yaml --output "$V/cyber-v2.yaml"
"${PY[@]}" manage.py export_package 1 --number 1 --format yaml --output "$V/cyber-v1-original.yaml" 2>/dev/null
show diff -u --label cyber-v1.yaml --label cyber-v2.yaml "$V/cyber-v1-original.yaml" "$V/cyber-v2.yaml"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${PY[@]}" manage.py runserver "127.0.0.1:$PORT" --noreload >"$V/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/api/v1/openapi.json" && break; sleep 0.2; done
TOKEN=$("${PY[@]}" manage.py issue_token admin walkthrough)
export TOKEN PORT
echo '```console'
echo '$ TOKEN=$(python manage.py issue_token admin walkthrough)'
echo '$ curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:8000/api/v1/packages/2/export" > hr.json'
curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/packages/2/export" > "$V/hr.json"
echo '$ head -c 400 hr.json'
head -c 400 "$V/hr.json"; echo
echo '$ curl -s -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" --data @hr.json "http://127.0.0.1:8000/api/v1/package-files"'
curl -s -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" --data @"$V/hr.json" "http://127.0.0.1:$PORT/api/v1/package-files"; echo
echo '$ curl -s -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" --data '"'"'{"format": "coursepack-package/1"}'"'"' "http://127.0.0.1:8000/api/v1/package-files"'
curl -s -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" --data '{"format": "coursepack-package/1"}' "http://127.0.0.1:$PORT/api/v1/package-files"; echo
echo '```'
echo
echo '```console'
echo '$ curl -s -H "Authorization: Bearer $TOKEN" -H "Accept: application/yaml" "http://127.0.0.1:8000/api/v1/packages/2/export" > hr.yaml'
curl -s -H "Authorization: Bearer $TOKEN" -H "Accept: application/yaml" "http://127.0.0.1:$PORT/api/v1/packages/2/export" > "$V/hr.yaml"
echo '$ head -n 15 hr.yaml'
head -n 15 "$V/hr.yaml"
echo '$ sed "s/^  key: .*/  key: hr-compliance-copy/" hr.yaml > hr-copy.yaml'
sed "s/^  key: .*/  key: hr-compliance-copy/" "$V/hr.yaml" > "$V/hr-copy.yaml"
echo '$ curl -s -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/yaml" --data-binary @hr-copy.yaml "http://127.0.0.1:8000/api/v1/package-files"'
curl -s -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/yaml" --data-binary @"$V/hr-copy.yaml" "http://127.0.0.1:$PORT/api/v1/package-files"; echo
echo '$ curl -s -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: text/csv" --data "name,courses" "http://127.0.0.1:8000/api/v1/package-files"'
curl -s -X POST -H "Authorization: Bearer $TOKEN" -H "Content-Type: text/csv" --data "name,courses" "http://127.0.0.1:$PORT/api/v1/package-files"; echo
echo '```'
