#!/usr/bin/env bash
# `make bench` / `make bench-smoke`: generate data, then benchmark, on each engine.
#
#   BENCH_SCALE=full|small|smoke   how much data (default: full; see coursepack/bench/scales.py)
#   BENCH_ENGINES="sqlite postgresql"  which databases (default: both)
#   BENCH_SEED=1                   the generator's seed
#   BENCH_OUT=var/bench            where each engine's table (.md) and rows (.json) are written
#   BENCH_ONLY=reports,counts      only these benchmarks (run_benchmarks --only; default: all)
#
# SQLite runs on a fresh file in a temp dir; PostgreSQL on a throwaway cluster
# (scripts/with-postgres.sh). Each engine prints one table; all of them are
# printed again at the end. The HTTP benchmark's server listens on 127.0.0.1
# only and is stopped on exit, also when interrupted. Exits non-zero if a
# benchmark failed with an error -- never because of a timing.
set -euo pipefail
cd "$(dirname "$0")/.."

SCALE=${BENCH_SCALE:-full}
ENGINES=${BENCH_ENGINES:-sqlite postgresql}
SEED=${BENCH_SEED:-1}
OUT=${BENCH_OUT:-var/bench}
ONLY=()
if [ -n "${BENCH_ONLY:-}" ]; then ONLY=(--only "$BENCH_ONLY"); fi
RUN=(.tools/bin/uv run --frozen --no-sync)

# Timings without DEBUG's query log; bytecode caches as in the Makefile.
export COURSEPACK_DEBUG=0
unset PYTHONDONTWRITEBYTECODE
export PYTHONPYCACHEPREFIX="${PYTHONPYCACHEPREFIX:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/coursepack/pycache}"

# One engine, in the environment the caller set up (DATABASE_URL).
if [ "${1:-}" = "--engine" ]; then
    engine=$2
    work=$3
    progress=(--no-progress)
    if [ -t 2 ]; then progress=(); fi
    now() { date +%s.%N; }
    t0=$(now)
    "${RUN[@]}" python manage.py migrate --noinput -v 0
    t1=$(now)
    "${RUN[@]}" python manage.py generate_scale_data --scale "$SCALE" --seed "$SEED" "${progress[@]}"
    t2=$(now)
    BENCH_SERVER_PIDFILE="$work/server.pid" "${RUN[@]}" python manage.py run_benchmarks \
        --scale "$SCALE" --log-dir "$work" ${ONLY[@]+"${ONLY[@]}"} \
        --markdown-out "$OUT/bench-$engine-$SCALE.md" --json-out "$OUT/bench-$engine-$SCALE.json"
    t3=$(now)
    awk -v e="$engine" -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" 'BEGIN {
        printf "%s: migrate %.0f s, generate %.0f s, benchmarks %.0f s, total %.0f s\n", e, b - a, c - b, d - c, d - a }' \
        | tee -a "$OUT/bench-$engine-$SCALE.md"
    exit 0
fi

scripts/bootstrap.sh
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/coursepack-bench.XXXXXX")

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    # The benchmark stops its server itself; this covers a benchmark that was killed.
    if [ -s "$WORK/server.pid" ]; then
        kill -TERM -- "-$(cat "$WORK/server.pid")" 2>/dev/null || true
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

FAILED=0
for engine in $ENGINES; do
    rm -f "$OUT/bench-$engine-$SCALE.md"
    echo "==> bench ($SCALE) on $engine"
    case $engine in
        sqlite)
            DATABASE_URL="sqlite:///$WORK/bench.sqlite3" "$0" --engine sqlite "$WORK" || FAILED=1
            rm -f "$WORK"/bench.sqlite3*
            ;;
        postgresql)
            env -u DATABASE_URL scripts/with-postgres.sh "$0" --engine postgresql "$WORK" || FAILED=1
            ;;
        *)
            echo "bench: unknown engine $engine (sqlite, postgresql)" >&2
            FAILED=1
            ;;
    esac
done

echo
echo "==> bench ($SCALE): all tables"
for engine in $ENGINES; do
    if [ -f "$OUT/bench-$engine-$SCALE.md" ]; then
        echo
        cat "$OUT/bench-$engine-$SCALE.md"
    fi
done
exit "$FAILED"
