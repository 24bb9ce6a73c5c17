"""infra/sqlite/migrations.py: the embedded mode's tables come from the migration files only."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from infra.postgres.migrations import MigrationError
from infra.sqlite import migrations


def test_opening_a_file_applies_every_migration_once_and_reopening_applies_nothing(tmp_path: Path):
    path = tmp_path / "state.sqlite3"
    first = migrations.connect(path)
    versions = [v for (v,) in first.execute("SELECT version FROM schema_migrations ORDER BY version")]
    assert versions == [m.version for m in migrations.discover(migrations.MIGRATIONS_DIR)]
    first.execute("INSERT INTO relay_positions (name, notification_id) VALUES ('x', 7)")
    first.close()
    again = migrations.connect(path)
    assert migrations.apply(again) == []
    assert again.execute("SELECT notification_id FROM relay_positions").fetchall() == [(7,)]


def test_a_failing_migration_leaves_nothing_behind_and_names_its_file(tmp_path: Path):
    (tmp_path / "001_ok.sql").write_text("CREATE TABLE a (v INTEGER);")
    (tmp_path / "002_broken.sql").write_text("CREATE TABLE b (v INTEGER);\nSELECT * FROM no_such_table;")
    conn = sqlite3.connect(":memory:", isolation_level=None)
    with pytest.raises(MigrationError, match="002_broken.sql a échoué"):
        migrations.apply(conn, tmp_path)
    assert [v for (v,) in conn.execute("SELECT version FROM schema_migrations")] == [1]
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'b'").fetchall() == []


def test_editing_an_applied_migration_is_refused(tmp_path: Path):
    (tmp_path / "001_first.sql").write_text("CREATE TABLE a (v INTEGER);")
    conn = sqlite3.connect(":memory:", isolation_level=None)
    migrations.apply(conn, tmp_path)
    (tmp_path / "001_first.sql").write_text("CREATE TABLE a (v TEXT);")
    with pytest.raises(MigrationError, match="a changé"):
        migrations.apply(conn, tmp_path)


def test_adapters_read_and_write_the_migrations_tables_without_creating_any(tmp_path: Path):
    from datetime import datetime, timezone
    from uuid import uuid4

    from services.risk.deadlines import SQLiteDeadlineIndex

    index = SQLiteDeadlineIndex(str(tmp_path / "risk.sqlite3"))
    pid, due = uuid4(), datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    with index.transaction() as conn:
        index.set(conn, pid, "76", due)
    with index.transaction() as conn:
        assert index.get(conn, pid) == due
