"""Reads of the event store for the gateway: many pathways in ONE query, and the past.

`load_histories(ids)` reads the stored events of every pathway of a page in one SQL
statement (PostgreSQL `= ANY(%s)`, SQLite `IN (...)`), decrypts and maps them with the
application's own mapper, and folds them into aggregates exactly as the library's repository
does (`event.mutate(aggregate)` in version order). The same events give the timeline, and the
state *as it was known at a past date* (`asOf`): the fold stopped at the last event recorded
(library `timestamp`) before that date, i.e. `repository.get(id, version=N)` for that N,
without a second read.

Decoded histories are cached per pathway (`HistoryCache`, bounded, least recently used): a
read then fetches only the events recorded after the cached version (the library's
`select_events(gt=version)`, batched in one statement per page) and decrypts only those. The
aggregate is folded again from the cached (immutable) events on every read, so nothing
mutable is shared between requests, and the state judged is always the latest in the store:
a consent withdrawn or an agency gone a moment ago is in the events fetched after the
cached version.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from domain.pathway import Pathway
from services.pathways.application import PathwaysApplication


@dataclass
class History:
    pathway: Pathway
    events: list[Any]  # domain events, in version order (only those up to `as_of` if given)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


class HistoryCache:
    """Decoded domain events per pathway, complete up to `version` (bounded, LRU)."""

    def __init__(self, max_pathways: int = 20_000) -> None:
        self.max_pathways = max_pathways
        self._items: OrderedDict[UUID, tuple[int, tuple[Any, ...]]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, pathway_id: UUID) -> tuple[int, tuple[Any, ...]] | None:
        with self._lock:
            item = self._items.get(pathway_id)
            if item is not None:
                self._items.move_to_end(pathway_id)
                self.hits += 1
            else:
                self.misses += 1
            return item

    def put(self, pathway_id: UUID, version: int, events: tuple[Any, ...]) -> None:
        if self.max_pathways <= 0:
            return
        with self._lock:
            known = self._items.get(pathway_id)
            if known is not None and known[0] >= version:
                return  # a concurrent read already stored as much or more
            self._items[pathway_id] = (version, events)
            self._items.move_to_end(pathway_id)
            while len(self._items) > self.max_pathways:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class EventStoreReader:
    def __init__(self, app: PathwaysApplication, cache_size: int = 20_000) -> None:
        self.app = app
        self.cache = HistoryCache(cache_size)
        recorder = app.recorder
        self._table = getattr(recorder, "events_table_name", None)
        module = type(recorder).__module__
        self._kind = "postgres" if "postgres" in module else "sqlite" if "sqlite" in module else "other"

    # ------------------------------------------------------------------ raw rows
    def _stored(self, ids: Sequence[UUID], after: dict[UUID, int] | None = None) -> list[StoredEvent]:
        """Stored events of `ids`, only those after `after[id]` (a version) where given."""
        recorder: Any = self.app.recorder
        after = after or {}
        if not ids:
            return []
        versions = [after.get(i, 0) for i in ids]
        if self._kind == "postgres":
            from psycopg.sql import SQL, Identifier

            statement = SQL("SELECT e.originator_id, e.originator_version, e.topic, e.state FROM {}.{} e "
                            "JOIN unnest(%s::uuid[], %s::int[]) AS w(id, after) ON e.originator_id = w.id "
                            "AND e.originator_version > w.after "
                            "ORDER BY e.originator_id, e.originator_version").format(
                Identifier(recorder.datastore.schema), Identifier(self._table))
            with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
                curs.execute(statement, [list(ids), versions], prepare=True)
                return [StoredEvent(originator_id=r["originator_id"], originator_version=r["originator_version"],
                                    topic=r["topic"], state=bytes(r["state"])) for r in curs.fetchall()]
        if self._kind == "sqlite":
            where = " OR ".join("(originator_id = ? AND originator_version > ?)" for _ in ids)
            statement = (f"SELECT originator_id, originator_version, topic, state FROM {self._table} "
                         f"WHERE {where} ORDER BY originator_id, originator_version")
            params: list[Any] = []
            for i, v in zip(ids, versions, strict=True):
                params += [i.hex, v]
            with recorder.datastore.transaction(commit=False) as c:
                c.execute(statement, params)
                return [StoredEvent(originator_id=recorder.convert_originator_id(r["originator_id"]),
                                    originator_version=r["originator_version"], topic=r["topic"], state=r["state"])
                        for r in c.fetchall()]
        return [e for i, v in zip(ids, versions, strict=True)  # other stores: one read each
                for e in recorder.select_events(i, gt=v or None)]

    # ------------------------------------------------------------------ histories
    def load_histories(self, ids: Iterable[UUID], as_of: datetime | None = None) -> dict[UUID, History]:
        wanted = list(dict.fromkeys(ids))
        cached: dict[UUID, tuple[int, tuple[Any, ...]]] = {}
        for pathway_id in wanted:
            item = self.cache.get(pathway_id)
            if item is not None:
                cached[pathway_id] = item
        fresh: dict[UUID, list[Any]] = {}
        last: dict[UUID, int] = {}  # highest stored version seen (library events included)
        for stored in self._stored(wanted, {i: v for i, (v, _) in cached.items()}):
            pathway_id = UUID(str(stored.originator_id))
            last[pathway_id] = max(last.get(pathway_id, 0), stored.originator_version)
            if not stored.topic.startswith("domain."):
                continue
            fresh.setdefault(pathway_id, []).append(self.app.mapper.to_domain_event(stored))
        histories: dict[UUID, History] = {}
        for pathway_id in wanted:
            known_version, known = cached.get(pathway_id, (0, ()))
            new = fresh.get(pathway_id, [])
            everything = known + tuple(new) if new else known
            if pathway_id in last:
                self.cache.put(pathway_id, last[pathway_id], everything)
            events = list(everything) if as_of is None else [e for e in everything if _aware(e.timestamp) <= as_of]
            aggregate = None
            for event in events:
                aggregate = event.mutate(aggregate)
            if aggregate is not None:
                histories[pathway_id] = History(pathway=aggregate, events=events)
        return histories
