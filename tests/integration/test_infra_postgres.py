"""The real PostgreSQL server (infra/scripts/up.sh): write, read, isolation by schema."""

from __future__ import annotations

import psycopg
import pytest

from infra.postgres.migrations import discover


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


def test_each_test_gets_its_own_schema_holding_only_the_migrations_tables(pg_url, pg_schema):
    with psycopg.connect(pg_url) as conn:
        conn.execute(f'CREATE TABLE "{pg_schema}".mine (v int)')  # invisible to every other test
        tables = {t for (t,) in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (pg_schema,))}
        applied = {v for (v,) in conn.execute(f'SELECT version FROM "{pg_schema}".schema_migrations')}
        server = conn.execute("SHOW server_version_num").fetchone()[0]
    assert applied == {m.version for m in discover()}
    assert {"schema_migrations", "relais_meta", "kafka_consumer_positions", "gateway_audit_events",
            "mine"} <= tables
    assert int(server) >= 150000


def test_a_schema_made_by_another_test_is_not_this_one(pg_url, pg_schema):
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT to_regclass(%s)", (f"{pg_schema}.mine",)).fetchone() == (None,)
