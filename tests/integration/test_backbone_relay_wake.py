"""The relay is woken by the event store's NOTIFY instead of waiting for its next poll."""

from __future__ import annotations

import threading
import time

from eventsourcing.cipher import AESCipher
from pydantic import SecretStr

from services.bootstrap import build_pathways_application, is_pathway_event
from services.pathways import PathwaysHandler
from services.relay.positions import MemoryPositionStore
from services.relay.relay import PostgresWaker, Relay
from services.settings import Settings
from tests.integration.backbone_harness import workload


def _app(pg_url: str, pg_schema: str):  # noqa: ANN202
    settings = Settings(mode="distributed", database_url=pg_url, database_schema=pg_schema,
                        cipher_key=SecretStr(AESCipher.create_key(num_bytes=32)))
    return build_pathways_application(settings)


def test_the_waker_returns_when_events_are_committed_and_times_out_otherwise(pg_url, pg_schema):
    app = _app(pg_url, pg_schema)
    handler = PathwaysHandler(app)
    commands = workload(1, 4, seed=5)
    waker = PostgresWaker(pg_url, app.recorder.channel_name)
    try:
        waker.wait(5.0)  # first call: LISTEN, returns at once
        t = time.monotonic()
        waker.wait(0.3)  # nothing written: the whole timeout
        assert 0.25 <= time.monotonic() - t < 2.0
        timer = threading.Timer(0.2, lambda: handler.handle(commands[0]))
        timer.start()
        t = time.monotonic()
        waker.wait(10.0)
        assert time.monotonic() - t < 3.0  # woken by the NOTIFY, long before the timeout
        timer.join()
    finally:
        waker.close()
        app.close()


def test_a_relay_with_a_waker_relays_a_new_event_without_waiting_for_its_poll(pg_url, pg_schema):
    app = _app(pg_url, pg_schema)
    handler = PathwaysHandler(app)
    commands = workload(1, 6, seed=6)
    assert handler.handle(commands[0]).accepted
    published: list[str] = []

    class Bus:
        def publish(self, events) -> None:  # noqa: ANN001
            published.extend(e.id for e in events)

    relay = Relay(app, Bus(), MemoryPositionStore(), is_published=is_pathway_event,
                  waker=PostgresWaker(pg_url, app.recorder.channel_name))
    stop = threading.Event()
    thread = threading.Thread(target=relay.run, args=(stop,), kwargs={"idle_wait": 30.0})
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while len(published) < 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(0.3)  # the relay is now idle, waiting up to 30 s
        t = time.monotonic()
        assert handler.handle(commands[1]).accepted
        while len(published) < 2:
            assert time.monotonic() - t < 5.0, "not woken: the relay waited for its 30 s poll"
            time.sleep(0.005)
    finally:
        stop.set()
        handler.handle(commands[2])  # wakes it so that it sees `stop`
        thread.join(timeout=40)
        app.close()
    assert not thread.is_alive()
