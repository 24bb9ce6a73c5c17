#!/usr/bin/env bash
# Regenerate constraints.txt (the lock) from .venv after a change of dependencies in pyproject.toml:
#   .venv/bin/pip install -e ".[test]" && bash infra/scripts/lock.sh
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$RELAIS_ROOT"
[ -x "$RELAIS_PY" ] || die ".venv absent : lancez d'abord bash infra/scripts/test.sh ou serve.sh."
{
    echo "# The lock: exact versions of every Python dependency of relais (and its [test] extra)."
    echo "# Used as pip install -c constraints.txt -e \".[test]\" by infra/scripts/test.sh and serve.sh."
    echo "# Regenerate with: bash infra/scripts/lock.sh"
    "$RELAIS_PY" -m pip freeze --exclude-editable --disable-pip-version-check | LC_ALL=C sort -f
} >constraints.txt.tmp
mv constraints.txt.tmp constraints.txt
say "constraints.txt : $(grep -vc '^#' constraints.txt) paquets épinglés"
