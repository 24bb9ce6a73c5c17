"""The one retry helper: capped exponential backoff with jitter, logged once per state change.

Every loop that outlives an outage (the relay, the consumer runner and so every consumer:
projections, ingest, risk, alerting; the live projection; the risk clock; the producer
connection; webhook deliveries) waits through a :class:`Backoff`:

    backoff = Backoff("relay", log)
    while not stop.is_set():
        try:
            work()
        except Exception as exc:
            backoff.failed(exc)          # logs "relay failing" once, not at every attempt
            stop.wait(backoff.delay())   # 0.2 s, 0.4 s, ... up to `maximum`, each +-jitter
            continue
        backoff.succeeded()              # logs "relay recovered after N attempts" once

The delay of attempt n is ``min(maximum, initial * factor**n)`` scaled by a random factor in
``[1 - jitter, 1 + jitter]`` (so that many processes restarted together do not retry in step),
never above ``maximum``. Only state changes are logged (ok -> failing, failing -> ok, and a
change of the error's type while failing): a broker down for an hour writes two lines, not
eighteen thousand.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class Backoff:
    """Retry state of one loop. Not thread-safe: one per loop."""

    def __init__(self, name: str, log: logging.Logger, *, initial: float = 0.2, maximum: float = 10.0,
                 factor: float = 2.0, jitter: float = 0.2, random_: Callable[[], float] = random.random) -> None:
        if initial < 0 or maximum < initial or factor < 1 or not 0 <= jitter < 1:
            raise ValueError("need 0 <= initial <= maximum, factor >= 1, 0 <= jitter < 1")
        self.name, self.log = name, log
        self.initial, self.maximum, self.factor, self.jitter = initial, maximum, factor, jitter
        self._random = random_
        #: consecutive failures since the last success (0: healthy)
        self.failures = 0
        self._error_type: str | None = None
        self._since = 0.0

    @property
    def failing(self) -> bool:
        return self.failures > 0

    def delay(self) -> float:
        """Seconds to wait before the next attempt (after `failed`)."""
        base = min(self.maximum, self.initial * self.factor ** max(self.failures - 1, 0))
        spread = 1 + self.jitter * (2 * self._random() - 1)
        return min(self.maximum, base * spread)

    def failed(self, exc: BaseException, **fields: object) -> float:
        """Count a failed attempt; log it if the state changed. Returns the delay to wait."""
        error_type = type(exc).__name__
        if self.failures == 0:
            self._since = time.monotonic()
            self.log.error(f"{self.name} failing; retrying with backoff",
                           extra={"event": "retry_start", "loop": self.name, "error": repr(exc), **fields},
                           exc_info=exc)
        elif error_type != self._error_type:
            self.log.error(f"{self.name} still failing, with another error",
                           extra={"event": "retry_error_changed", "loop": self.name, "error": repr(exc),
                                  "attempts": self.failures, **fields})
        self.failures += 1
        self._error_type = error_type
        return self.delay()

    def succeeded(self) -> None:
        """A successful attempt: logs the recovery once and resets the delay."""
        if self.failures:
            self.log.info(f"{self.name} recovered", extra={
                "event": "retry_recovered", "loop": self.name, "attempts": self.failures,
                "outage_s": round(time.monotonic() - self._since, 3)})
        self.failures = 0
        self._error_type = None

    def wait(self, stop: threading.Event, exc: BaseException, **fields: object) -> None:
        """`failed(exc)` then wait its delay (returns early when `stop` is set)."""
        stop.wait(self.failed(exc, **fields))

    def call(self, attempt: Callable[[], T], *, attempts: int | None = None,
             retry_on: tuple[type[BaseException], ...] = (Exception,),
             sleep: Callable[[float], None] = time.sleep) -> T:
        """Run `attempt` until it returns; retry what raises `retry_on` after the delay, at
        most `attempts` times in all (None: forever); the last error is raised."""
        n = 0
        while True:
            n += 1
            try:
                result = attempt()
            except retry_on as exc:
                if attempts is not None and n >= attempts:
                    self.failures += 1
                    raise
                sleep(self.failed(exc))
                continue
            self.succeeded()
            return result


__all__ = ["Backoff"]
