"""The outbox relay: the event store's notification log, in order, onto the shared stream.

Its position advances only after the publisher says the broker acknowledged the batch, so a
crash at any moment can cause a duplicate on the wire (same `ce_id`, dropped by consumers),
never a gap.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from eventsourcing.application import Application

from services.ports import PositionStore, Publisher
from services.relay.wire import to_cloud_event

log = logging.getLogger("relais.relay")


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
    ) -> None:
        """`is_published(topic)` says which stored events are pathway events (the
        idempotency records kept beside them stay private)."""
        self._app = app
        self._publisher = publisher
        self._positions = positions
        self._is_published = is_published
        self.name = name
        self.batch_size = batch_size

    def run_once(self) -> int:
        """Publish the next batch; return how many notifications it covered."""
        position = self._positions.load(self.name)
        notifications = self._app.recorder.select_notifications(
            start=position, limit=self.batch_size, inclusive_of_start=False
        )
        if not notifications:
            return 0
        events = [
            to_cloud_event(
                self._app.mapper.to_domain_event(n),
                notification_id=n.id,
                pathway_kind=aggregate_name(n.topic),
            )
            for n in notifications
            if self._is_published(n.topic)
        ]
        if events:
            self._publisher.publish(events)
        self._positions.save(self.name, notifications[-1].id)
        log.debug("relayed", extra={"relay": self.name, "events": len(events), "up_to": notifications[-1].id})
        return len(notifications)

    def run(self, stop: threading.Event, idle_wait: float = 0.05) -> None:
        """Follow the log until `stop` is set."""
        log.info("relay started", extra={"relay": self.name, "position": self._positions.load(self.name)})
        while not stop.is_set():
            if self.run_once() == 0:
                stop.wait(idle_wait)
        log.info("relay stopped", extra={"relay": self.name})
