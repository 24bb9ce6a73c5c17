# Shared helpers of the infra scripts (sourced, not run).
# shellcheck shell=bash

RELAIS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# Runtime files (data, logs, pid files, jar cache) live outside the checkout: a clone may sit
# in a 0700 directory that the `postgres` OS user cannot enter.
RELAIS_RUN_DIR="${RELAIS_RUN_DIR:-/var/tmp/relais}"
RELAIS_VENV="$RELAIS_ROOT/.venv"
RELAIS_PY="$RELAIS_VENV/bin/python"

# Where the development servers listen (the defaults of services/settings.py). The ports may be
# overridden together with RELAIS_RUN_DIR to run a second, private pair of servers beside the
# development ones (bench/soak.py does: it restarts its servers, never the shared ones).
RELAIS_PG_PORT="${RELAIS_PG_PORT:-55432}"
RELAIS_KAFKA_PORT="${RELAIS_KAFKA_PORT:-59092}"
RELAIS_KAFKA_CONTROLLER_PORT="${RELAIS_KAFKA_CONTROLLER_PORT:-59093}"
RELAIS_DEFAULT_DATABASE_URL="postgresql://relais:relais@127.0.0.1:$RELAIS_PG_PORT/relais"
RELAIS_DEFAULT_KAFKA_BOOTSTRAP="127.0.0.1:$RELAIS_KAFKA_PORT"

say() { printf '[relais] %s\n' "$*"; }
# die MESSAGE: one clear line (what is wrong + how to fix it) on stderr, exit 1.
die() { printf '[relais] ERREUR : %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

# hold_infra_lock SCRIPT ARGS...: re-run SCRIPT under an exclusive lock on $RELAIS_RUN_DIR/infra.lock,
# so that two up.sh / down.sh (two shells, two clones) never start or stop the servers at once.
# flock -o: the lock is not inherited by the servers the script starts.
hold_infra_lock() {
    [ -n "${RELAIS_INFRA_LOCKED:-}" ] && return 0
    command -v flock >/dev/null || return 0
    mkdir -p "$RELAIS_RUN_DIR"
    local lock="$RELAIS_RUN_DIR/infra.lock" script="$1"; shift
    if ! flock -n "$lock" true; then
        say "une autre exécution de up.sh / down.sh est en cours : attente de sa fin"
    fi
    RELAIS_INFRA_LOCKED=1 exec flock -o "$lock" bash "$script" "$@"
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pip_progress LOG: pip's output (stdin) goes whole to LOG; the terminal gets a few lines:
# how many packages are resolved (every 10), how many are being installed, and the end with its
# duration, so that a cold 90 s install never looks stuck.
pip_progress() {
    local log="$1" line collected=0 start=$SECONDS
    : >"$log"
    while IFS= read -r line; do
        printf '%s\n' "$line" >>"$log"
        case "$line" in
            Collecting*|Requirement\ already\ satisfied*)
                collected=$((collected + 1))
                [ $((collected % 10)) = 0 ] && say "  pip : $collected paquets résolus ($((SECONDS - start)) s)" ;;
            Installing\ collected\ packages:*)
                say "  pip : $collected paquets résolus, installation de $(printf '%s' "${line#*:}" | tr ',' '\n' | grep -c .) paquets ($((SECONDS - start)) s)" ;;
            Successfully\ installed*)
                say "  pip : installé en $((SECONDS - start)) s" ;;
        esac
    done
}

# ensure_venv: .venv exists and holds the project installed with the pinned constraints.
# Reinstalls only when pyproject.toml or constraints.txt changed since the last install.
ensure_venv() {
    local py stamp want
    if [ ! -x "$RELAIS_PY" ]; then
        py="$(command -v python3 || true)"
        [ -n "$py" ] || die "python3 introuvable : installez Python >= 3.11 (apt-get install python3 python3-venv)."
        "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
            || die "$("$py" -V 2>&1) est trop ancien : Relais demande Python >= 3.11 (mettez un python3 récent dans le PATH)."
        say "création de l'environnement virtuel .venv ($("$py" -V 2>&1))"
        if ! "$py" -m venv "$RELAIS_VENV" >/dev/null 2>&1; then
            rm -rf "$RELAIS_VENV"
            if is_root && command -v apt-get >/dev/null && [ "${py#/usr/bin/}" != "$py" ]; then
                say "python3-venv absent : installation (apt-get install python3-venv)"
                { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv; } >/dev/null 2>&1 || true
            fi
            "$py" -m venv "$RELAIS_VENV" \
                || die "python3 -m venv a échoué : installez le paquet python3-venv (apt-get install python3-venv)."
        fi
    fi
    stamp="$RELAIS_VENV/.relais-install-stamp"
    want="$(cat "$RELAIS_ROOT/pyproject.toml" "$RELAIS_ROOT/constraints.txt" 2>/dev/null | sha256sum | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ] || ! "$RELAIS_PY" -c 'import services, kafka, psycopg, pytest' 2>/dev/null; then
        say "installation des dépendances Python (pip install -c constraints.txt -e .[test])"
        mkdir -p "$RELAIS_RUN_DIR"
        if ! (cd "$RELAIS_ROOT" && set -o pipefail && "$RELAIS_PY" -m pip install --disable-pip-version-check \
                --progress-bar off -c constraints.txt -e ".[test]" 2>&1 | pip_progress "$RELAIS_RUN_DIR/pip.log"); then
            tail -n 15 "$RELAIS_RUN_DIR/pip.log" >&2
            die "pip install a échoué (fin du journal ci-dessus, tout dans $RELAIS_RUN_DIR/pip.log) : vérifiez l'accès à PyPI et constraints.txt."
        fi
        printf '%s\n' "$want" >"$stamp"
    fi
}

# find_java: prints the java binary to use (RELAIS_JAVA, else JAVA_HOME, else PATH), or dies.
find_java() {
    local java="${RELAIS_JAVA:-}"
    if [ -z "$java" ] && [ -n "${JAVA_HOME:-}" ]; then java="$JAVA_HOME/bin/java"; fi
    if [ -z "$java" ]; then java="$(command -v java || true)"; fi
    if [ -z "$java" ] || [ ! -x "$java" ]; then
        die "Java introuvable${java:+ ($java)} : Kafka demande Java 17 ou plus ; installez-le (apt-get install openjdk-17-jre-headless) ou pointez JAVA_HOME / RELAIS_JAVA vers un JDK 17+."
    fi
    local major
    major="$("$java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -1)"
    major="${major#1.}"
    if [ -z "$major" ] || [ "${major%%.*}" -lt 17 ] 2>/dev/null; then
        die "Java ${major:-?} trouvé ($java) : Kafka 4 demande Java 17 ou plus ; pointez JAVA_HOME / RELAIS_JAVA vers un JDK 17+."
    fi
    printf '%s\n' "$java"
}
