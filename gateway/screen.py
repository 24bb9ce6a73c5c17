"""The case-conference review screen: static files served by the gateway at `/`, and the
development sign-in.

The screen (gateway/static/) is plain ES modules and one stylesheet, with no build step and
nothing fetched from elsewhere; it reads and writes only through the public GraphQL API
(/graphql, HTTP and graphql-transport-ws), so what it shows is what the gateway decided the
signed-in role may see. Every file is served with a strict Content-Security-Policy (no inline
script or style, same-origin connections only).

Sign-in: in the development setting, `POST /screen/dev-token` signs a token for a registry
agency and a role with the same code as `relais token` (gateway.auth.development_token), and
`GET /screen/identities` lists the registry's agencies and the roles for the sign-in form.
Outside development both answer 404 and the screen asks for a token from the identity
provider (docs/screen.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from domain.agencies import AgencyRegistry
from gateway.auth import DevelopmentTokenRefused, development_token
from gateway.hardening import CSP
from gateway.permissions import CASE_ROLES

STATIC = Path(__file__).with_name("static")

#: The screen's policy: scripts, styles, images and connections (HTTP and websocket) from the
#: gateway only; no inline code; never framed.
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Cache-Control": "no-cache"}

#: Lifetime of a development sign-in (one working session).
DEV_TOKEN_TTL_S = 8 * 3600


class DevSignIn(BaseModel):
    agency: str = Field(min_length=1, max_length=63)
    role: str = Field(min_length=1, max_length=40)
    professional: str = Field(min_length=1, max_length=120)


class _Static(StaticFiles):
    """StaticFiles with the screen's headers on every answer."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"],
                                      *((k.lower().encode(), v.encode()) for k, v in HEADERS.items())]
            await send(message)

        await super().__call__(scope, receive, with_headers)


def mount_screen(app: FastAPI, settings: Any, agencies: AgencyRegistry) -> None:
    """`/` (the page), `/static/*` (its modules and stylesheets) and the development sign-in."""
    development = settings.environment == "development"

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8", headers=HEADERS)

    app.mount("/static", _Static(directory=STATIC), name="screen-static")

    @app.get("/screen/identities", include_in_schema=False)
    def identities() -> JSONResponse:
        if not development:
            raise HTTPException(404, "Connexion de développement indisponible : utilisez le fournisseur d'identité.")
        listed = [{"code": a.code, "name": a.name, "kind": str(a.kind), "territory": a.territory}
                  for a in sorted(agencies.values(), key=lambda a: a.name)]
        return JSONResponse({"agencies": listed, "roles": sorted(r.value for r in CASE_ROLES)},
                            headers={"Cache-Control": "no-store"})

    @app.post("/screen/dev-token", include_in_schema=False)
    def dev_token(body: DevSignIn) -> JSONResponse:
        if not development:
            raise HTTPException(404, "Connexion de développement indisponible : utilisez le fournisseur d'identité.")
        try:
            token = development_token(settings, agencies, agency=body.agency, role=body.role,
                                      professional=body.professional, ttl_seconds=DEV_TOKEN_TTL_S)
        except DevelopmentTokenRefused as refused:
            raise HTTPException(400, refused.message) from None
        return JSONResponse({"token": token}, headers={"Cache-Control": "no-store"})
