"""The small interfaces services depend on; the composition root picks the adapters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from infra.kafka.cloudevents import CloudEvent


class Publisher(Protocol):
    """Puts events on the shared stream (Kafka in production, the in-process bus embedded)."""

    def publish(self, events: Sequence[CloudEvent]) -> None:
        """Return only once every event is durably accepted; raise if any was not."""


class PositionStore(Protocol):
    """Remembers how far a follower of the notification log has got."""

    def load(self, name: str) -> int:
        """The last notification id handled by `name` (0 = none yet)."""

    def save(self, name: str, notification_id: int) -> None:
        """Record that every notification up to `notification_id` was handled."""


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware."""
