"""GraphiQL in the development setting (RELAIS_GRAPHQL_DEV=true), served by the gateway itself.

Strawberry's own GraphiQL page loads React and GraphiQL from a CDN; the gateway never relies
on another origin, so this page (gateway/graphiql/) loads the npm packages `graphiql`, `react`
and `react-dom` that infra/scripts/browser.sh installs (pinned) into `Settings.graphiql_dir`,
under the same self-only Content-Security-Policy as the review screen. Outside development
nothing here is routed: `/graphiql` answers 404 like any unknown path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse

from gateway.screen import HEADERS

PAGE_DIR = Path(__file__).with_name("graphiql")
PATH = "/graphiql"

#: Every file the page may load, by the name it is served under: the page's own script and
#: stylesheet, and the browser builds of the npm packages (relative to graphiql_dir).
_OWN = {"ide.js": "ide.js", "ide.css": "ide.css"}
_VENDORED = {
    "react.production.min.js": "react/umd/react.production.min.js",
    "react-dom.production.min.js": "react-dom/umd/react-dom.production.min.js",
    "graphiql.min.js": "graphiql/graphiql.min.js",
    "graphiql.min.css": "graphiql/graphiql.min.css",
}
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def asset_names() -> list[str]:
    """What the page loads (tests check each answers)."""
    return sorted([*_OWN, *_VENDORED])


def mount_graphiql(app: FastAPI, settings: Any) -> None:
    """`/graphiql` and `/graphiql/assets/<name>`, only when `settings.graphql_dev`."""
    if not settings.graphql_dev:
        return
    vendored = Path(settings.graphiql_dir)

    @app.get(PATH, include_in_schema=False)
    def graphiql_page() -> FileResponse:
        return FileResponse(PAGE_DIR / "index.html", media_type="text/html; charset=utf-8", headers=HEADERS)

    @app.get(PATH + "/assets/{name}", include_in_schema=False)
    def graphiql_asset(name: str) -> FileResponse:
        if name in _OWN:
            path = PAGE_DIR / _OWN[name]
        elif name in _VENDORED:
            path = vendored / _VENDORED[name]
            if not path.is_file():
                raise HTTPException(404, f"GraphiQL non installé ({path} absent) : lancez bash infra/scripts/browser.sh.")
        else:
            raise HTTPException(404, "Fichier inconnu.")
        return FileResponse(path, media_type=_TYPES[path.suffix], headers=HEADERS)
