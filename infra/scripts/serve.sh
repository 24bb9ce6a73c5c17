#!/usr/bin/env bash
# THE embedded command: one process, no Kafka and no PostgreSQL server needed.
# Creates .venv and installs the pinned dependencies when needed, then runs `relais serve`
# (arguments are passed on, e.g. `bash infra/scripts/serve.sh --port 8080`).
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$RELAIS_ROOT"
ensure_venv
exec "$RELAIS_VENV/bin/relais" serve "$@"
