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
Outside development both answer 404.

Identity-provider sign-in (OpenID Connect, authorization code with PKCE S256): `GET
/screen/config` tells the page the provider's authorization endpoint and client id; the page
sends the professional there with a code challenge and comes back to `/` with a code, which it
hands with its verifier to `POST /screen/oidc/token`; the gateway exchanges it at the token
endpoint (the page's CSP allows it to connect to the gateway only) and returns the access
token, which the page keeps in sessionStorage (never localStorage). In development, with no
provider configured, the built-in development provider (`/dev-idp/authorize`, `/dev-idp/token`)
plays that part with the development identities.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, Field
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from domain.agencies import AgencyRegistry
from gateway.auth import DevelopmentTokenRefused, development_token
from gateway.hardening import CSP
from gateway.overhttp import HTTPRefusal
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


class CodeExchange(BaseModel):
    code: str = Field(min_length=1, max_length=512)
    code_verifier: str = Field(min_length=43, max_length=128, alias="codeVerifier")
    redirect_uri: str = Field(min_length=1, max_length=2048, alias="redirectUri")


#: How long a development provider's authorization code may wait for its exchange.
DEV_CODE_TTL_S = 120


def pkce_challenge(verifier: str) -> str:
    """The S256 code challenge of a PKCE verifier (RFC 7636)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


def _own_screen(request: Request, redirect_uri: str) -> None:
    """The development provider sends codes back to this gateway's screen only (no open redirect)."""
    if redirect_uri != str(request.base_url):
        raise HTTPRefusal(400, "BAD_REQUEST", f"redirect_uri refusée : seul l'écran de cette passerelle ({request.base_url}) est accepté.")


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


def mount_screen(app: FastAPI, settings: Any, agencies: AgencyRegistry, provider: Any = None) -> None:
    """`/` (the page), `/static/*` (its modules and stylesheets) and the development sign-in."""
    development = settings.environment == "development"

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8", headers=HEADERS)

    app.mount("/static", _Static(directory=STATIC), name="screen-static")

    @app.get("/screen/identities", include_in_schema=False)
    def identities() -> JSONResponse:
        if not development:
            raise HTTPRefusal(404, "UNAVAILABLE", "Connexion de développement indisponible : utilisez le fournisseur d'identité.")
        listed = [{"code": a.code, "name": a.name, "kind": str(a.kind), "territory": a.territory}
                  for a in sorted(agencies.values(), key=lambda a: a.name)]
        return JSONResponse({"agencies": listed, "roles": sorted(r.value for r in CASE_ROLES)},
                            headers={"Cache-Control": "no-store"})

    @app.post("/screen/dev-token", include_in_schema=False)
    def dev_token(body: DevSignIn) -> JSONResponse:
        if not development:
            raise HTTPRefusal(404, "UNAVAILABLE", "Connexion de développement indisponible : utilisez le fournisseur d'identité.")
        try:
            token = development_token(settings, agencies, agency=body.agency, role=body.role,
                                      professional=body.professional, ttl_seconds=DEV_TOKEN_TTL_S)
        except DevelopmentTokenRefused as refused:
            raise HTTPRefusal(400, "BAD_REQUEST", refused.message) from None
        return JSONResponse({"token": token}, headers={"Cache-Control": "no-store"})

    mount_identity_provider_sign_in(app, settings, agencies, provider)


def mount_identity_provider_sign_in(app: FastAPI, settings: Any, agencies: AgencyRegistry,
                                    provider: Any = None) -> None:
    """`/screen/config`, `/screen/oidc/token` and, in development, the development provider.
    `provider` (gateway.auth.ProviderMetadata): the endpoints discovered from the issuer, used
    where RELAIS_OIDC_AUTHORIZATION_URL / RELAIS_OIDC_TOKEN_URL are not set."""
    development = settings.environment == "development"
    discovered_authorization = getattr(provider, "authorization_endpoint", None)
    authorization_url = (settings.oidc_authorization_url or discovered_authorization
                         or ("/dev-idp/authorize" if development else None))
    token_url = settings.oidc_token_url or getattr(provider, "token_endpoint", None)

    @app.get("/screen/config", include_in_schema=False)
    def config() -> JSONResponse:
        oidc = {"authorizationUrl": authorization_url, "clientId": settings.oidc_client_id} if authorization_url else None
        return JSONResponse({"development": development, "oidc": oidc}, headers={"Cache-Control": "no-store"})

    @app.post("/screen/oidc/token", include_in_schema=False)
    def exchange(body: CodeExchange, request: Request) -> JSONResponse:
        url = token_url or (str(request.base_url).rstrip("/") + "/dev-idp/token" if development else None)
        if not url or not authorization_url:
            raise HTTPRefusal(404, "UNAVAILABLE", "Aucun fournisseur d'identité configuré (RELAIS_OIDC_AUTHORIZATION_URL, "
                                                   "RELAIS_OIDC_TOKEN_URL).")
        try:
            answer = httpx.post(url, timeout=10, data={
                "grant_type": "authorization_code", "code": body.code, "redirect_uri": body.redirect_uri,
                "client_id": settings.oidc_client_id, "code_verifier": body.code_verifier})
        except httpx.HTTPError:
            raise HTTPRefusal(502, "UNAVAILABLE", "Le fournisseur d'identité ne répond pas : réessayez dans un instant.") from None
        token = answer.json().get("access_token") if answer.status_code == 200 else None
        if not token:
            raise HTTPRefusal(400, "BAD_REQUEST", "Connexion refusée par le fournisseur d'identité : recommencez la connexion.")
        return JSONResponse({"token": token}, headers={"Cache-Control": "no-store"})

    if not development:
        return
    codes: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()

    @app.get("/dev-idp/authorize", include_in_schema=False)
    def dev_authorize_page(request: Request) -> HTMLResponse:
        asked = {k: request.query_params.get(k, "") for k in
                 ("client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method")}
        if asked["code_challenge_method"] != "S256" or not asked["code_challenge"] or not asked["redirect_uri"]:
            raise HTTPRefusal(400, "BAD_REQUEST", "Demande refusée : PKCE S256 (code_challenge) et redirect_uri requis.")
        _own_screen(request, asked["redirect_uri"])
        hidden = "".join(f'<input type="hidden" name="{k}" value="{html.escape(v)}">' for k, v in asked.items())
        options = "".join(f'<option value="{html.escape(a.code)}">{html.escape(a.name)} ({html.escape(a.code)})</option>'
                          for a in sorted(agencies.values(), key=lambda a: a.name))
        roles = "".join(f'<option value="{r}"{" selected" if r == "coordinateur" else ""}>{r}</option>'
                        for r in sorted(r.value for r in CASE_ROLES))
        page = f"""<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Fournisseur d'identité de développement — Relais</title><link rel="stylesheet" href="/static/screen.css"></head>
<body><main id="contenu"><h1>Fournisseur d'identité de développement</h1>
<form class="card narrow" method="post" action="/dev-idp/authorize">
<p class="notice">Environnement de développement : ce fournisseur remplace celui de votre structure.</p>{hidden}
<div class="field"><label for="agency">Structure</label><select id="agency" name="agency" required>{options}</select></div>
<div class="field"><label for="role">Rôle</label><select id="role" name="role" required>{roles}</select></div>
<div class="field"><label for="professional">Identifiant du professionnel</label>
<input id="professional" name="professional" required autocomplete="username" value="pro-test"></div>
<button type="submit">S'authentifier</button></form></main></body></html>"""
        return HTMLResponse(page, headers=HEADERS)

    @app.post("/dev-idp/authorize", include_in_schema=False)
    async def dev_authorize(request: Request) -> RedirectResponse:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8")).items()}
        _own_screen(request, form.get("redirect_uri", ""))
        try:  # the identity is checked now, as a provider checks a password
            development_token(settings, agencies, agency=form.get("agency", ""), role=form.get("role", ""),
                              professional=form.get("professional", ""), ttl_seconds=DEV_TOKEN_TTL_S)
        except DevelopmentTokenRefused as refused:
            raise HTTPRefusal(400, "BAD_REQUEST", refused.message) from None
        code = secrets.token_urlsafe(32)
        with lock:
            now = time.monotonic()
            for stale in [c for c, v in codes.items() if v["expires"] < now]:
                del codes[stale]
            codes[code] = {**form, "expires": now + DEV_CODE_TTL_S}
        return RedirectResponse(f"{form['redirect_uri']}?{urlencode({'code': code, 'state': form.get('state', '')})}",
                                status_code=303)

    @app.post("/dev-idp/token", include_in_schema=False)
    async def dev_token_endpoint(request: Request) -> JSONResponse:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8")).items()}
        with lock:
            granted = codes.pop(form.get("code", ""), None)  # a code is used once
        if (granted is None or granted["expires"] < time.monotonic() or form.get("grant_type") != "authorization_code"
                or form.get("redirect_uri") != granted["redirect_uri"] or form.get("client_id") != granted["client_id"]
                or pkce_challenge(form.get("code_verifier", "")) != granted["code_challenge"]):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        token = development_token(settings, agencies, agency=granted["agency"], role=granted["role"],
                                  professional=granted["professional"], ttl_seconds=DEV_TOKEN_TTL_S)
        return JSONResponse({"access_token": token, "token_type": "Bearer", "expires_in": DEV_TOKEN_TTL_S},
                            headers={"Cache-Control": "no-store"})
