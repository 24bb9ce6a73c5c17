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
    assert deliver(registry.get("siao"), "delivery-1", PAYLOAD, sleep=lambda s: None) is True
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
    assert deliver(Webhook("siao", receiver.url, secret), "delivery-3", PAYLOAD, sleep=lambda s: None) is True


def test_a_receiver_with_another_secret_refuses_and_relais_gives_up_on_the_4xx(receiver) -> None:
    receiver.secret = "whsec_" + "c29tZW9uZSBlbHNlJ3Mgc2VjcmV0IGtleQ=="
    attempts: list[int] = []
    ok = deliver(Webhook("siao", receiver.url, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), "delivery-4", PAYLOAD,
                 sleep=attempts.append)
    assert ok is False and attempts == []  # a 401 is an answer: no retry
    assert receiver.refused == ["No matching signature found"]


def test_a_secret_issued_before_standard_webhooks_still_verifies_with_its_bytes_as_the_key(receiver) -> None:
    legacy = "k3v9PzX1-old_token_urlsafe_secret"
    receiver.secret = legacy.encode()
    assert deliver(Webhook("siao", receiver.url, legacy), "delivery-5", PAYLOAD, sleep=lambda s: None) is True
    assert receiver.accepted == [PAYLOAD]
