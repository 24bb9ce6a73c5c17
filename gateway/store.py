"""The one history loader: a pathway's stored events, read from the event store for `asOf`.

Everything else the gateway shows comes from the read models (gateway.readside); `asOf`
replays the events recorded (library `timestamp`) up to that date through the same
projections (gateway.readside.replay). `_stored` reads the stored events of many pathways in
ONE SQL statement (PostgreSQL `unnest`, SQLite `OR`), decrypted and mapped by the
application's own mapper.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from services.pathways.application import PathwaysApplication
from services.relay.relay import aggregate_name


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

    # ------------------------------------------------------------------ one pathway's past
    def history(self, pathway_id: UUID, as_of: datetime | None = None) -> list[tuple[str, Any]]:
        """One pathway's domain events in version order (only those recorded up to `as_of` if
        given), each with the aggregate class name its stored topic names (what the relay puts
        in the `pathwaykind` extension)."""
        out: list[tuple[str, Any]] = []
        for stored in self._stored([pathway_id]):
            if not stored.topic.startswith("domain."):
                continue
            event = self.app.mapper.to_domain_event(stored)
            if as_of is not None and _aware(event.timestamp) > as_of:
                break
            out.append((aggregate_name(stored.topic), event))
        return out
