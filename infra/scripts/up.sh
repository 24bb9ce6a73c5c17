#!/usr/bin/env bash
# Start the development PostgreSQL and Apache Kafka (idempotent: run it as often as you like).
#   - PostgreSQL on 127.0.0.1:55432 (role relais / relais, database relais), migrations applied
#   - Kafka 4.x KRaft single node on 127.0.0.1:59092 (controller 59093), topics applied
# Where RELAIS_DATABASE_URL / RELAIS_KAFKA_BOOTSTRAP name another server, that server is used
# as it is (it must answer) and nothing is started for it. Logs: /var/tmp/relais/*.log.
# Stop with infra/scripts/down.sh.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
hold_infra_lock "${BASH_SOURCE[0]}" "$@"
cd "$RELAIS_ROOT"

t0=$SECONDS
DB_URL="${RELAIS_DATABASE_URL:-$RELAIS_DEFAULT_DATABASE_URL}"
BOOTSTRAP="${RELAIS_KAFKA_BOOTSTRAP:-$RELAIS_DEFAULT_KAFKA_BOOTSTRAP}"
export RELAIS_DATABASE_URL="$DB_URL" RELAIS_KAFKA_BOOTSTRAP="$BOOTSTRAP"
mkdir -p "$RELAIS_RUN_DIR"

ensure_venv
# Fail fast, before anything starts, on what the local broker would need (Java, Maven).
if [ "$BOOTSTRAP" = "$RELAIS_DEFAULT_KAFKA_BOOTSTRAP" ]; then bash infra/scripts/kafka.sh preflight; fi

# --- PostgreSQL ---
if [ "$DB_URL" = "$RELAIS_DEFAULT_DATABASE_URL" ]; then
    bash infra/postgres/server.sh start
else
    say "PostgreSQL : RELAIS_DATABASE_URL désigne un autre serveur, rien à démarrer"
fi
"$RELAIS_PY" -m infra.postgres.migrations apply

# --- Kafka ---
if [ "$BOOTSTRAP" = "$RELAIS_DEFAULT_KAFKA_BOOTSTRAP" ]; then
    bash infra/scripts/kafka.sh start
else
    say "Kafka : RELAIS_KAFKA_BOOTSTRAP=$BOOTSTRAP désigne un autre broker, rien à démarrer"
    "$RELAIS_PY" -m infra.kafka.topics ping || exit 1
    "$RELAIS_PY" -m infra.kafka.topics apply || exit 1
fi

# --- The same check the application does ---
"$RELAIS_VENV/bin/relais" check database kafka | sed 's/^relais check : ok : /[relais] ok : /'
say "infrastructure prête en $((SECONDS - t0)) s (arrêt : bash infra/scripts/down.sh)"
