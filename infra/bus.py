"""The in-process bus: Kafka's stand-in for the embedded mode and unit tests only."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from infra.kafka.cloudevents import CloudEvent

Subscriber = Callable[[CloudEvent], None]


class InProcessBus:
    """Keeps every published event (a topic that is never truncated) and calls subscribers
    synchronously, in publication order."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._log: list[CloudEvent] = []
        self._subscribers: list[Subscriber] = []

    def publish(self, events: Sequence[CloudEvent]) -> None:
        with self._lock:
            for event in events:
                self._log.append(event)
                for subscriber in list(self._subscribers):
                    subscriber(event)

    def subscribe(self, subscriber: Subscriber, *, from_beginning: bool = True) -> None:
        with self._lock:
            if from_beginning:
                for event in self._log:
                    subscriber(event)
            self._subscribers.append(subscriber)

    def events(self) -> list[CloudEvent]:
        with self._lock:
            return list(self._log)
