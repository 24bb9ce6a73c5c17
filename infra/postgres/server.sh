#!/usr/bin/env bash
# The development PostgreSQL server: Debian's binaries, loopback only, port 55432,
# role relais / password relais, database relais. Data in $RELAIS_RUN_DIR/pg (default
# /var/tmp/relais/pg), outside the checkout. Run as the `postgres` OS user when root.
#   server.sh start    install the binaries if missing, initdb once, start, create role + db
#   server.sh stop     stop it (fast shutdown), leaving no process behind
#   server.sh status   exit 0 when it runs
set -euo pipefail
# shellcheck source=../scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"

PGDATA="$RELAIS_RUN_DIR/pg"
SOCK_DIR="$RELAIS_RUN_DIR/pg-socket"
LOG="$RELAIS_RUN_DIR/postgres.log"
PORT="$RELAIS_PG_PORT"

pg_bindir() {
    local d
    d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
    if [ -n "$d" ] && [ -x "$d/postgres" ] && [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
    d="$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/pg_ctl)")"
    if [ -x "$d/postgres" ] && [ -x "$d/initdb" ]; then echo "$d"; return 0; fi
    return 1
}

install_server() {
    is_root && command -v apt-get >/dev/null \
        || die "serveur PostgreSQL absent : installez-le (apt-get install postgresql) ou pointez RELAIS_DATABASE_URL vers votre serveur."
    say "PostgreSQL : serveur absent, installation (apt-get install postgresql)"
    # Debian's package would create and start a 'main' cluster on port 5432: keep services from
    # starting during the install (policy-rc.d), then stop whatever still came up.
    local guard=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        guard=1
    fi
    local ok=1 log="$RELAIS_RUN_DIR/apt-postgresql.log"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } >"$log" 2>&1 || ok=0
    if [ "$ok" = 0 ]; then
        # An interrupted dpkg run leaves "unmet dependencies": repair once, then try again.
        say "PostgreSQL : l'installation a échoué, réparation (apt-get -f install) puis nouvel essai"
        ok=1
        { DEBIAN_FRONTEND=noninteractive apt-get -f install -y -qq \
            && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } >>"$log" 2>&1 || ok=0
    fi
    [ -n "$guard" ] && rm -f /usr/sbin/policy-rc.d
    [ "$ok" = 1 ] || die "apt-get install postgresql a échoué (voir $log) : installez PostgreSQL à la main (apt-get install postgresql)."
    if command -v pg_lsclusters >/dev/null; then
        pg_lsclusters -h 2>/dev/null | awk '$4 == "online" {print $1, $2}' | while read -r ver name; do
            pg_ctlcluster "$ver" "$name" stop >/dev/null 2>&1 || true
        done
    fi
}

