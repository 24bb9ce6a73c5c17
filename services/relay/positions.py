"""Where the relay keeps its position in the notification log."""

from __future__ import annotations

from psycopg import sql
from psycopg_pool import ConnectionPool


class PostgresPositionStore:
    """`relay_positions(name, notification_id)` in the event store's own database."""

    def __init__(self, pool: ConnectionPool, schema: str = "public") -> None:
        self._pool = pool  # the table comes from infra/postgres/migrations/
        self._table = sql.SQL("{}.relay_positions").format(sql.Identifier(schema))

    def load(self, name: str) -> int:
        with self._pool.connection() as conn:
            row = conn.execute(
                sql.SQL("SELECT notification_id FROM {} WHERE name = %s").format(self._table), (name,)
            ).fetchone()
        return int(row[0]) if row else 0

    def save(self, name: str, notification_id: int) -> None:
        with self._pool.connection() as conn:
            conn.execute(
                sql.SQL(
                    "INSERT INTO {} (name, notification_id) VALUES (%s, %s) ON CONFLICT (name) DO UPDATE "
                    "SET notification_id = GREATEST({}.notification_id, EXCLUDED.notification_id), updated_at = now()"
                ).format(self._table, self._table),
                (name, notification_id),
            )


class MemoryPositionStore:
    """For the embedded mode and unit tests."""

    def __init__(self) -> None:
        self._positions: dict[str, int] = {}

    def load(self, name: str) -> int:
        return self._positions.get(name, 0)

    def save(self, name: str, notification_id: int) -> None:
        self._positions[name] = max(notification_id, self._positions.get(name, 0))
