"""The real PostgreSQL server (infra/scripts/up.sh): write, read, isolation by schema."""

from __future__ import annotations

import psycopg
import pytest


def test_rows_written_in_a_fresh_schema_are_read_back(pg_url, pg_schema):
    with psycopg.connect(pg_url) as conn:
        conn.execute(f'CREATE TABLE "{pg_schema}".notes (id serial PRIMARY KEY, body text NOT NULL)')
        conn.cursor().executemany(f'INSERT INTO "{pg_schema}".notes (body) VALUES (%s)', [("un",), ("deux",)])
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(f'SELECT id, body FROM "{pg_schema}".notes ORDER BY id').fetchall()
    assert rows == [(1, "un"), (2, "deux")]


def test_a_rolled_back_transaction_leaves_nothing_behind(pg_url, pg_schema):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE TABLE "{pg_schema}".t (v int)')
        with pytest.raises(RuntimeError):
            with conn.transaction():
                conn.execute(f'INSERT INTO "{pg_schema}".t VALUES (1)')
                raise RuntimeError("abandon")
        assert conn.execute(f'SELECT count(*) FROM "{pg_schema}".t').fetchone() == (0,)


def test_each_test_gets_its_own_empty_schema(pg_url, pg_schema):
    with psycopg.connect(pg_url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s", (pg_schema,)
        ).fetchone()
        server = conn.execute("SHOW server_version_num").fetchone()[0]
    assert tables == (0,)
    assert int(server) >= 150000
