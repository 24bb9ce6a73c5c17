"""The embedded-mode runner: projections in an SQLite file, fed by the in-process bus.

Each event is applied to every projection in ONE SQLite transaction together with each
projection's position (``projection_positions``: name, version, last notification_id), so a
restart resumes exactly once: an event whose notification id is at or below the stored
position is skipped (the bus re-delivers its whole log to a new subscriber, and the relay may
publish an event twice after a restart).

:meth:`EmbeddedProjections.rebuild` builds version N+1 of one projection from a list of
events (the bus log), then repoints its views, moves its position and drops version N in one
transaction. Live events that arrive meanwhile are held and applied to the new version
before the swap, so none is lost and none applied twice.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from projections.base import TYPE_PREFIX, NotAPathwayEvent, PathwayEvent, Projection
from infra.progress import Progress
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


def _to_event(cloud_event: Any) -> PathwayEvent | None:
    # The embedded bus also carries the alerting messages (relais.alerts' stand-in): those
    # are not ours and pass silently; a malformed *pathway* event is worth a warning.
    if not str(cloud_event.type).startswith(TYPE_PREFIX):
        return None
    try:
        return PathwayEvent.from_cloud_event(cloud_event)
    except NotAPathwayEvent as exc:
        log.warning("not a pathway event, ignored", extra={"error": str(exc)})
        return None


def _statements(projection: Projection, event: PathwayEvent) -> list[Any] | None:
    """What `projection` writes for `event`; None when it refuses the event (a type the disclosure
    catalogue does not know): the embedded mode has no dead-letter topic, so, as for a malformed
    event, a warning with the reason, and the other projections still apply it."""
    try:
        return projection.statements(event)
    except NotAPathwayEvent as exc:
        log.warning("event refused by a projection, ignored",
                    extra={"projection": projection.name, "event": event.id, "error": str(exc)})
        return None


class EmbeddedProjections:
    """Runs ``projections`` (default: all) on ``conn`` (an SQLite connection or file path)."""

    def __init__(self, conn: sqlite3.Connection | str | Path,
                 projections: Iterable[type[Projection]] | None = None) -> None:
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
        event = _to_event(cloud_event)
        if event is None:
            return
        self.apply_events([event])

    def apply_events(self, events: Sequence[PathwayEvent]) -> int:
        """Apply events in order in one transaction; returns how many (event, projection)
        applications were new."""
        applied = 0
        with self._lock:
            for name, held in self._building.items():
                held.extend(events)
            new_positions = dict(self._positions)
            with self._transaction():
                for name, projection in self.projections.items():
                    pos = new_positions.get(name, 0)
                    moved = False
                    for event in events:
                        nid = event.notification_id
                        if nid is not None and nid <= pos:
                            continue
                        statements = _statements(projection, event)
                        if statements is not None:  # a refused event is passed, as a dead-lettered one
                            self.db.run(statements)
                            applied += 1
                        if nid is not None:
                            pos, moved = nid, True
                    if moved:
                        self._save_position(name, projection.version, pos)
                        new_positions[name] = pos
            self._positions = new_positions
        return applied

    # ------------------------------------------------------------------ rebuild
    def rebuild(self, name: str, events: Iterable[Any] | Callable[[], Iterable[Any]], *,
                progress: Progress | None = None, batch: int = 2000) -> Projection:
        """Build version N+1 of ``name`` from ``events`` (CloudEvents or PathwayEvents, in
        log order; or a callable returning them, e.g. ``bus.events``), then swap it in."""
        old = self.projections[projection_class(name).name]
        with self._lock:
            new = old.at_version(old.version + 1)
            self._building[name] = []
            with self._transaction():
                drop_version(self.db, new)
                for stmt in new.ddl():
                    self.db.execute(stmt)
        try:
            source = list(events() if callable(events) else events)  # outside the lock: the bus locks too
            pos, seen = 0, set()
            if progress is not None:
                progress.start(len(source))

            def feed(items: Sequence[Any]) -> None:  # in the caller's transaction
                nonlocal pos
                for item in items:
                    event = item if isinstance(item, PathwayEvent) else _to_event(item)
                    if event is None or event.id in seen:
                        continue
                    nid = event.notification_id
                    if nid is not None and nid <= pos:
                        continue
                    seen.add(event.id)
                    self.db.run(_statements(new, event) or [])
                    if nid is not None:
                        pos = nid

            for start in range(0, len(source), batch):
                with self._lock, self._transaction():
                    feed(source[start:start + batch])
                if progress is not None:
                    progress.update(min(start + batch, len(source)))
            with self._lock:
                held = self._building.pop(name)
                with self._transaction():
                    feed(held)  # what arrived live meanwhile (overlap skipped by position and id)
                    swap(self.db, new)
                    drop_version(self.db, old)
                    self._save_position(name, new.version, pos)
                self.projections[name] = new
                self._positions[name] = pos
        finally:
            self._building.pop(name, None)
            if progress is not None:
                progress.finish()
        return new

    def close(self) -> None:
        self.conn.close()
