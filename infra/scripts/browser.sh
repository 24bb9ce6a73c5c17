#!/usr/bin/env bash
# What the screen's browser tests need (idempotent):
#   - Debian's headless-capable Chromium at /usr/bin/chromium (apt-get install chromium), which
#     Playwright for Python drives with executable_path (it never downloads a browser of its own);
#   - axe-core (npm, pinned) in $RELAIS_RUN_DIR/axe-core, injected into the page by the tests;
#   - graphql-http (npm, pinned, with its peer graphql) in $RELAIS_RUN_DIR/graphql-http, whose
#     auditServer the GraphQL-over-HTTP audit test runs with node against the served gateway;
#   - graphiql 3 (npm, pinned, with react and react-dom 18: its last release with a browser build
#     needing no bundler) in $RELAIS_RUN_DIR/graphiql, which the gateway serves at /graphiql when
#     RELAIS_GRAPHQL_DEV=true (Settings.graphiql_dir).
# Prints nothing on success but one line per install.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

AXE_VERSION="4.14.1"
AXE_DIR="$RELAIS_RUN_DIR/axe-core"
GRAPHQL_HTTP_VERSION="1.22.4"
GRAPHQL_JS_VERSION="16.11.0"
GRAPHIQL_VERSION="3.8.3"
REACT_VERSION="18.3.1"

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
npm_install() {  # npm_install DIR MARKER PACKAGE@VERSION...: once per pinned set, in DIR
    local dir="$1" marker="$2"; shift 2
    local wanted="$*" name
    name="$(basename "$dir")"
    if [ ! -f "$dir/node_modules/$marker" ] || [ "$(cat "$dir/.version" 2>/dev/null)" != "$wanted" ]; then
        say "outils node : installation de $wanted (npm) dans $dir"
        mkdir -p "$dir"
        (cd "$dir" && npm install --silent --no-audit --no-fund --no-save --prefix "$dir" "$@") \
            >"$RELAIS_RUN_DIR/npm-$name.log" 2>&1 || die "npm install $wanted a échoué (voir $RELAIS_RUN_DIR/npm-$name.log)."
        printf '%s\n' "$wanted" >"$dir/.version"
    fi
}

npm_install "$AXE_DIR" axe-core/axe.min.js "axe-core@$AXE_VERSION"
npm_install "$RELAIS_RUN_DIR/graphql-http" graphql-http/package.json \
    "graphql-http@$GRAPHQL_HTTP_VERSION" "graphql@$GRAPHQL_JS_VERSION"
npm_install "$RELAIS_RUN_DIR/graphiql" graphiql/graphiql.min.js \
    "graphiql@$GRAPHIQL_VERSION" "react@$REACT_VERSION" "react-dom@$REACT_VERSION"
