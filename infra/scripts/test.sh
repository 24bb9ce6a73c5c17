#!/usr/bin/env bash
# THE test command: venv + pinned dependencies, real PostgreSQL and Kafka (up.sh), then pytest
# over the whole tests/ tree (unit, integration, e2e). Extra arguments go to pytest in place of
# `tests` (e.g. `bash infra/scripts/test.sh tests/unit -x`).
# Exits non-zero when a test fails, and also when no test ran.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$RELAIS_ROOT"

ensure_venv
bash infra/scripts/up.sh
bash infra/scripts/browser.sh  # Chromium and axe-core for the screen's browser tests

if [ "$#" -eq 0 ]; then  # the whole suite (CI): the published SDL, error list and inbound schemas first
    say "publication : SDL, codes d'erreur, schémas entrants et changements du schéma (python -m gateway.published --check)"
    "$RELAIS_PY" -m gateway.published --check || die "publication : docs/ diffère du code (voir ci-dessus)."
fi

say "tests : pytest ${*:-tests}"
set +e
if [ "$#" -gt 0 ]; then
    "$RELAIS_PY" -m pytest "$@"
else
    "$RELAIS_PY" -m pytest tests
fi
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    die "aucun test n'a été exécuté (pytest code 5) : une suite vide ne passe pas ; vérifiez la sélection."
fi
[ "$rc" -eq 0 ] && say "tests : tous passés" || say "tests : ÉCHEC (pytest code $rc)"
exit "$rc"
