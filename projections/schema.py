"""Tables, views and versions of the read models, on PostgreSQL and on SQLite.

``projection_versions(name, version, swapped_at)`` says which version of each projection the
views point at (defined by the migrations: infra/postgres/migrations/, infra/sqlite/migrations/).
The physical tables ``<table>_vN`` and their views stay dynamic, by design: a rebuild
creates version N+1 beside N while N is still served. Readers read the views; writers write the physical tables of a version.

* :func:`ensure_current` (start of a live runner): creates the tables of the current version
  and the views if missing, and registers version 1 the first time.
* :func:`swap` (end of a rebuild): repoints every view of the projection at version N+1 and
  records it, in ONE transaction (PostgreSQL: ``CREATE OR REPLACE VIEW``, falling back to
  drop + create inside the same transaction when the columns changed; SQLite: drop + create
  inside one transaction); :func:`drop_version` then drops the old tables.

Every function works on a :class:`Db`: a psycopg or sqlite3 connection plus the dialect.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from projections.base import Projection, Statement, Table

REGISTRY = "projection_versions"


@dataclass
class Db:
    """A connection and its dialect ("postgres" or "sqlite")."""

    conn: Any
    dialect: str

    @classmethod
    def of(cls, conn: Any) -> Db:
        return cls(conn, "sqlite" if isinstance(conn, sqlite3.Connection) else "postgres")

    def sql(self, text: str) -> str:
        return text.replace("%s", "?") if self.dialect == "sqlite" else text

    def execute(self, text: str, params: Sequence[Any] = ()) -> Any:
        return self.conn.execute(self.sql(text), tuple(params))

    def run(self, statements: Iterable[Statement]) -> None:
        ex = self.conn.execute
        if self.dialect == "sqlite":
            for s in statements:
                ex(s.sql.replace("%s", "?"), s.params)
        else:
            # One execute per statement, on purpose: the same batch sent pipelined
            # (`conn.pipeline()`) was faster alone in one process but made the distributed
            # mode's seven read-model runners, sharing one process, catch up a territory
            # load 1.5 times slower (docs/benchmarks.md, issue 15).
            for s in statements:
                ex(s.sql, s.params)

    def fetchall(self, text: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.execute(text, params).fetchall()]


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def current_version(db: Db, name: str) -> int | None:
    """The version the views of ``name`` point at (None: never created)."""
    rows = db.fetchall(f"SELECT version FROM {REGISTRY} WHERE name = %s", (name,))
    return int(rows[0][0]) if rows else None


def create_tables(db: Db, projection: Projection) -> None:
    for stmt in projection.ddl():
        db.execute(stmt)


def _view_exists(db: Db, view: str) -> bool:
    if db.dialect == "sqlite":
        return bool(db.fetchall("SELECT 1 FROM sqlite_master WHERE type = 'view' AND name = %s", (view,)))
    return bool(db.fetchall(
        "SELECT 1 FROM pg_views WHERE viewname = %s AND schemaname = current_schema()", (view,)))


def _point_views(db: Db, projection: Projection) -> None:
    for table in projection.tables:
        view, phys = table.name, projection.t[table.name]
        if db.dialect == "sqlite":
            db.execute(f"DROP VIEW IF EXISTS {view}")
            db.execute(f"CREATE VIEW {view} AS SELECT * FROM {phys}")
            continue
        db.execute("SAVEPOINT relais_view")
        try:
            db.execute(f"CREATE OR REPLACE VIEW {view} AS SELECT * FROM {phys}")
        except Exception:  # noqa: BLE001 - columns changed between versions
            db.execute("ROLLBACK TO SAVEPOINT relais_view")
            db.execute(f"DROP VIEW IF EXISTS {view}")
            db.execute(f"CREATE VIEW {view} AS SELECT * FROM {phys}")
        db.execute("RELEASE SAVEPOINT relais_view")


def ensure_current(db: Db, projection_class: type[Projection]) -> Projection:
    """The projection at its current version, its tables and views created if missing.
    Runs in the caller's transaction."""
    version = current_version(db, projection_class.name)
    projection = projection_class(version or 1)
    create_tables(db, projection)
    if version is None:
        db.execute(
            f"INSERT INTO {REGISTRY} (name, version, swapped_at) VALUES (%s, %s, %s) ON CONFLICT (name) DO NOTHING",
            (projection.name, projection.version, _now()),
        )
    if version is None or not all(_view_exists(db, t.name) for t in projection.tables):
        _point_views(db, projection)
    return projection


def declared_columns(table: Table) -> set[str]:
    """The column names a :class:`Table` declares (its ``columns`` text)."""
    return {part.strip().split()[0] for part in table.columns.split(",") if part.strip()}


def _physical_columns(db: Db, physical: str) -> set[str]:
    if db.dialect == "sqlite":
        return {row[1] for row in db.fetchall(f"PRAGMA table_info({physical})")}
    return {row[0] for row in db.fetchall(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = %s", (physical,))}


def layout_changed(db: Db, projection: Projection) -> list[str]:
    """The tables of ``projection`` whose stored columns differ from what the code declares
    (a release changed them): that version must be rebuilt (version N+1) before it is fed."""
    changed = []
    for table in projection.tables:
        have = _physical_columns(db, projection.t[table.name])
        if have and have != declared_columns(table):
            changed.append(table.name)
    return changed


def swap(db: Db, new: Projection) -> int | None:
    """Point the views at ``new`` and record its version (caller's transaction: make it ONE
    transaction). Returns the version the views pointed at before."""
    old = current_version(db, new.name)
    _point_views(db, new)
    db.execute(
        f"INSERT INTO {REGISTRY} (name, version, swapped_at) VALUES (%s, %s, %s) "
        "ON CONFLICT (name) DO UPDATE SET version = excluded.version, swapped_at = excluded.swapped_at",
        (new.name, new.version, _now()),
    )
    return old


def drop_version(db: Db, projection: Projection) -> None:
    """Drop the physical tables of ``projection`` (an old version no view points at)."""
    for table in projection.tables:
        db.execute(f"DROP TABLE IF EXISTS {projection.t[table.name]}")


def table_rows(db: Db, projection: Projection) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of ``projection`` (sorted): what the tests compare."""
    out = {}
    for table in projection.tables:
        rows = db.fetchall(f"SELECT * FROM {projection.t[table.name]}")
        out[table.name] = sorted(rows, key=repr)
    return out
