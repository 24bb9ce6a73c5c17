"""With only the issuer configured, Relais reads the provider's OpenID Connect discovery
document (`<issuer>/.well-known/openid-configuration`) for its keys and sign-in endpoints: a
real provider on 127.0.0.1 (development setting: http allowed), and the documents refused."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient

from gateway.auth import DiscoveryFailed, discover, jwks_document, mint_token
from services.settings import Settings
from tests.tokens import AUDIENCE, rsa_key


@pytest.fixture
def provider() -> Iterator[dict[str, Any]]:
    """A provider publishing its discovery document and its JWKS; `state["document"]` editable."""
    state: dict[str, Any] = {"requests": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            state["requests"].append(self.path)
            body = {"/realms/r/.well-known/openid-configuration": state.get("document"),
                    "/realms/r/certs": jwks_document(rsa_key())}.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(body).encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    issuer = f"http://127.0.0.1:{server.server_address[1]}/realms/r"
    state.update(issuer=issuer, document={
        "issuer": issuer, "jwks_uri": f"{issuer}/certs", "authorization_endpoint": f"{issuer}/auth",
        "token_endpoint": f"{issuer}/token"})
    yield state
    server.shutdown()
    server.server_close()


def test_only_the_issuer_set_the_gateway_finds_its_keys_and_sign_in_endpoints(provider, tmp_path):
    from gateway.app import create_app
    from services.bootstrap import build_embedded

    issuer = provider["issuer"]
    settings = Settings(state_dir=tmp_path, mode="embedded", jwt_issuer=issuer, jwt_audience=AUDIENCE)
    app = create_app(build_embedded(settings, risk=False))
    tok = mint_token(rsa_key(), issuer=issuer, audience=AUDIENCE, agency="usmp", professional="dr-1",
                     role="medecin", ttl_seconds=600, token_id="t-1")
    with TestClient(app) as client:
        me = client.post("/graphql", json={"query": "{ me { agency } }"}, headers={"Authorization": f"Bearer {tok}"})
        config = client.get("/screen/config").json()
    assert me.json()["data"]["me"]["agency"] == "usmp"
    assert config["oidc"]["authorizationUrl"] == f"{issuer}/auth"
    assert "/realms/r/.well-known/openid-configuration" in provider["requests"] and "/realms/r/certs" in provider["requests"]


def test_a_document_naming_another_issuer_is_refused(provider):
    provider["document"] = {**provider["document"], "issuer": "https://attacker.example/realms/r"}
    with pytest.raises(DiscoveryFailed, match="attacker.example"):
        discover(provider["issuer"], development=True)


def test_a_document_without_keys_or_unreadable_is_refused(provider):
    provider["document"] = {k: v for k, v in provider["document"].items() if k != "jwks_uri"}
    with pytest.raises(DiscoveryFailed, match="jwks_uri"):
        discover(provider["issuer"], development=True)
    with pytest.raises(DiscoveryFailed, match="illisible"):
        discover(provider["issuer"] + "/nowhere", development=True)


def test_outside_development_the_provider_must_be_https(provider):
    with pytest.raises(DiscoveryFailed, match="https"):
        discover(provider["issuer"], development=False)


def test_production_with_only_an_http_issuer_is_refused_by_the_checks():
    from services.checks import security_problems

    problems = security_problems(Settings(mode="embedded", environment="production",
                                          jwt_issuer="http://idp.example/realms/r"))
    assert any("RELAIS_JWT_ISSUER doit être en https" in p for p in problems)
