#!/usr/bin/env bash
# What the screen's browser tests need (idempotent):
#   - Debian's headless-capable Chromium at /usr/bin/chromium (apt-get install chromium), which
#     Playwright for Python drives with executable_path (it never downloads a browser of its own);
#   - axe-core (npm, pinned) in $RELAIS_RUN_DIR/axe-core, injected into the page by the tests.
# Prints nothing on success but one line per install.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

AXE_VERSION="4.14.1"
AXE_DIR="$RELAIS_RUN_DIR/axe-core"

apt_install() {  # apt_install PACKAGE...: as root with apt-get, once, with a repair on failure
    is_root && command -v apt-get >/dev/null \
        || die "$* absent : installez-le (apt-get install $*)."
    local log="$RELAIS_RUN_DIR/apt-$1.log"
    say "navigateur : installation de $* (apt-get install $*)"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; } >"$log" 2>&1 \
        || { DEBIAN_FRONTEND=noninteractive apt-get -f install -y -qq >>"$log" 2>&1 \
             && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >>"$log" 2>&1; } \
        || die "apt-get install $* a échoué (voir $log)."
}

mkdir -p "$RELAIS_RUN_DIR"
[ -x /usr/bin/chromium ] || apt_install chromium
command -v npm >/dev/null || apt_install npm
if [ ! -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ] \
        || [ "$(cat "$AXE_DIR/.version" 2>/dev/null)" != "$AXE_VERSION" ]; then
    say "navigateur : installation d'axe-core $AXE_VERSION (npm) dans $AXE_DIR"
    mkdir -p "$AXE_DIR"
    (cd "$AXE_DIR" && npm install --silent --no-audit --no-fund --no-save --prefix "$AXE_DIR" "axe-core@$AXE_VERSION") \
        >"$RELAIS_RUN_DIR/npm-axe.log" 2>&1 || die "npm install axe-core a échoué (voir $RELAIS_RUN_DIR/npm-axe.log)."
    printf '%s\n' "$AXE_VERSION" >"$AXE_DIR/.version"
fi
