#!/usr/bin/env bash
# `make test`: everything CI checks, in order, timing each stage.
#
# Setup failures stop at once; after that every stage runs even if an earlier
# one failed (one CI run shows every problem), and the exit status is non-zero
# if any stage failed. The pytest suite runs twice: SQLite, then PostgreSQL.
# Extra arguments are passed to both pytest runs.
set -uo pipefail
cd "$(dirname "$0")/.."

RUN=(.tools/bin/uv run --frozen --no-sync)
# Same as the Makefile: bytecode caches on, kept out of the source tree.
unset PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX="${PYTHONPYCACHEPREFIX:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/coursepack/pycache}"
SUMMARY=()
FAILED=0

now() { date +%s.%N; }
if [ -t 1 ]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD='' PLAIN=''; fi

stage() {
    local name=$1; shift
    printf '\n%s==> %s%s\n' "$BOLD" "$name" "$PLAIN"
    local start end rc
    start=$(now)
    "$@"
    rc=$?
    end=$(now)
    local took
    took=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1fs", b - a }')
    if [ "$rc" -eq 0 ]; then
        SUMMARY+=("$(printf '  ok    %7s  %s' "$took" "$name")")
    else
        SUMMARY+=("$(printf '  FAIL  %7s  %s (exit %d)' "$took" "$name" "$rc")")
        FAILED=1
    fi
    return "$rc"
}

summary() {
    printf '\n%s==> make test summary%s\n' "$BOLD" "$PLAIN"
    printf '%s\n' "${SUMMARY[@]}"
    if [ "$FAILED" -eq 0 ]; then echo "make test: all stages passed"; else echo "make test: FAILED"; fi
}
trap summary EXIT

TOTAL_START=$(now)
stage "setup: uv + locked .venv" scripts/bootstrap.sh || exit 1
stage "setup: system test deps (postgresql, chromium)" scripts/install-test-deps.sh || exit 1

stage "lint: uv.lock up to date" .tools/bin/uv lock --check --quiet
stage "lint: ruff check" "${RUN[@]}" ruff check .
stage "lint: mypy coursepack" "${RUN[@]}" mypy coursepack
stage "lint: import-linter" "${RUN[@]}" lint-imports

rm -rf test-artifacts/screenshots test-artifacts/playwright
stage "pytest on SQLite" env -u DATABASE_URL "${RUN[@]}" pytest "$@"
stage "pytest on PostgreSQL (throwaway cluster)" \
    env -u DATABASE_URL scripts/with-postgres.sh "${RUN[@]}" pytest "$@"
# The benchmarks at a tiny scale: proves their code still runs (fails on errors, never on timings).
stage "bench-smoke on SQLite" \
    env -u DATABASE_URL BENCH_SCALE=smoke BENCH_ENGINES=sqlite BENCH_OUT=test-artifacts/bench \
    scripts/bench.sh

SUMMARY+=("$(awk -v a="$TOTAL_START" -v b="$(now)" 'BEGIN { printf "        %6.1fs  total", b - a }')")
exit "$FAILED"
