"""Identity against a served gateway (uvicorn on loopback, embedded mode): keys fetched from the
issuer's JWKS endpoint over HTTP (rotation, invented kids), the platform's own identity refused
on websockets as over HTTP, and a subscription that ends when its token expires."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from gateway.auth import jwks_document
from gateway.serving import serve
from services.settings import Settings
from tests.e2e.test_gateway_graphql import SUB, _subscribe
from tests.tokens import AUDIENCE, ISSUER, identity_settings, rsa_key, token

ME = {"query": "{ me { agency role } }"}


class Issuer:
    """The identity provider's JWKS endpoint, counting its requests."""

    def __init__(self, *keys: Any) -> None:
        self.document = jwks_document(*keys)
        self.requests = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                issuer.requests += 1
                body = json.dumps(issuer.document).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/protocol/openid-connect/certs"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def publish(self, *keys: Any) -> None:
        self.document = jwks_document(*keys)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _gateway(tmp_path, **settings: Any):  # noqa: ANN001, ANN202
    from gateway.app import create_app
    from services.bootstrap import bootstrap

    return serve(create_app(bootstrap(Settings(state_dir=tmp_path, mode="embedded", synthetic_pathways=0,
                                               **settings))))


@pytest.fixture
def issuer() -> Iterator[Issuer]:
    provider = Issuer(rsa_key("idp-2026-01"))
    yield provider
    provider.close()


def _me(base: str, bearer: str) -> httpx.Response:
    return httpx.post(f"{base}/graphql", json=ME, headers={"Authorization": f"Bearer {bearer}"}, timeout=10)


def test_a_key_rotated_at_the_issuer_is_fetched_once_and_accepted(tmp_path, issuer):
    with _gateway(tmp_path, jwt_issuer=ISSUER, jwt_audience=AUDIENCE, jwks_url=issuer.url) as base:
        first = _me(base, token("siao", "coordinateur", key=rsa_key("idp-2026-01")))
        assert first.status_code == 200 and first.json()["data"]["me"]["agency"] == "siao"
        issuer.publish(rsa_key("idp-2026-01"), rsa_key("idp-2026-02"))
        rotated = _me(base, token("pass", "medecin", key=rsa_key("idp-2026-02")))
        assert rotated.status_code == 200 and rotated.json()["data"]["me"]["agency"] == "pass"
        assert _me(base, token("siao", "coordinateur", key=rsa_key("idp-2026-02"))).status_code == 200
        assert issuer.requests == 2  # the first load, one refetch for the new kid, then the cache


def test_an_invented_kid_is_refused_after_one_refetch_and_a_flood_of_them_costs_the_issuer_nothing(tmp_path, issuer):
    with _gateway(tmp_path, jwt_issuer=ISSUER, jwt_audience=AUDIENCE, jwks_url=issuer.url) as base:
        assert _me(base, token("siao", "coordinateur", key=rsa_key("idp-2026-01"))).status_code == 200
        refused = _me(base, token("siao", "coordinateur", key=rsa_key("invented-1")))
        assert refused.status_code == 401 and "clé de signature inconnue" in refused.json()["errors"][0]["message"]
        assert issuer.requests == 2
        for n in range(10):
            assert _me(base, token("siao", "coordinateur", key=rsa_key(f"invented-{n + 2}"))).status_code == 401
        assert issuer.requests == 2


@pytest.fixture
def gateway(tmp_path) -> Iterator[str]:
    with _gateway(tmp_path, **identity_settings()) as base:
        yield base


def _close_code_on_init(base: str, bearer: str) -> int:
    async def init() -> int:
        async with connect(base.replace("http", "ws") + "/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}}))
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            return closed.value.rcvd.code

    return asyncio.run(init())


def test_a_websocket_naming_the_platform_itself_is_refused(gateway):
    forged = token("relais", "coordinateur", "risk-engine")
    assert _close_code_on_init(gateway, forged) == 4403
    with pytest.raises(Exception):  # noqa: B017 - gql's transport error on close 4403
        asyncio.run(_subscribe(gateway, forged, SUB, {}, 1))
    assert _me(gateway, forged).status_code == 401


def test_a_websocket_for_an_agency_absent_from_the_registry_is_refused(gateway):
    assert _close_code_on_init(gateway, token("fantome", "medecin")) == 4403


def test_an_open_subscription_ends_when_its_token_expires(gateway):
    ttl = 3

    async def subscribe_until_closed() -> tuple[list[dict], int, float]:
        bearer = token("siao", "coordinateur", ttl_seconds=ttl)
        expires = time.time() + ttl
        received: list[dict] = []
        async with connect(gateway.replace("http", "ws") + "/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {bearer}"}}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUB, "variables": {}}}))
            try:
                while True:  # the server must end it; the deadline fails the test otherwise
                    received.append(json.loads(await asyncio.wait_for(ws.recv(), ttl + 10)))
            except ConnectionClosed as closed:
                return received, closed.rcvd.code, time.time() - expires

    received, code, after_expiry = asyncio.run(subscribe_until_closed())
    assert code == 4401
    assert -1.0 <= after_expiry < 5.0  # at expiry (the token's seconds are whole), not long after
    assert all(m["type"] != "next" or m["payload"].get("errors") for m in received)  # nothing delivered after
    errors = [e["message"] for m in received if m["type"] == "next" for e in m["payload"].get("errors", [])]
    assert all("Jeton expiré" in e for e in errors)
