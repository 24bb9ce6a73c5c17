"""Reads of the event store for the gateway: many pathways in ONE query, and the past.

`load_histories(ids)` reads the stored events of every pathway of a page in one SQL
statement (PostgreSQL `= ANY(%s)`, SQLite `IN (...)`), decrypts and maps them with the
application's own mapper, and folds them into aggregates exactly as the library's repository
does (`event.mutate(aggregate)` in version order). The same events give the timeline, and the
state *as it was known at a past date* (`asOf`): the fold stopped at the last event recorded
(library `timestamp`) before that date, i.e. `repository.get(id, version=N)` for that N,
without a second read.
"""

from __future__ import annotations

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


class EventStoreReader:
    def __init__(self, app: PathwaysApplication) -> None:
        self.app = app
        recorder = app.recorder
        self._table = getattr(recorder, "events_table_name", None)
        module = type(recorder).__module__
        self._kind = "postgres" if "postgres" in module else "sqlite" if "sqlite" in module else "other"

    # ------------------------------------------------------------------ raw rows
    def _stored(self, ids: Sequence[UUID]) -> list[StoredEvent]:
        recorder: Any = self.app.recorder
        if not ids:
            return []
        if self._kind == "postgres":
            from psycopg.sql import SQL, Identifier

            statement = SQL("SELECT originator_id, originator_version, topic, state FROM {}.{} "
                            "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version").format(
                Identifier(recorder.datastore.schema), Identifier(self._table))
            with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
                curs.execute(statement, [list(ids)])
                return [StoredEvent(originator_id=r["originator_id"], originator_version=r["originator_version"],
                                    topic=r["topic"], state=bytes(r["state"])) for r in curs.fetchall()]
        if self._kind == "sqlite":
            marks = ",".join("?" * len(ids))
            statement = (f"SELECT originator_id, originator_version, topic, state FROM {self._table} "
                         f"WHERE originator_id IN ({marks}) ORDER BY originator_id, originator_version")
            with recorder.datastore.transaction(commit=False) as c:
                c.execute(statement, [i.hex for i in ids])
                return [StoredEvent(originator_id=recorder.convert_originator_id(r["originator_id"]),
                                    originator_version=r["originator_version"], topic=r["topic"], state=r["state"])
                        for r in c.fetchall()]
        return [e for i in ids for e in recorder.select_events(i)]  # other stores: one read each

    # ------------------------------------------------------------------ histories
    def load_histories(self, ids: Iterable[UUID], as_of: datetime | None = None) -> dict[UUID, History]:
        wanted = list(dict.fromkeys(ids))
        by_id: dict[UUID, list[Any]] = {}
        for stored in self._stored(wanted):
            if not stored.topic.startswith("domain."):
                continue
            event = self.app.mapper.to_domain_event(stored)
            if as_of is not None and _aware(event.timestamp) > as_of:
                continue
            by_id.setdefault(UUID(str(stored.originator_id)), []).append(event)
        histories: dict[UUID, History] = {}
        for pathway_id, events in by_id.items():
            aggregate = None
            for event in events:
                aggregate = event.mutate(aggregate)
            if aggregate is not None:
                histories[pathway_id] = History(pathway=aggregate, events=events)
        return histories
