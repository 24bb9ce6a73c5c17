"""Alert webhooks against a real HTTP receiver on 127.0.0.1 that verifies them as a partner would:
with the off-the-shelf `standardwebhooks` library and nothing of Relais."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import standardwebhooks

from services.alerting.webhooks import SecretBox, SqliteWebhookRegistry, Webhook, deliver, signed_headers


@dataclass
class Receiver:
    """A partner's endpoint: 204 when the signature verifies, 401 with the library's reason when not."""

    secret: str | bytes = b""
    url: str = ""
    accepted: list[Any] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    seen_ids: list[str] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            try:
                payload = standardwebhooks.Webhook(state.secret).verify(body, dict(self.headers.items()))
            except standardwebhooks.WebhookVerificationError as refused:
                state.refused.append(str(refused))
                self.send_response(401)
            else:
                state.accepted.append(payload)
                state.seen_ids.append(self.headers["webhook-id"])
                self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/relais"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


PAYLOAD = {"change": "raised", "rule_id": "exit-without-housing", "rule_label": "Sortie sans hébergement confirmé",
           "receiving_agency": "siao"}


def test_a_delivery_verifies_with_the_standard_webhooks_library_and_the_registered_secret(receiver, tmp_path) -> None:
    registry = SqliteWebhookRegistry(tmp_path / "webhooks.sqlite3", box=SecretBox("test-key"))
    secret = registry.register("siao", receiver.url)
    receiver.secret = secret  # what the coordinator copied from registerAlertWebhook
    assert secret.startswith("whsec_")
    assert deliver(registry.get("siao"), "delivery-1", PAYLOAD, sleep=lambda s: None,
                   development=True).delivered is True
    assert receiver.accepted == [PAYLOAD] and receiver.seen_ids == ["delivery-1"] and receiver.refused == []


def test_a_tampered_body_fails_verification(receiver) -> None:
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    receiver.secret = secret
    body = json.dumps(PAYLOAD, ensure_ascii=False)
    headers = signed_headers(secret, "delivery-2", body)
    tampered = body.replace("siao", "spip").encode()
    answer = httpx.post(receiver.url, content=tampered, headers={"Content-Type": "application/json", **headers})
    assert answer.status_code == 401
    assert receiver.refused == ["No matching signature found"] and receiver.accepted == []


def test_an_old_timestamp_fails_verification_and_the_delivery_is_not_retried(receiver) -> None:
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    receiver.secret = secret
    body = json.dumps(PAYLOAD, ensure_ascii=False)
    replayed = signed_headers(secret, "delivery-3", body, at=datetime.now(timezone.utc) - timedelta(minutes=10))
    answer = httpx.post(receiver.url, content=body.encode(), headers={"Content-Type": "application/json", **replayed})
    assert answer.status_code == 401
    assert receiver.refused == ["Message timestamp too old"]
    # the same secret signing now passes: only the timestamp made the difference
    assert deliver(Webhook("siao", receiver.url, secret), "delivery-3", PAYLOAD, sleep=lambda s: None,
                   development=True).delivered is True


def test_a_receiver_with_another_secret_refuses_and_relais_gives_up_on_the_4xx(receiver) -> None:
    receiver.secret = "whsec_" + "c29tZW9uZSBlbHNlJ3Mgc2VjcmV0IGtleQ=="
    attempts: list[int] = []
    ok = deliver(Webhook("siao", receiver.url, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "delivery-4", PAYLOAD,
                 sleep=attempts.append, development=True)
    assert not ok and attempts == []  # a 401 is an answer: no retry
    assert receiver.refused == ["No matching signature found"]


def test_a_secret_issued_before_standard_webhooks_still_verifies_with_its_bytes_as_the_key(receiver) -> None:
    legacy = "k3v9PzX1-old_token_urlsafe_secret"
    receiver.secret = legacy.encode()
    assert deliver(Webhook("siao", receiver.url, legacy), "delivery-5", PAYLOAD, sleep=lambda s: None,
                   development=True).delivered is True
    assert receiver.accepted == [PAYLOAD]


@dataclass
class Listener:
    """A plain HTTP endpoint on 127.0.0.1 that counts every connection and answers `status`."""

    status: int = 204
    location: str | None = None
    port: int = 0
    connections: int = 0
    hosts: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


@pytest.fixture
def listeners() -> Iterator[Any]:
    started: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def start(status: int = 204, location: str | None = None) -> Listener:
        state = Listener(status, location)

        class Handler(BaseHTTPRequestHandler):
            def setup(self) -> None:
                state.connections += 1  # before any byte is read: a TLS attempt counts too
                super().setup()

            def _answer(self) -> None:
                state.hosts.append(self.headers.get("Host", ""))
                state.paths.append(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self.send_response(state.status)
                if state.location:
                    self.send_header("Location", state.location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET = do_CONNECT = _answer  # noqa: N815 - http.server's names

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        state.port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, name="listener", daemon=True)
        thread.start()
        started.append((server, thread))
        return state

    yield start
    for server, thread in started:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_a_name_rebound_to_loopback_after_registration_never_reaches_the_local_service(listeners) -> None:
    from services.alerting.webhooks import check_webhook_url

    internal = listeners()
    url = f"https://hooks.partner.example:{internal.port}/relais"
    answers = iter([["93.184.216.34"]])  # at registration: a public address; afterwards: loopback

    def dns(host: str) -> list[str]:
        return next(answers, ["127.0.0.1"])

    assert check_webhook_url(url, development=False, resolve=dns) == url
    result = deliver(Webhook("siao", url, SECRET), "d-rebind", PAYLOAD, resolve=dns, sleep=lambda s: None)
    assert not result and "adresse interne" in (result.reason or "")
    assert internal.connections == 0


def test_the_delivery_connects_to_the_address_it_checked_and_names_the_registered_host(listeners) -> None:
    receiver = listeners()
    url = f"http://receiver.partner.test:{receiver.port}/hooks/relais"
    result = deliver(Webhook("siao", url, SECRET), "d-pinned", PAYLOAD, development=True,
                     resolve=lambda host: ["127.0.0.1"], sleep=lambda s: None)
    assert result.delivered
    assert receiver.hosts == [f"receiver.partner.test:{receiver.port}"] and receiver.paths == ["/hooks/relais"]


def test_a_redirect_to_loopback_is_not_followed(listeners) -> None:
    internal = listeners()
    redirecting = listeners(status=307, location=f"http://127.0.0.1:{internal.port}/admin")
    result = deliver(Webhook("siao", f"http://127.0.0.1:{redirecting.port}/hook", SECRET), "d-redirect", PAYLOAD,
                     development=True, sleep=lambda s: None)
    assert not result and result.reason == "redirection HTTP 307 non suivie"
    assert redirecting.connections == 1 and internal.connections == 0


def test_no_proxy_is_taken_from_the_environment(listeners, monkeypatch) -> None:
    receiver, proxy = listeners(), listeners()
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{proxy.port}")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    result = deliver(Webhook("siao", f"http://127.0.0.1:{receiver.port}/hook", SECRET), "d-proxy", PAYLOAD,
                     development=True, sleep=lambda s: None)
    assert result.delivered and receiver.connections == 1 and proxy.connections == 0
