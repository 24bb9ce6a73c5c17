"""The embedded-mode runner: projections in an SQLite file, fed by the in-process bus.

Each event is applied to every projection in ONE SQLite transaction by the one exactly-once
step (:func:`projections.apply.apply_once`: per pathway, the last version applied, in the
projection's own table), together with the transport's position (``projection_positions``:
name, version, last notification id of the bus), which spares re-applying the whole log the
bus re-delivers to a new subscriber after a restart; the relay may also publish an event twice.

:meth:`EmbeddedProjections.rebuild` is the one rebuild (:func:`projections.rebuild.rebuild`)
with :class:`LogRebuild`, its source the event store's notification log: version N+1 is
built in place, the live events that arrive meanwhile are held and applied to it in the
swap's transaction, so none is lost and none applied twice; then version N is dropped.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from infra.progress import Progress
from projections.apply import Applied, apply_once
from projections.base import ERASURE_EVENT, TYPE_PREFIX, NotAPathwayEvent, Opener, PathwayEvent, Projection
from projections.rebuild import Batch, rebuild, replay
from projections.registry import PROJECTIONS, projection_class
from projections.schema import Db, create_tables, drop_version, ensure_current, layout_changed, swap

log = logging.getLogger("relais.projections.embedded")

POSITIONS = "projection_positions"


def connect(path: str | Path) -> sqlite3.Connection:
    """An SQLite connection for read models: autocommit (explicit BEGIN), WAL, usable from
    the threads of the embedded process (callers serialise writes); the migrations'
    tables (registry, positions: infra/sqlite/migrations/) are in place."""
    from infra.sqlite.migrations import connect as migrated

    conn = migrated(path)
    if str(path) != ":memory:":
        conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def _to_event(cloud_event: Any, opener: Opener | None = None) -> PathwayEvent | None:
    # The embedded bus also carries the alerting messages (relais.alerts' stand-in): those
    # are not ours and pass silently; a malformed *pathway* event is worth a warning.
    if not str(cloud_event.type).startswith(TYPE_PREFIX):
        return None
    try:
        return PathwayEvent.from_cloud_event(cloud_event, opener)
    except ValueError as exc:  # NotAPathwayEvent, or a sealed part that does not open
        log.warning("not a pathway event, ignored", extra={"error": str(exc)})
        return None


def _refused(event: PathwayEvent, exc: NotAPathwayEvent) -> None:
    """A projection refused the event (a type the disclosure catalogue does not know): the
    embedded mode has no dead-letter topic, so, as for a malformed event, a warning with the
    reason, and the other projections still apply it."""
    log.warning("event refused by a projection, ignored", extra={"event": event.id, "error": str(exc)})


class EmbeddedProjections:
    """Runs ``projections`` (default: all) on ``conn`` (an SQLite connection or file path)."""

    def __init__(self, conn: sqlite3.Connection | str | Path,
                 projections: Iterable[type[Projection]] | None = None, *, opener: Opener | None = None) -> None:
        """`opener` opens the sealed personal part of the events (the key store's)."""
        self.opener = opener
        self._file = not (isinstance(conn, str) and conn == ":memory:")
        self.conn = conn if isinstance(conn, sqlite3.Connection) else connect(conn)
        self.db = Db(self.conn, "sqlite")
        self._lock = threading.RLock()
        self.projections: dict[str, Projection] = {}
        self._positions: dict[str, int] = {}
        self._building: dict[str, list[PathwayEvent]] = {}
        if isinstance(conn, sqlite3.Connection):  # a caller's own connection: migrate it too
            from infra.sqlite.migrations import apply

            apply(conn)
        with self._lock, self._transaction():
            for cls in projections if projections is not None else PROJECTIONS.values():
                projection = ensure_current(self.db, cls)
                changed = layout_changed(self.db, projection)
                if changed:
                    # A release changed its tables: move to version N+1 (empty, new layout) from
                    # position 0; the bus re-delivers the whole log (the embedded relay starts
                    # from the beginning of the event store), which refills it.
                    log.warning("projection tables changed: rebuilt from the log",
                                extra={"projection": cls.name, "tables": changed, "to": projection.version + 1})
                    new = projection.at_version(projection.version + 1)
                    drop_version(self.db, new)
                    create_tables(self.db, new)
                    swap(self.db, new)
                    drop_version(self.db, projection)
                    self._save_position(cls.name, new.version, 0)
                    projection = new
                self.projections[cls.name] = projection
                rows = self.db.fetchall(f"SELECT version, notification_id FROM {POSITIONS} WHERE name = %s",
                                        (cls.name,))
                self._positions[cls.name] = int(rows[0][1]) if rows and rows[0][0] == projection.version else 0

    # ------------------------------------------------------------------ plumbing
    class _Tx:
        def __init__(self, conn: sqlite3.Connection) -> None:
            self.conn = conn

        def __enter__(self) -> None:
            self.conn.execute("BEGIN IMMEDIATE")

        def __exit__(self, exc_type: Any, *_: Any) -> None:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")

    def _transaction(self) -> EmbeddedProjections._Tx:
        return self._Tx(self.conn)

    def _save_position(self, name: str, version: int, notification_id: int) -> None:
        self.db.execute(
            f"INSERT INTO {POSITIONS} (name, version, notification_id) VALUES (%s, %s, %s) ON CONFLICT (name) "
            "DO UPDATE SET version = excluded.version, notification_id = excluded.notification_id",
            (name, version, notification_id),
        )

    def position(self, name: str) -> int:
        return self._positions.get(name, 0)

    # ------------------------------------------------------------------ live
    def attach(self, bus: Any, *, from_beginning: bool = True) -> None:
        """Subscribe to an :class:`infra.bus.InProcessBus` (its whole log first, by default)."""
        bus.subscribe(self.handle, from_beginning=from_beginning)

    def handle(self, cloud_event: Any) -> None:
        """The bus subscriber: apply one CloudEvent to every projection, once."""
        event = _to_event(cloud_event, self.opener)
        if event is None:
            return
        self.apply_events([event])

    def apply_events(self, events: Sequence[PathwayEvent]) -> int:
        """Apply events in order in one transaction; returns how many (event, projection)
        applications were new. Per projection: the bus's notification id skips what was
        delivered before (the transport's position, saved in the same transaction), then the
        one exactly-once step (:func:`projections.apply.apply_once`) applies the rest."""
        applied = 0
        with self._lock:
            for held in self._building.values():
                held.extend(events)
            new_positions = dict(self._positions)
            with self._transaction():
                for name, projection in self.projections.items():
                    pos = new_positions.get(name, 0)
                    fresh = [e for e in events if e.notification_id is None or e.notification_id > pos]
                    if not fresh:
                        continue
                    applied += apply_once(self.db, projection, fresh, on_refused=_refused).applied
                    last = max((e.notification_id for e in fresh if e.notification_id is not None), default=None)
                    if last is not None:
                        self._save_position(name, projection.version, last)
                        new_positions[name] = last
            self._positions = new_positions
            if any(e.name == ERASURE_EVENT for e in events) and self._file:
                # The purged rows' old pages are still in the write-ahead log until checkpointed.
                self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return applied

    # ------------------------------------------------------------------ rebuild
    def rebuild(self, name: str, events: Iterable[Any] | Callable[[], Iterable[Any]], *,
                progress: Progress | None = None, batch: int = 2000) -> Projection:
        """Build version N+1 of ``name`` from ``events`` (CloudEvents or PathwayEvents, in
        log order; or a callable returning them, e.g. ``bus.events``), then swap it in: the
        one rebuild (:func:`projections.rebuild.rebuild`) from the event store's log."""
        rebuild(LogRebuild(self, projection_class(name).name, events, batch), progress=progress)
        return self.projections[name]

    def close(self) -> None:
        self.conn.close()


class LogRebuild:
    """The :class:`projections.rebuild.Destination` of the embedded mode: the event store's
    notification log (as the bus re-delivers it) into the SQLite file, in place.

    Live events that arrive while it builds are held (:meth:`EmbeddedProjections.apply_events`
    adds them to ``_building``) and applied to the new version in the swap's transaction,
    with the same positions as the replay, so none is lost and none applied twice."""

    def __init__(self, runner: EmbeddedProjections, name: str,
                 events: Iterable[Any] | Callable[[], Iterable[Any]], batch: int) -> None:
        self.runner, self.name, self.batch = runner, name, batch
        self._events = events
        self._source: list[Any] = []
        self._known: dict[str, int] = {}
        self._position = 0
        self._swapped: Projection | None = None

    def begin(self) -> Projection:
        with self.runner._lock:
            self.runner._building[self.name] = []
            return self.runner.projections[self.name]

    def total(self) -> int:
        # read outside the lock (the bus locks too), after the live events started being held
        self._source = list(self._events() if callable(self._events) else self._events)
        return len(self._source)

    def _batches(self) -> Iterator[Batch]:
        for start in range(0, len(self._source), self.batch):
            items = self._source[start:start + self.batch]
            events = [e for e in (i if isinstance(i, PathwayEvent) else _to_event(i, self.runner.opener) for i in items) if e is not None]
            self._position = max([self._position, *(e.notification_id or 0 for e in events)])
            yield events, len(items)

    def stage(self, new: Projection, report: Callable[[int], None]) -> Applied:
        with self.transaction() as db:
            drop_version(db, new)  # leftovers of an interrupted rebuild
            create_tables(db, new)
        return replay(self.runner.db, new, self._batches(), transaction=self.transaction, report=report,
                      known=self._known)

    def install(self, new: Projection) -> Applied | None:
        return None  # written in place

    @contextmanager
    def transaction(self) -> Iterator[Db]:
        with self.runner._lock:
            with self.runner._transaction():
                yield self.runner.db
            if self._swapped is not None:  # committed: live events go to the new version (lock still held)
                self.runner.projections[self.name] = self._swapped
                self.runner._positions[self.name] = self._position
                self._swapped = None

    def catch_up(self, db: Db, new: Projection) -> None:
        held = self.runner._building.pop(self.name, [])
        apply_once(db, new, held, known=self._known, on_refused=_refused)  # overlap skipped by position
        self._position = max([self._position, *(e.notification_id or 0 for e in held)])
        self.runner._save_position(self.name, new.version, self._position)
        self._swapped = new

    def forget(self, db: Db, old: Projection) -> None:
        pass  # one position row per projection name: catch_up moved it to the new version

    def close(self) -> None:
        self.runner._building.pop(self.name, None)
