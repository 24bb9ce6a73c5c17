"""How the risk engine runs: on Kafka + PostgreSQL (distributed) or on the in-process bus
(embedded), each with a clock loop that sweeps the deadline index every few seconds.

Distributed: `RiskConsumerHandler` is the ConsumerRunner handler of `relais.pathway-events`
(group `<prefix>-risk`, e.g. `relais-risk`); each record re-evaluates its pathway and writes the pathway's deadline
row on the runner's connection, in the runner's transaction with its position. The alert
commands go to the pathways service (the event store), idempotent by id, so a batch replayed
after a rollback sends the same commands and changes nothing. `ClockLoop` is a thread calling
`engine.sweep()` every `interval` seconds; the PostgreSQL index hands each due row to one
sweeper only (FOR UPDATE SKIP LOCKED), so several `relais risk` processes can run.

Embedded: `EmbeddedRisk` subscribes the engine to the InProcessBus (synchronous, in
publication order) with an SQLite deadline index, and runs the same clock loop.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from infra.kafka.consumer import ConsumedMessage, RejectMessage
from infra.retry import Backoff
from services.pathways import ConcurrencyExhausted
from services.risk.engine import RiskEngine

log = logging.getLogger("relais.risk")


def _transient() -> tuple[type[BaseException], ...]:
    import psycopg
    from eventsourcing.persistence import PersistenceError

    return (psycopg.Error, PersistenceError, OSError, ConcurrencyExhausted, TimeoutError)


#: Errors that mean "the database or the network", not "this event": retried, not dead-lettered.
TRANSIENT = _transient()


class RiskConsumerHandler:
    """ConsumerRunner handler: one pathway event -> one evaluation of that pathway."""

    def __init__(self, engine: RiskEngine) -> None:
        self.engine = engine

    def handle(self, conn: Any, message: ConsumedMessage) -> None:
        if message.event is None:
            return
        try:
            self.engine.handle_cloud_event(conn, message.event)
        except TRANSIENT:
            raise  # the runner rolls back, backs off and tries the batch again
        except Exception as exc:  # noqa: BLE001
            # A bug (a rule that raises on this pathway's state, a malformed subject): retrying
            # would block the partition forever. The event goes to the dead-letter topic with
            # the reason; the pathway keeps its previous deadline and is evaluated again at
            # its next event or deadline.
            raise RejectMessage(f"risk evaluation failed: {type(exc).__name__}: {exc}") from exc


class ClockLoop:
    """Calls `engine.sweep()` every `interval` seconds until stopped (a daemon thread).

    A failed sweep (database down) is logged and tried again at the next tick; what it did not
    finish stays due in the index."""

    def __init__(self, engine: RiskEngine, interval: float = 5.0, *, name: str = "risk-clock") -> None:
        self.engine = engine
        self.interval = interval
        self.stop_event = threading.Event()
        self.sweeps = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> ClockLoop:
        self._thread.start()
        return self

    def _run(self) -> None:
        log.info("clock loop started", extra={"event": "clock_start", "interval_s": self.interval})
        # A failed sweep is retried sooner than the next tick, never later than it.
        backoff = Backoff("risk clock sweep", log, initial=min(0.2, self.interval), maximum=self.interval)
        while not self.stop_event.is_set():
            try:
                self.engine.sweep()
                self.sweeps += 1
            except Exception as exc:  # noqa: BLE001 - retried
                backoff.wait(self.stop_event, exc)
                continue
            backoff.succeeded()
            self.stop_event.wait(self.interval)
        log.info("clock loop stopped", extra={"event": "clock_stop", "sweeps": self.sweeps})

    def run(self, stop: threading.Event) -> None:
        """The runtime's worker protocol: sweep in the caller's thread until `stop` is set."""
        self.stop_event = stop
        self._run()

    def stop(self, timeout: float | None = 10.0) -> None:
        self.stop_event.set()
        if self._thread.is_alive():
            self._thread.join(timeout)


class EmbeddedRisk:
    """The engine on the in-process bus: a subscriber, an SQLite deadline index, a timer."""

    def __init__(self, engine: RiskEngine, bus: Any, *, interval: float = 5.0) -> None:
        self.engine = engine
        self.bus = bus
        self.clock_loop = ClockLoop(engine, interval)
        self.errors = 0

    def __call__(self, event: Any) -> None:
        # The bus calls subscribers inside the publisher's call: never let an error escape
        # into the relay (the pathway is evaluated again at its next event or deadline).
        try:
            self.engine.handle_cloud_event(None, event)
        except Exception as exc:  # noqa: BLE001
            self.errors += 1
            log.exception("risk evaluation failed", extra={"event": "evaluation_failed", "error": repr(exc),
                                                           "subject": getattr(event, "subject", None)})

    def start(self, *, from_beginning: bool = True, timer: bool = True) -> EmbeddedRisk:
        self.bus.subscribe(self, from_beginning=from_beginning)
        if timer:
            self.clock_loop.start()
        return self

    def stop(self) -> None:
        self.clock_loop.stop()


__all__ = ["ClockLoop", "EmbeddedRisk", "RiskConsumerHandler"]
