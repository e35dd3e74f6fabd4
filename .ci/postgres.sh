#!/usr/bin/env bash
# A throw-away PostgreSQL server for the draw register's tests.
#
#     pg_env="$(.ci/postgres.sh)" && eval "$pg_env"
#
# Installs PostgreSQL with apt-get if its server binaries are missing, creates a cluster in a new
# temporary directory (owned by the `postgres` user when run as root: initdb refuses root), starts
# it on 127.0.0.1 on a free port with trust authentication, creates a database, and prints
#
#     export BALANCER_TEST_POSTGRES=postgresql://postgres@127.0.0.1:PORT/balancer_test
#
# (and a comment saying how to stop it). Everything else goes to stderr, so stdout can be eval'd.
# If BALANCER_TEST_POSTGRES already names a server that answers, it is printed again unchanged.
# The server outlives the script (the tests need it); CI machines are thrown away afterwards.
set -euo pipefail

DB=balancer_test
SUPERUSER=postgres

log() { echo "postgres.sh: $*" >&2; }

if [[ -n "${BALANCER_TEST_POSTGRES:-}" ]] && command -v pg_isready >/dev/null \
    && pg_isready -q -d "$BALANCER_TEST_POSTGRES" 2>/dev/null; then
    log "BALANCER_TEST_POSTGRES already answers; reusing it"
    echo "export BALANCER_TEST_POSTGRES=$BALANCER_TEST_POSTGRES"
    exit 0
fi

find_bindir() {
    # Debian keeps the server binaries out of PATH, under /usr/lib/postgresql/<version>/bin.
    local d
    for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then echo "$d"; return 0; fi
    done
    if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
        dirname "$(readlink -f "$(command -v initdb)")"; return 0
    fi
    return 1
}

if ! bindir="$(find_bindir)"; then
    if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null; then
        log "PostgreSQL is not installed and cannot be installed here (needs root and apt-get)"
        exit 1
    fi
    log "installing PostgreSQL with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    bindir="$(find_bindir)" || { log "apt-get installed postgresql but no initdb/pg_ctl was found"; exit 1; }
fi
log "using $bindir"

# Run the server tools as `postgres` when we are root; as ourselves otherwise.
if [[ "$(id -u)" -eq 0 ]]; then
    if ! id "$SUPERUSER" >/dev/null 2>&1; then
        useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin "$SUPERUSER"
    fi
    as_owner() { runuser -u "$SUPERUSER" -- "$@"; }
else
    as_owner() { "$@"; }
fi

dir="$(mktemp -d "${TMPDIR:-/tmp}/balancer-pg.XXXXXX")"
chmod 700 "$dir"
if [[ "$(id -u)" -eq 0 ]]; then chown "$SUPERUSER": "$dir"; fi
data="$dir/data"

as_owner "$bindir/initdb" -D "$data" -U "$SUPERUSER" --auth=trust --encoding=UTF8 --no-locale \
    --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# The chosen port may be taken between choosing and starting: try a few.
# Throw-away data: durability off for speed (a killed client's transaction still rolls back).
settings="-c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -c max_connections=100"
settings+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
started=""
for _ in 1 2 3 4 5; do
    port="$(free_port)"
    if as_owner "$bindir/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 start \
        -o "$settings -p $port" >&2; then
        started=yes
        break
    fi
    log "could not start on port $port; trying another"
done
if [[ -z "$started" ]]; then
    cat "$dir/server.log" >&2 || true
    exit 1
fi

"$bindir/createdb" -h 127.0.0.1 -p "$port" -U "$SUPERUSER" "$DB" >&2
log "server running on 127.0.0.1:$port, data in $data"

echo "export BALANCER_TEST_POSTGRES=postgresql://$SUPERUSER@127.0.0.1:$port/$DB"
if [[ "$(id -u)" -eq 0 ]]; then
    echo "# stop it with: runuser -u $SUPERUSER -- $bindir/pg_ctl -D $data stop -m fast"
else
    echo "# stop it with: $bindir/pg_ctl -D $data stop -m fast"
fi
