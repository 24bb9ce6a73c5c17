"""The relay outlives a broker it cannot reach: it keeps retrying from its stored position and
publishes everything, once, when the broker answers again.

(The fault run restarts `relais relay` while the broker is down; this shows the same path
quickly, with a publisher that fails the way Kafka does: no producer can be made, then a
delivery is not acknowledged.)
"""

from __future__ import annotations

import threading
import time

from eventsourcing.cipher import AESCipher
from pydantic import SecretStr
from psycopg_pool import ConnectionPool

from services.bootstrap import build_pathways_application, is_pathway_event
from services.pathways import PathwaysHandler
from services.relay.positions import PostgresPositionStore
from services.relay.relay import ReconnectingPublisher, Relay
from services.settings import Settings
from tests.integration.backbone_harness import stored_versions, workload


class FlakyBroker:
    """`connect()` fails `down_connects` times, then the first publish of a connection fails
    `failed_publishes` times (delivery not acknowledged), then everything goes through."""

    def __init__(self, down_connects: int, failed_publishes: int) -> None:
        self.down_connects, self.failed_publishes = down_connects, failed_publishes
        self.connects = self.closes = 0
        self.received: list[str] = []

    def connect(self):  # noqa: ANN201
        self.connects += 1
        if self.down_connects > 0:
            self.down_connects -= 1
            raise ConnectionError("Unable to bootstrap from 127.0.0.1:59092")
        broker = self

        class Publisher:
            def publish(self, events) -> None:  # noqa: ANN001
                if broker.failed_publishes > 0:
                    broker.failed_publishes -= 1
                    broker.received.extend(e.id for e in events[: len(events) // 2])  # half got there
                    raise TimeoutError("records not acknowledged")
                broker.received.extend(e.id for e in events)

        def close() -> None:
            self.closes += 1

        return Publisher(), close


def test_relay_keeps_retrying_while_the_broker_is_unreachable_and_then_publishes_everything(pg_url, pg_schema):
    settings = Settings(mode="distributed", database_url=pg_url, database_schema=pg_schema,
                        cipher_key=SecretStr(AESCipher.create_key(num_bytes=32)))
    app = build_pathways_application(settings)
    handler = PathwaysHandler(app)
    for command in workload(5, 6, seed=3):
        assert handler.handle(command).accepted
    broker = FlakyBroker(down_connects=3, failed_publishes=2)
    with ConnectionPool(pg_url, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
        relay = Relay(app, ReconnectingPublisher(broker.connect), PostgresPositionStore(pool, pg_schema),
                      is_published=is_pathway_event, batch_size=7)
        stop = threading.Event()
        thread = threading.Thread(target=relay.run, args=(stop,), kwargs={"backoff_initial": 0.01, "backoff_max": 0.05},
                                  daemon=True)
        thread.start()
        expected = [(pid, v) for pid, versions in stored_versions(pg_url, pg_schema).items() for v in versions]
        from services.relay.wire import event_id

        want = {event_id(pid, v) for pid, v in expected}
        deadline = time.monotonic() + 30
        while not want <= set(broker.received):
            assert thread.is_alive(), "the relay stopped"
            assert time.monotonic() < deadline, f"{len(set(broker.received))} of {len(want)} published"
            time.sleep(0.02)
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert broker.connects == 3 + 1 + 2  # three refused, then one fresh producer after each failed delivery
    assert broker.closes == 2
    assert set(broker.received) == want
    # What was repeated is only what the failed deliveries left unacknowledged.
    assert len(broker.received) - len(want) <= 2 * 7
