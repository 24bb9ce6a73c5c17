"""The embedded mode's migrations: `infra/sqlite/migrations/NNN_name.sql`, applied in order.

The twin of infra/postgres/migrations.py (same file names, same tables, same columns; the
integration test tests/integration/test_migrations_dialects.py compares the two catalogues),
for the SQLite files of the embedded mode. Every SQLite file Relais opens goes through
:func:`connect`, which applies what is missing: a file is never used with a partial schema.
Versioned projection tables (`<table>_vN`) stay dynamic, as on PostgreSQL (projections/schema.py).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from infra.postgres.migrations import Migration, MigrationError, discover

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def apply(conn: sqlite3.Connection, directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Apply to `conn` what it has not applied yet; returns the migrations applied now.
    Each file runs in one transaction with its `schema_migrations` row (BEGIN IMMEDIATE: two
    processes opening the same file apply it once)."""
    migrations = discover(directory)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "checksum TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))")
    if conn.in_transaction:
        conn.commit()
    applied_now: list[Migration] = []
    for m in migrations:
        conn.execute("BEGIN IMMEDIATE")  # re-read under the lock: another process may have applied it
        try:
            done = dict(conn.execute("SELECT version, checksum FROM schema_migrations").fetchall())
            if m.version in done:
                if done[m.version] != m.checksum:
                    raise MigrationError(f"{m.path.name} a changé depuis son application : ne modifiez pas une "
                                         "migration appliquée, ajoutez-en une nouvelle")
            else:
                for statement in _statements(m.sql):
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES (?, ?, ?)",
                             (m.version, m.name, m.checksum))
                applied_now.append(m)
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise MigrationError(f"{m.path.name} a échoué : {exc}") from exc
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return applied_now


def _statements(script: str) -> list[str]:
    """The statements of a migration file, one by one (`executescript` would commit first)."""
    out, pending = [], ""
    for line in script.splitlines(keepends=True):
        if not pending and (not line.strip() or line.lstrip().startswith("--")):
            continue
        pending += line
        if sqlite3.complete_statement(pending):
            out.append(pending.strip())
            pending = ""
    if pending.strip():
        out.append(pending.strip())
    return out


def connect(path: str | Path, *, timeout: float = 30.0) -> sqlite3.Connection:
    """An SQLite connection on `path` (a file, or ":memory:") with every migration applied:
    autocommit (callers open their transactions), usable from several threads behind the
    caller's lock, WAL for files so that readers do not wait for the writer."""
    from infra.files import private_file

    where = str(path)
    if where != ":memory:":
        private_file(where)  # 0600 in a 0700 directory, before SQLite creates it 0644
    conn = sqlite3.connect(where, timeout=timeout, check_same_thread=False, isolation_level=None)
    if where != ":memory:":
        conn.execute("PRAGMA journal_mode=WAL")
    # A deleted row is overwritten with zeros, not left in a free page: an erased person's rows
    # (services/privacy) must not stay readable in the file.
    conn.execute("PRAGMA secure_delete=ON")
    apply(conn)
    return conn


__all__ = ["MIGRATIONS_DIR", "apply", "connect"]
