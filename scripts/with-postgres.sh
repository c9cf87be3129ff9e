#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL cluster.
#
#   scripts/with-postgres.sh uv run pytest
#
# initdb into a temp dir, start on 127.0.0.1:<free port> (socket in the data dir),
# createdb "coursepack", export DATABASE_URL, run the command, then stop the
# server and delete the data -- also when the command fails or is interrupted.
# The cluster is tuned for disposable data (fsync off). Exits with the
# command's status. PG_BIN overrides where initdb/pg_ctl are looked up.
set -euo pipefail

if [ $# -eq 0 ]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi

if [ -z "${PG_BIN:-}" ]; then
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$PG_BIN" ] && command -v initdb >/dev/null; then
        PG_BIN=$(dirname "$(command -v initdb)")
    fi
fi
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
    echo "with-postgres: no PostgreSQL server binaries (initdb) found; set PG_BIN" >&2
    exit 1
fi

# initdb refuses to run as root: as root, run the server as the postgres user.
if [ "$(id -u)" -eq 0 ]; then
    AS_PG=(runuser -u postgres --)
else
    AS_PG=()
fi

PGDATA=$(mktemp -d "${TMPDIR:-/tmp}/coursepack-pg.XXXXXX")
if [ "$(id -u)" -eq 0 ]; then chown postgres: "$PGDATA"; fi
chmod 700 "$PGDATA"

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -f "$PGDATA/postmaster.pid" ]; then
        "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$PGDATA"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

"${AS_PG[@]}" "$PG_BIN/initdb" -D "$PGDATA" -U postgres --auth=trust --encoding=UTF8 \
    --locale=C.UTF-8 --no-sync >"$PGDATA.initdb.log" 2>&1 \
    || { cat "$PGDATA.initdb.log" >&2; rm -f "$PGDATA.initdb.log"; exit 1; }
rm -f "$PGDATA.initdb.log"

# A port can be taken between probing and binding: retry a few times.
for attempt in 1 2 3 4 5; do
    PGPORT=$(free_port)
    if "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w -t 30 start \
        -o "-c listen_addresses=127.0.0.1 -p $PGPORT -c unix_socket_directories='$PGDATA' \
            -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null; then
        break
    fi
    if [ "$attempt" -eq 5 ]; then
        echo "with-postgres: server failed to start:" >&2
        cat "$PGDATA/server.log" >&2 || true
        exit 1
    fi
done

"${AS_PG[@]}" "$PG_BIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres coursepack

export DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/coursepack"
echo "with-postgres: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PGPORT (data $PGDATA)"

# Not exec: the EXIT trap must run after the command to stop the server.
set +e
"$@"
rc=$?
set -e
exit "$rc"
