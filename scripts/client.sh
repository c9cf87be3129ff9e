#!/usr/bin/env bash
# Generate the typed Python client of API v1 (`make client`, docs/api.md "Generated client").
#
#   scripts/client.sh [OUT]   default OUT: clients/python
#
# Writes OUT/openapi.json (the schema, validated by openapi-spec-validator) and
# OUT/coursepack-client/ (openapi-python-client). Any warning from either is a
# failure: a warning means part of the API is missing from the client.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-clients/python}"
venv="$PWD/.venv/bin"
mkdir -p "$out"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

env -u DATABASE_URL COURSEPACK_DEBUG=0 "$venv/python" manage.py export_openapi_schema \
    --api coursepack.http.api.api --output "$out/openapi.json" --indent 1 --sorted
"$venv/openapi-spec-validator" "$out/openapi.json" >"$log" 2>&1 || { cat "$log"; exit 1; }

rm -rf "$out/coursepack-client"
PATH="$venv:$PATH" "$venv/openapi-python-client" generate \
    --path "$out/openapi.json" --output-path "$out/coursepack-client" \
    --config clients/python/config.yaml >"$log" 2>&1 || { cat "$log"; exit 1; }
if grep -qiE "warning|error|skipping|unable|cannot" "$log"; then
    cat "$log"
    echo "openapi-python-client warned: fix the schema (see above)" >&2
    exit 1
fi
echo "client written to $out/coursepack-client"