# as_pg CMD...: run as the postgres OS user when root (the server refuses to run as root).
as_pg() {
    # From / : the checkout may be a 0700 directory the postgres user cannot enter.
    if is_root; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

running() {
    local bin="$1"
    [ -f "$PGDATA/PG_VERSION" ] && as_pg "$bin/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1
}

psql_admin() {
    local bin="$1"; shift
    as_pg "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK_DIR" -p "$PORT" -U postgres -d postgres "$@"
}

init_cluster() {
    local bin="$1" version
    version="$("$bin/postgres" --version | sed -n 's/.* \([0-9][0-9]*\)\..*/\1/p')"
    if [ -f "$PGDATA/PG_VERSION" ]; then
        if [ "$(cat "$PGDATA/PG_VERSION")" != "$version" ]; then
            die "les données $PGDATA viennent de PostgreSQL $(cat "$PGDATA/PG_VERSION"), le serveur installé est $version : supprimez $PGDATA (données de développement) puis relancez infra/scripts/up.sh."
        fi
        return 0
    fi
    say "PostgreSQL $version : initdb -> $PGDATA"
    rm -rf "$PGDATA"
    mkdir -p "$PGDATA"
    is_root && chown postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    # Loopback-only development server: trust on the unix socket (a 0700 directory of the
    # postgres user), passwords (scram) over TCP.
    as_pg "$bin/initdb" -D "$PGDATA" -U postgres -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >"$RELAIS_RUN_DIR/initdb.log" 2>&1 \
        || { rm -rf "$PGDATA"; die "initdb a échoué (voir $RELAIS_RUN_DIR/initdb.log)."; }
    cat >>"$PGDATA/postgresql.conf" <<EOF

# --- Relais development server (infra/postgres/server.sh) ---
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$SOCK_DIR'
max_connections = 400
shared_buffers = 256MB
# Development and test data only: trade crash safety for speed.
fsync = off
synchronous_commit = off
full_page_writes = off
log_min_messages = warning
log_line_prefix = '%m [%p] %q%u@%d '
EOF
}

# foreign_server_answers: something that is not our cluster listens on the port and accepts the
# relais credentials (e.g. the compose.yaml container): use it as it is.
foreign_server_answers() {
    [ -x "$RELAIS_PY" ] || return 1
    "$RELAIS_PY" - "$RELAIS_DEFAULT_DATABASE_URL" <<'PY' >/dev/null 2>&1
import sys, psycopg
with psycopg.connect(sys.argv[1], connect_timeout=3) as conn:
    conn.execute("SELECT 1")
PY
}

start() {
    local bin
    mkdir -p "$RELAIS_RUN_DIR"
    chmod 755 "$RELAIS_RUN_DIR" 2>/dev/null || true
    if port_open "$PORT" && ! { bin="$(pg_bindir)" && running "$bin"; } && foreign_server_answers; then
        say "PostgreSQL : un serveur répond déjà sur 127.0.0.1:$PORT (démarré hors de ce script) ; utilisé tel quel"
        return 0
    fi
    bin="$(pg_bindir)" || { install_server; bin="$(pg_bindir)" || die "binaires PostgreSQL introuvables après installation : vérifiez le paquet postgresql."; }
    init_cluster "$bin"
    mkdir -p "$SOCK_DIR"
    if is_root; then chown postgres:postgres "$SOCK_DIR"; touch "$LOG"; chown postgres "$LOG"; fi
    chmod 700 "$SOCK_DIR"
    if running "$bin"; then
        say "PostgreSQL : déjà démarré sur 127.0.0.1:$PORT"
    else
        if port_open "$PORT"; then
            die "le port $PORT est pris par un autre programme : libérez-le (ss -ltnp | grep $PORT) ou pointez RELAIS_DATABASE_URL vers votre serveur."
        fi
        say "PostgreSQL : démarrage sur 127.0.0.1:$PORT, journal $LOG"
        as_pg "$bin/pg_ctl" start -D "$PGDATA" -l "$LOG" -w -t 60 -s \
            || die "PostgreSQL n'a pas démarré (voir $LOG) : corrigez l'erreur du journal puis relancez infra/scripts/up.sh."
    fi
    ensure_role_and_db "$bin"
}

ensure_role_and_db() {
    local bin="$1"
    psql_admin "$bin" <<'SQL' || die "création du rôle / de la base relais impossible (voir $LOG)."
SELECT 'CREATE ROLE relais LOGIN CREATEDB PASSWORD ''relais'''
WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'relais') \gexec
SELECT 'CREATE DATABASE relais OWNER relais'
WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'relais') \gexec
SQL
    say "PostgreSQL : rôle relais et base relais prêts (postgresql://relais:relais@127.0.0.1:$PORT/relais)"
}

stop() {
    local bin
    if ! bin="$(pg_bindir)" || ! running "$bin"; then
        say "PostgreSQL : arrêté"
        return 0
    fi
    say "PostgreSQL : arrêt"
    local pid n=0
    pid="$(head -1 "$PGDATA/postmaster.pid" 2>/dev/null || true)"
    as_pg "$bin/pg_ctl" stop -D "$PGDATA" -m fast -w -t 60 -s \
        || as_pg "$bin/pg_ctl" stop -D "$PGDATA" -m immediate -w -t 30 -s \
        || die "PostgreSQL refuse de s'arrêter : voir $LOG."
    # Until its parent (init) reaps it, the exited postmaster still shows in ps: wait for that.
    while [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ "$n" -lt 100 ]; do
        sleep 0.1; n=$((n + 1))
    done
    say "PostgreSQL : arrêté"
}

status() {
    local bin
    if bin="$(pg_bindir)" && running "$bin"; then
        say "PostgreSQL : en marche sur 127.0.0.1:$PORT"
        return 0
    fi
    say "PostgreSQL : arrêté"
    return 1
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
