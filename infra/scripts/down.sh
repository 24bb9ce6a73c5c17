#!/usr/bin/env bash
# Stop the development Kafka and PostgreSQL started by up.sh, leaving no process behind.
# Data stays in /var/tmp/relais (remove that folder for a clean slate). Servers that
# RELAIS_DATABASE_URL / RELAIS_KAFKA_BOOTSTRAP point at elsewhere are never touched.
set -euo pipefail
here="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=lib.sh
. "$here/lib.sh"
hold_infra_lock "${BASH_SOURCE[0]}" "$@"
rc=0
bash "$here/kafka.sh" stop || rc=1
bash "$here/../postgres/server.sh" stop || rc=1
exit $rc
