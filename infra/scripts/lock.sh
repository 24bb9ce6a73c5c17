#!/usr/bin/env bash
# Regenerate constraints.txt (the lock) after a change of dependencies in pyproject.toml.
# Resolves in a throw-away virtual environment, so that only what pyproject.toml asks for is
# pinned (not whatever else was installed into .venv by hand):
#   bash infra/scripts/lock.sh            keep the current pins, resolve only what is new
#   bash infra/scripts/lock.sh --upgrade  resolve everything afresh (newest allowed versions)
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$RELAIS_ROOT"
py="$(command -v python3 || true)"
[ -n "$py" ] || die "python3 introuvable : installez Python >= 3.11."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$py" -m venv "$tmp/venv"
constraints=(-c constraints.txt)
[ "${1:-}" = "--upgrade" ] && constraints=()
say "résolution des dépendances dans un environnement jetable"
"$tmp/venv/bin/python" -m pip install -q --disable-pip-version-check "${constraints[@]}" -e ".[test]" >"$tmp/pip.log" 2>&1 \
    || { tail -n 15 "$tmp/pip.log" >&2; die "pip install a échoué (ci-dessus) : corrigez pyproject.toml ou relancez avec --upgrade."; }
{
    echo "# The lock: exact versions of every Python dependency of relais (and its [test] extra)."
    echo "# Used as pip install -c constraints.txt -e \".[test]\" by infra/scripts/test.sh and serve.sh."
    echo "# Regenerate with: bash infra/scripts/lock.sh [--upgrade]"
    "$tmp/venv/bin/python" -m pip freeze --exclude-editable --disable-pip-version-check | LC_ALL=C sort -f
} >constraints.txt.tmp
mv constraints.txt.tmp constraints.txt
say "constraints.txt : $(grep -vc '^#' constraints.txt) paquets épinglés"
