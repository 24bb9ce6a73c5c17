"""The ASGI guard (request timeout, body cap) and the alert feed (dedup, arrival order)."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone

from gateway.hardening import GuardMiddleware
from gateway.subscriptions import AlertFeed, alert_event_name
from infra.kafka.cloudevents import CloudEvent


def call(app, path: str = "/graphql", body: bytes = b"{}") -> tuple[int, dict]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "path": path, "headers": [(b"content-length", str(len(body)).encode())]}
    asyncio.run(app(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    payload = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(payload) if payload else {}


async def slow_app(scope, receive, send) -> None:  # noqa: ANN001
    await asyncio.sleep(5)


def test_a_request_running_past_the_timeout_gets_a_clear_504():
    status, body = call(GuardMiddleware(slow_app, timeout=0.05))
    assert status == 504 and "Délai dépassé" in body["errors"][0]["message"]


def test_a_body_larger_than_the_cap_gets_a_413():
    status, body = call(GuardMiddleware(slow_app, max_body=10), body=b"x" * 11)
    assert status == 413 and body["errors"][0]["extensions"]["code"] == "BODY_TOO_LARGE"


def test_other_paths_are_not_guarded():
    async def fast(scope, receive, send) -> None:  # noqa: ANN001
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    assert call(GuardMiddleware(fast, max_body=1), path="/health", body=b"xx")[0] == 200


def alert_event(event_id: str, position: int, name: str = "AlertRaised") -> CloudEvent:
    pathway = "0b0b0b0b-0000-4000-8000-000000000001"
    return CloudEvent(id=event_id, source="/relais/pathways", type=f"fr.relais.pathway.{name}.v1", subject=pathway,
                      partitionkey=pathway, time=datetime.now(timezone.utc),
                      data={"originator_id": pathway, "originator_version": position, "notification_id": position,
                            "alert_id": "0b0b0b0b-0000-4000-8000-0000000000aa"})


def test_the_alert_feed_keeps_alert_changes_once_each_in_arrival_order():
    feed = AlertFeed()
    for event in (alert_event("e1", 5), alert_event("e1", 5), alert_event("e2", 3, "AlertResolved"),
                  alert_event("e3", 7, "NeedRecorded")):
        feed.on_event(event)
    assert [(i.event_id, i.position, i.change) for i in feed.since(0)] == [("e1", 5, "raised"), ("e2", 3, "resolved")]
    assert alert_event_name("fr.relais.pathway.AlertEscalated.v1") == "AlertEscalated"
    assert alert_event_name("fr.relais.alert.raised.v1") is None


def test_a_waiting_subscriber_is_woken_by_an_event_from_another_thread():
    import threading

    feed = AlertFeed()

    async def scenario() -> float:
        loop = asyncio.get_running_loop()
        started = loop.time()
        threading.Timer(0.05, feed.on_event, args=(alert_event("e9", 9),)).start()
        await feed.wait(0, timeout=5)
        return loop.time() - started

    assert asyncio.run(scenario()) < 2
