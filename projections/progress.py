"""A one-line progress bar on stderr: events done / total, rate in events/s, time left."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds + 0.5))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class Progress:
    """``start(total)``, ``update(done)`` (redraws at most every ``every`` s), ``finish()``."""

    def __init__(self, label: str, out: TextIO | None = sys.stderr, *, width: int = 30, every: float = 0.2,
                 unit: str = "événements", rate_unit: str = "év/s") -> None:
        self.label, self.out, self.width, self.every = label, out, width, every
        self.unit, self.rate_unit = unit, rate_unit
        self.total = 0
        self.done = 0
        self.started = time.monotonic()
        self._drawn = 0.0

    def start(self, total: int) -> None:
        self.total, self.done, self.started, self._drawn = max(0, total), 0, time.monotonic(), 0.0

    def set_total(self, total: int) -> None:
        self.total = max(self.total, total)

    @property
    def rate(self) -> float:
        return self.done / max(time.monotonic() - self.started, 1e-9)

    def line(self) -> str:
        total = max(self.total, self.done)
        frac = self.done / total if total else 1.0
        bar = "#" * int(self.width * frac)
        rate = self.rate
        eta = _duration((total - self.done) / rate) if rate > 0 and total > self.done else "0:00"
        return (f"{self.label} [{bar:<{self.width}}] {self.done}/{total} {self.unit} "
                f"{frac * 100:5.1f} % {rate:,.0f} {self.rate_unit} reste {eta}").replace(",", " ")

    def update(self, done: int, *, force: bool = False) -> None:
        self.done = done
        now = time.monotonic()
        if self.out is not None and (force or now - self._drawn >= self.every):
            self._drawn = now
            self.out.write("\r" + self.line())
            self.out.flush()

    def finish(self) -> None:
        if self.out is not None:
            self.update(self.done, force=True)
            self.out.write("\n")
            self.out.flush()
