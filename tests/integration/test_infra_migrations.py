"""infra/postgres/migrations.py against the real PostgreSQL: once, in order, idempotent."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from infra.postgres.migrations import MigrationError, apply, discover


def _versions(url: str, schema: str) -> list[tuple[int, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute(f'SELECT version, name FROM "{schema}".schema_migrations ORDER BY version').fetchall()


def test_project_migrations_apply_once_and_a_second_run_applies_nothing(pg_url, pg_bare_schema):
    first = apply(pg_url, pg_bare_schema)
    assert [m.version for m in first] == [m.version for m in discover()]
    assert first, "the project has at least its baseline migration"
    assert apply(pg_url, pg_bare_schema) == []
    assert _versions(pg_url, pg_bare_schema) == [(m.version, m.name) for m in discover()]
    with psycopg.connect(pg_url) as conn:
        assert conn.execute(f'SELECT value FROM "{pg_bare_schema}".relais_meta WHERE key = %s', ("baseline",)).fetchone() == ("001",)


def test_only_new_migrations_are_applied_in_version_order(pg_url, pg_bare_schema, tmp_path: Path):
    (tmp_path / "002_second.sql").write_text("INSERT INTO log VALUES ('002');")
    (tmp_path / "001_first.sql").write_text("CREATE TABLE log (v text); INSERT INTO log VALUES ('001');")
    assert [m.name for m in apply(pg_url, pg_bare_schema, tmp_path)] == ["first", "second"]
    (tmp_path / "003_third.sql").write_text("INSERT INTO log VALUES ('003');")
    assert [m.name for m in apply(pg_url, pg_bare_schema, tmp_path)] == ["third"]
    with psycopg.connect(pg_url) as conn:
        assert conn.execute(f'SELECT v FROM "{pg_bare_schema}".log').fetchall() == [("001",), ("002",), ("003",)]


def test_a_failing_migration_is_rolled_back_and_not_recorded(pg_url, pg_bare_schema, tmp_path: Path):
    (tmp_path / "001_ok.sql").write_text("CREATE TABLE a (v int);")
    (tmp_path / "002_broken.sql").write_text("CREATE TABLE b (v int); SELECT * FROM no_such_table;")
    with pytest.raises(MigrationError, match="002_broken.sql"):
        apply(pg_url, pg_bare_schema, tmp_path)
    assert _versions(pg_url, pg_bare_schema) == [(1, "ok")]
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT to_regclass(%s)", (f"{pg_bare_schema}.b",)).fetchone() == (None,)


def test_editing_an_applied_migration_is_refused(pg_url, pg_bare_schema, tmp_path: Path):
    (tmp_path / "001_first.sql").write_text("CREATE TABLE a (v int);")
    apply(pg_url, pg_bare_schema, tmp_path)
    (tmp_path / "001_first.sql").write_text("CREATE TABLE a (v bigint);")
    with pytest.raises(MigrationError, match="a changé"):
        apply(pg_url, pg_bare_schema, tmp_path)


def test_two_runners_at_once_apply_each_migration_once(pg_url, pg_bare_schema, tmp_path: Path):
    (tmp_path / "001_slow.sql").write_text("CREATE TABLE a (v int); SELECT pg_sleep(0.5);")
    results: list = []

    def run() -> None:
        results.append(apply(pg_url, pg_bare_schema, tmp_path))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(len(r) for r in results) == [0, 1]
    assert _versions(pg_url, pg_bare_schema) == [(1, "slow")]


def test_badly_named_migration_files_are_rejected(tmp_path: Path):
    (tmp_path / "1-first.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNN_nom.sql"):
        discover(tmp_path)
