"""The one rebuild of a read model, whatever its events come from.

:func:`rebuild` is the algorithm; a :class:`Destination` says where the events come from
and how the built rows and the source's position land. There are two: the Kafka topic into
PostgreSQL (:class:`projections.postgres.TopicRebuild`) and the event store's notification
log into the embedded SQLite file (:class:`projections.embedded.LogRebuild`).

1. ``begin``: the version the views point at now (N); version N+1 gets new, empty tables.
2. ``stage``: replay the source into version N+1 with :func:`replay` — the one exactly-once
   step (:func:`projections.apply.apply_once`) batch after batch, progress through
   :class:`infra.progress.Progress`. PostgreSQL stages into local SQLite files (the same
   portable SQL, no network round trip per statement; optionally one worker process per share
   of the partitions); SQLite writes the new tables in place.
3. ``install``: the staged rows and the source's position (PostgreSQL: COPY of the staged rows
   with the new consumer group's offsets and applied ``ce_id`` in ONE transaction — the bulk
   load; in place: nothing to do).
4. The swap, ONE transaction: ``catch_up`` (the embedded mode applies the live events held
   while it built, and moves its position) and :func:`projections.schema.swap` (every view to
   N+1). Readers see version N or N+1, never neither.
5. The drop of version N and of its position (``forget``), another transaction.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from infra.progress import Progress
from projections.apply import Applied, apply_once
from projections.base import NotAPathwayEvent, PathwayEvent, Projection
from projections.schema import Db, drop_version, swap

#: One batch of a source: its pathway events in log order, and how many source records it
#: consumed (what the progress bar counts: records that are no pathway event count too).
Batch = tuple[Sequence[PathwayEvent], int]


def _passed(event: PathwayEvent, exc: NotAPathwayEvent) -> None:
    """A rebuild builds what the live runner would: an event it dead-letters is passed."""


def replay(db: Db, projection: Projection, batches: Iterable[Batch], *,
           transaction: Callable[[], AbstractContextManager[object]],
           report: Callable[[int], None] | None = None,
           known: dict[str, int] | None = None) -> Applied:
    """Apply every batch to ``projection`` on ``db``, one transaction per batch. ``known``
    holds every pathway's position (the tables started empty: ``{}``, the default), so no
    position is read back; pass it on to apply what comes after with the same memory."""
    known = {} if known is None else known
    total = Applied()
    for events, records in batches:
        with transaction():
            done = apply_once(db, projection, events, known=known, on_refused=_passed)
        total.applied += done.applied
        total.skipped += done.skipped
        total.refused += done.refused
        if report is not None and records:
            report(records)
    return total


class Destination(Protocol):
    """What :func:`rebuild` needs from a source and a database (see the module docstring)."""

    def begin(self) -> Projection:
        """Lock, and the projection at the version its views point at now."""

    def total(self) -> int:
        """How many source records the rebuild will read (the progress bar's total)."""

    def stage(self, new: Projection, report: Callable[[int], None]) -> Applied:
        """Create ``new``'s tables and replay the source into them (or into staging)."""

    def install(self, new: Projection) -> Applied | None:
        """Land the staged rows and the source's position (None: nothing changed the counts)."""

    def transaction(self) -> AbstractContextManager[Db]:
        """One transaction on the target database."""

    def catch_up(self, db: Db, new: Projection) -> None:
        """In the swap's transaction, before the views move."""

    def forget(self, db: Db, old: Projection) -> None:
        """In the drop's transaction: the old version's position."""

    def close(self) -> None:
        """Release connections, locks and staging files."""


@dataclass
class RebuildResult:
    name: str
    old_version: int
    new_version: int
    events: int
    skipped: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def rebuild(dest: Destination, *, progress: Progress | None = None,
            on_swapped: Callable[[], None] | None = None) -> RebuildResult:
    """Build version N+1 of a projection from ``dest``'s source and swap it in."""
    started = time.monotonic()
    done = 0

    def report(count: int) -> None:
        nonlocal done
        done += count
        if progress is not None:
            progress.update(done)

    try:
        old = dest.begin()
        new = old.at_version(old.version + 1)
        total = dest.total()  # always: a source may take its snapshot here
        if progress is not None:
            progress.start(total)
        counts = dest.stage(new, report)
        counts = dest.install(new) or counts
        with dest.transaction() as db:  # the swap: readers see the old version or the new, never neither
            dest.catch_up(db, new)
            swap(db, new)
        if on_swapped is not None:
            on_swapped()
        with dest.transaction() as db:
            drop_version(db, old)
            dest.forget(db, old)
        return RebuildResult(old.name, old.version, new.version, counts.applied,
                             counts.skipped + counts.refused, time.monotonic() - started)
    finally:
        if progress is not None:
            progress.finish()
        dest.close()


def batched(events: Iterable[PathwayEvent], size: int) -> Iterator[Batch]:
    """``events`` cut into batches of ``size`` (each event one record)."""
    chunk: list[PathwayEvent] = []
    for event in events:
        chunk.append(event)
        if len(chunk) >= size:
            yield chunk, len(chunk)
            chunk = []
    if chunk:
        yield chunk, len(chunk)
