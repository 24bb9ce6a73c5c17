"""Clocks: the system clock for production, a test clock that tests move instead of sleeping.

Both satisfy `services.ports.Clock` (`now()` returns a timezone-aware UTC datetime).
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

UTC = timezone.utc


class SystemClock:
    """The machine's clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class TestClock:
    """A clock that only moves when told to: `set(moment)` or `advance(delta)`.

    Thread-safe (the risk engine's timer thread and a test may read it together). Time never
    goes backwards unless `set(..., allow_backwards=True)`: a rule engine that saw time move
    back would take a past deadline for a future one.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._now = _aware(start) if start is not None else datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, moment: datetime, *, allow_backwards: bool = False) -> datetime:
        moment = _aware(moment)
        with self._lock:
            if moment < self._now and not allow_backwards:
                raise ValueError(f"the test clock does not go back ({moment.isoformat()} < {self._now.isoformat()})")
            self._now = moment
            return self._now

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        """`advance(timedelta(days=2))` or `advance(days=2, hours=3)`."""
        step = (delta or timedelta()) + timedelta(**parts)
        if step < timedelta(0):
            raise ValueError("the test clock does not go back")
        with self._lock:
            self._now = self._now + step
            return self._now


def _aware(moment: datetime) -> datetime:
    """A naive datetime is read as UTC; every moment is returned in UTC."""
    return (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment).astimezone(UTC)


__all__ = ["SystemClock", "TestClock", "UTC"]
