"""The deadline index: when each open pathway must next be looked at by the risk engine.

One row per pathway that has a future deadline (`risk_deadlines(pathway_id PK, territory,
due_at)`, indexed on `due_at`; defined by the migrations, infra/postgres/migrations/ and
infra/sqlite/migrations/). The engine writes the row after every evaluation (the next
moment a rule could start firing with no new event, or an alert's escalation time) and deletes
it when there is none. The clock sweep reads only the rows whose `due_at` has passed, through
the index: it never scans every open pathway.

Two variants with the same SQL where the dialects allow it:
- PostgreSQL (distributed mode): `due()` takes `FOR UPDATE SKIP LOCKED`, so several engine
  processes can sweep together, each taking rows the others have not locked; the rows stay
  locked until the sweeping transaction commits with the new deadlines. The consumer runner's
  writes (`upsert` on the runner's connection) happen in its own transaction, with its position.
- SQLite (embedded mode, unit tests): one connection guarded by a lock; `due_at` is stored as
  fixed-width UTC text (`2026-03-02T09:00:00.000000Z`), which sorts like time.
"""

from __future__ import annotations

import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

UTC = timezone.utc
TABLE = "risk_deadlines"

_UPSERT = (
    "INSERT INTO {table} (pathway_id, territory, due_at) VALUES ({p}, {p}, {p}) "
    "ON CONFLICT (pathway_id) DO UPDATE SET territory = excluded.territory, due_at = excluded.due_at"
)
_DELETE = "DELETE FROM {table} WHERE pathway_id = {p}"
_GET = "SELECT due_at FROM {table} WHERE pathway_id = {p}"
_COUNT = "SELECT count(*) FROM {table}"
_DUE = "SELECT pathway_id, territory, due_at FROM {table} WHERE due_at <= {p} ORDER BY due_at LIMIT {p}"


@dataclass(frozen=True)
class Due:
    pathway_id: UUID
    territory: str
    due_at: datetime


class DeadlineIndex(ABC):
    """What the engine needs of the index. Every method takes the connection of the caller's
    transaction (`transaction()` gives one; the consumer runner passes its own)."""

    dialect: str

    @abstractmethod
    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A connection inside a transaction, committed on exit (rolled back on error)."""

    @abstractmethod
    def _sql(self, template: str) -> Any: ...

    @abstractmethod
    def _to_db(self, moment: datetime) -> Any: ...

    @abstractmethod
    def _from_db(self, value: Any) -> datetime: ...

    def _id(self, pathway_id: UUID) -> Any:
        return pathway_id

    def set(self, conn: Any, pathway_id: UUID, territory: str, due_at: datetime | None) -> None:
        """Index `pathway_id` at `due_at`, or drop it (None: only a new event can change things)."""
        if due_at is None:
            conn.execute(self._sql(_DELETE), (self._id(pathway_id),))
        else:
            conn.execute(self._sql(_UPSERT), (self._id(pathway_id), territory, self._to_db(due_at)))

    def set_many(self, conn: Any, rows: list[tuple[UUID, str, datetime | None]]) -> None:
        """`set` for many pathways in two statements (a sweep batch writes its rows at once)."""
        upserts = [(self._id(p), t, self._to_db(d)) for p, t, d in rows if d is not None]
        deletes = [(self._id(p),) for p, _, d in rows if d is None]
        cursor = conn.cursor()
        if upserts:
            cursor.executemany(self._sql(_UPSERT), upserts)
        if deletes:
            cursor.executemany(self._sql(_DELETE), deletes)

    def get(self, conn: Any, pathway_id: UUID) -> datetime | None:
        row = conn.execute(self._sql(_GET), (self._id(pathway_id),)).fetchone()
        return self._from_db(row[0]) if row else None

    def count(self, conn: Any) -> int:
        return int(conn.execute(self._sql(_COUNT)).fetchone()[0])

    def due(self, conn: Any, now: datetime, limit: int) -> list[Due]:
        """Up to `limit` pathways whose deadline is at or before `now`, earliest first."""
        rows = conn.execute(self._sql(self._due_sql()), (self._to_db(now), limit)).fetchall()
        return [Due(UUID(str(r[0])), r[1], self._from_db(r[2])) for r in rows]

    def _due_sql(self) -> str:
        return _DUE

    def explain_due(self, conn: Any, now: datetime, limit: int) -> str:
        """The database's plan for `due()` (tests and benchmarks check it uses the index)."""
        prefix = "EXPLAIN QUERY PLAN " if self.dialect == "sqlite" else "EXPLAIN "
        rows = conn.execute(self._sql(prefix + self._due_sql()), (self._to_db(now), limit)).fetchall()
        return "\n".join(" ".join(str(c) for c in r) for r in rows)


class SQLiteDeadlineIndex(DeadlineIndex):
    """Embedded mode and unit tests: an SQLite file or `:memory:`."""

    dialect = "sqlite"

    def __init__(self, path: str = ":memory:") -> None:
        from infra.sqlite.migrations import connect

        self._lock = threading.RLock()
        self._conn = connect(path)  # the table comes from infra/sqlite/migrations/

    def _sql(self, template: str) -> str:
        return template.format(table=TABLE, index=f"{TABLE}_due_at", uuid="TEXT", ts="TEXT", p="?")

    def _id(self, pathway_id: UUID) -> str:
        return str(pathway_id)

    def _to_db(self, moment: datetime) -> str:
        moment = (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment).astimezone(UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def _from_db(self, value: Any) -> datetime:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()


class PostgresDeadlineIndex(DeadlineIndex):
    """Distributed mode: the table in `schema` of the event store's PostgreSQL."""

    dialect = "postgresql"

    def __init__(self, pool: Any = None, schema: str = "public") -> None:
        """`pool`: a psycopg_pool ConnectionPool (autocommit connections) for `transaction()`;
        None when the index is only used on connections handed in (the consumer runner's)."""
        from psycopg import sql

        self._pool = pool
        self.schema = schema
        self._table = sql.Identifier(schema, TABLE).as_string(None)
        self._index = sql.Identifier(f"{TABLE}_due_at").as_string(None)

    def _sql(self, template: str) -> str:
        return template.format(table=self._table, index=self._index, uuid="uuid", ts="timestamptz", p="%s")

    def _to_db(self, moment: datetime) -> datetime:
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment

    def _from_db(self, value: Any) -> datetime:
        return value.astimezone(UTC)

    def _due_sql(self) -> str:
        # Rows another sweeper holds are skipped, not waited for.
        return _DUE + " FOR UPDATE SKIP LOCKED"

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        if self._pool is None:
            raise RuntimeError("PostgresDeadlineIndex without a pool: pass the caller's connection")
        with self._pool.connection() as conn, conn.transaction():
            yield conn


__all__ = ["Due", "DeadlineIndex", "PostgresDeadlineIndex", "SQLiteDeadlineIndex", "TABLE"]
