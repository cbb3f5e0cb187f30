# Shared by scripts/test, scripts/demo and scripts/bench: install what is missing, find tools.
# shellcheck shell=bash

say() { printf '==> %s\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# PostgreSQL 15 server binaries (initdb, pg_ctl) and pg_config come from Debian's packages.
ensure_postgres() {
    if ! command -v pg_config >/dev/null 2>&1 || [ ! -x "$(pg_config --bindir 2>/dev/null)/initdb" ]; then
        say "installing PostgreSQL (apt-get install postgresql libpq-dev)"
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql libpq-dev >/dev/null
    fi
    PG_BIN="$(pg_config --bindir)"
    export PG_BIN
}

# Swift comes with the machine image (/opt/swift); it cannot be downloaded here.
ensure_swift() {
    if ! command -v swift >/dev/null 2>&1; then
        if [ -x /opt/swift/usr/bin/swift ]; then export PATH="/opt/swift/usr/bin:$PATH"; else
            echo "error: swift is not installed; install the Swift 6 toolchain (https://swift.org/install) and re-run" >&2
            exit 3
        fi
    fi
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Runs a PostgreSQL program as the postgres OS user when we are root (the server refuses root).
pg_as_server_user() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# A throwaway cluster for tests and benchmarks: trust auth on loopback, in a temp folder.
# Usage: start_throwaway_cluster [fast]; sets THROWAWAY_DIR, THROWAWAY_PORT, THROWAWAY_URL.
start_throwaway_cluster() {
    THROWAWAY_DIR="$(mktemp -d /tmp/registry-pg.XXXXXX)"
    chmod 755 "$THROWAWAY_DIR"
    mkdir -m 700 "$THROWAWAY_DIR/data"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$THROWAWAY_DIR/data"
    THROWAWAY_PORT="$(free_port)"
    (cd / && pg_as_server_user "$PG_BIN/initdb" -D "$THROWAWAY_DIR/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null)
    {
        echo "listen_addresses = '127.0.0.1'"
        echo "port = $THROWAWAY_PORT"
        echo "unix_socket_directories = '$THROWAWAY_DIR/data'"
        # Every test suite runs at once, each with its own pool (and the command-line tests' binaries
        # with theirs): at 200 the suites' start-up burst was refused "too many clients" once #15's
        # suites joined.
        echo "max_connections = 400"
        # The embedded cluster's settings (RegistryStorage/EmbeddedCluster.swift), so benchmarks
        # measure what `registry demo` and `scripts/demo` get.
        echo "max_wal_size = '16GB'"; echo "checkpoint_timeout = '15min'"; echo "shared_buffers = '512MB'"; echo "wal_buffers = '64MB'"
        if [ "${1:-}" = fast ]; then
            # Tests only: durability off for speed. Never for data anyone keeps or for benchmarks.
            echo "fsync = off"; echo "synchronous_commit = off"; echo "full_page_writes = off"
        fi
    } >> "$THROWAWAY_DIR/data/postgresql.conf"
    (cd / && pg_as_server_user "$PG_BIN/pg_ctl" -D "$THROWAWAY_DIR/data" -l "$THROWAWAY_DIR/data/server.log" -w -t 60 start >/dev/null)
    THROWAWAY_URL="postgres://postgres@127.0.0.1:$THROWAWAY_PORT/postgres"
    export THROWAWAY_DIR THROWAWAY_PORT THROWAWAY_URL
}

stop_throwaway_cluster() {
    [ -n "${THROWAWAY_DIR:-}" ] || return 0
    (cd / && pg_as_server_user "$PG_BIN/pg_ctl" -D "$THROWAWAY_DIR/data" -m immediate -w -t 60 stop >/dev/null 2>&1) || true
    rm -rf "$THROWAWAY_DIR"
    THROWAWAY_DIR=""
}
