"""The outbox relay: the event store's notification log, in order, onto the shared stream.

Its position advances only after the publisher says the broker acknowledged the batch, so a
crash at any moment can cause a duplicate on the wire (same `ce_id`, dropped by consumers),
never a gap.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from eventsourcing.application import Application

from infra.kafka.cloudevents import CloudEvent
from infra.metrics import RELAY_BACKLOG, RELAY_PUBLISHED
from infra.retry import Backoff
from services.ports import PositionStore, Publisher
from services.privacy import sealing
from services.relay.wire import to_cloud_event

log = logging.getLogger("relais.relay")


@functools.lru_cache(maxsize=1024)
def aggregate_name(topic: str) -> str:
    """`domain.sas:SasPathway.Arrived` -> `SasPathway`."""
    return topic.rpartition(":")[2].split(".")[0]


class Relay:
    def __init__(
        self,
        app: Application[Any],
        publisher: Publisher,
        positions: PositionStore,
        *,
        is_published: Callable[[str], bool],
        name: str = "relay",
        batch_size: int = 500,
        waker: Waker | None = None,
        personal: sealing.Cipher | None = None,
        wire: Callable[..., CloudEvent] = to_cloud_event,
    ) -> None:
        """`is_published(topic)` says which stored events are pathway events (the
        idempotency records kept beside them stay private). `waker`, when given, replaces the
        idle sleep of `run`: it returns early when the event store says it wrote (PostgreSQL
        LISTEN/NOTIFY), so a new event is relayed at once instead of at the next poll; the
        log is still read from the stored position, so a lost notification only delays.
        `personal` seals each event's personal fields with its person's key (wire.py)."""
        self._app = app
        self._publisher = publisher
        self._positions = positions
        self._is_published = is_published
        self.name = name
        self.batch_size = batch_size
        self.waker = waker
        self._personal = personal
        #: Stored event -> CloudEvent (the directory's relay gives its own source and types).
        self._wire = wire

    def run_once(self) -> int:
        """Publish the next batch; return how many notifications it covered."""
        position = self._positions.load(self.name)
        notifications = self._app.recorder.select_notifications(
            start=position, limit=self.batch_size, inclusive_of_start=False
        )
        if not notifications:
            RELAY_BACKLOG.labels(self.name).set(0)
            return 0
        events = [
            self._wire(
                self._app.mapper.to_domain_event(n),
                notification_id=n.id,
                pathway_kind=aggregate_name(n.topic),
                personal=self._personal,
            )
            for n in notifications
            if self._is_published(n.topic)
        ]
        if events:
            self._publisher.publish(events)
        self._positions.save(self.name, notifications[-1].id)
        RELAY_PUBLISHED.labels(self.name).inc(len(events))
        # A short batch reached the end of the log; a full one asks how far the end is.
        last = notifications[-1].id
        end = last if len(notifications) < self.batch_size else (self._app.recorder.max_notification_id() or last)
        RELAY_BACKLOG.labels(self.name).set(max(0, end - last))
        log.debug("relayed", extra={"relay": self.name, "events": len(events), "up_to": notifications[-1].id})
        return len(notifications)

    def run(
        self, stop: threading.Event, idle_wait: float = 0.05, *, backoff_initial: float = 0.2, backoff_max: float = 10.0
    ) -> None:
        """Follow the log until `stop` is set. A failed batch (broker or database unreachable,
        delivery not acknowledged) is logged and retried from the stored position after a
        backoff (infra/retry.py: doubling up to `backoff_max`, with jitter, logged once per
        outage): the relay outlives outages instead of exiting."""
        try:
            position: int | None = self._positions.load(self.name)
        except Exception:  # noqa: BLE001 - the loop below retries
            position = None
        log.info("relay started", extra={"relay": self.name, "position": position})
        backoff = Backoff(f"relay {self.name}", log, initial=backoff_initial, maximum=backoff_max)
        while not stop.is_set():
            try:
                relayed = self.run_once()
            except Exception as exc:  # noqa: BLE001 - retried; nothing advanced
                backoff.wait(stop, exc, relay=self.name)
                continue
            backoff.succeeded()
            if relayed == 0:
                if self.waker is not None:
                    self.waker.wait(idle_wait)
                else:
                    stop.wait(idle_wait)
        if self.waker is not None:
            self.waker.close()
        log.info("relay stopped", extra={"relay": self.name})


class Waker(Protocol):
    def wait(self, timeout: float) -> None:
        """Return when the log may have grown, or after `timeout` seconds at most."""

    def close(self) -> None: ...


class PostgresWaker:
    """Waits on the event store's NOTIFY channel (the eventsourcing PostgreSQL recorder sends
    `NOTIFY <schema>_<table>` in every transaction that inserts events; it is delivered at
    commit). Its own autocommit connection, opened on first use and opened again after an
    error; while the database is unreachable it just sleeps `timeout`."""

    def __init__(self, conninfo: str, channel: str) -> None:
        self._conninfo = conninfo
        self._channel = channel
        self._conn: Any = None

    def wait(self, timeout: float) -> None:
        import time

        import psycopg
        from psycopg import sql

        started = time.monotonic()
        try:
            if self._conn is None:
                self._conn = psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5)
                self._conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self._channel)))
                return  # notifications sent before LISTEN are not seen: read the log now
            for _ in self._conn.notifies(timeout=timeout, stop_after=1):
                break
            # Several writers may have notified meanwhile: drain them without waiting.
            for _ in self._conn.notifies(timeout=0):
                pass
        except Exception as exc:  # noqa: BLE001 - degrade to polling
            log.warning("relay wake-up channel unavailable; polling", extra={"error": repr(exc)})
            self.close()
            rest = timeout - (time.monotonic() - started)
            if rest > 0:
                time.sleep(rest)

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass


class ReconnectingPublisher:
    """A publisher made on first use, and made again after a failed publish.

    `connect()` returns `(publisher, close)`. The broker may be down when the relay starts
    (making a Kafka producer then fails) and a producer whose delivery failed is not trusted
    again: it is closed and the next batch gets a fresh one. Errors propagate to the caller
    (`Relay.run` retries)."""

    def __init__(self, connect: Callable[[], tuple[Publisher, Callable[[], None]]]) -> None:
        self._connect = connect
        self._current: tuple[Publisher, Callable[[], None]] | None = None

    def publish(self, events: Sequence[CloudEvent]) -> None:
        if self._current is None:
            self._current = self._connect()
        publisher, _close = self._current
        try:
            publisher.publish(events)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        current, self._current = self._current, None
        if current is not None:
            try:
                current[1]()
            except Exception as exc:  # noqa: BLE001 - it is being dropped anyway
                log.warning("closing the publisher failed", extra={"error": repr(exc)})
