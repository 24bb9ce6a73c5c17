"""One list of tables: the PostgreSQL and the SQLite migrations define the same tables with
the same columns, and nothing runs on a schema whose migrations are missing."""

from __future__ import annotations

import psycopg
import pytest

from infra.kafka.consumer import ConsumerRunner, FunctionHandler, RunnerConfig
from infra.postgres.migrations import MigrationError, discover
from infra.sqlite import migrations as sqlite_migrations


def _pg_catalogue(url: str, schema: str) -> dict[str, list[str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = %s "
            "ORDER BY table_name, ordinal_position", (schema,)).fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def _sqlite_catalogue() -> dict[str, list[str]]:
    conn = sqlite_migrations.connect(":memory:")
    tables = [t for (t,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
    return {t: [c[1] for c in conn.execute(f'PRAGMA table_info("{t}")')] for t in tables}


def test_postgres_and_sqlite_migrations_name_the_same_tables_with_the_same_columns(pg_url, pg_schema):
    pg, lite = _pg_catalogue(pg_url, pg_schema), _sqlite_catalogue()
    assert sorted(pg) == sorted(lite)
    assert {t: cols for t, cols in pg.items()} == {t: lite[t] for t in pg}
    assert [m.name for m in discover()] == [m.name for m in discover(sqlite_migrations.MIGRATIONS_DIR)]
    # Every table a service writes is in the list (the read models' versioned tables are not).
    assert {"relay_positions", "kafka_consumer_positions", "kafka_applied_events", "gateway_audit_events",
            "alerting_webhooks", "alerting_deliveries", "risk_deadlines", "projection_versions",
            "projection_positions", "pathway_checksums", "territory_settings", "alerting_digests"} <= set(pg)


def test_a_consumer_on_a_schema_without_migrations_refuses_to_start_with_a_french_sentence(
    pg_url, pg_bare_schema, kafka_bootstrap
):
    config = RunnerConfig(group_id="t-unmigrated", topics=["t.unused"], bootstrap_servers=kafka_bootstrap,
                          schema=pg_bare_schema)
    runner = ConsumerRunner(FunctionHandler(lambda conn, message: None), config, conninfo=pg_url)
    try:
        with pytest.raises(MigrationError, match=r"migration\(s\) non appliquée\(s\) : 001_baseline, "
                                                 r"002_service_tables.*infra.postgres.migrations apply"):
            runner.start()
    finally:
        runner.close()


def test_a_worker_command_on_a_schema_without_migrations_exits_with_one_french_line(pg_url, pg_bare_schema):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from eventsourcing.cipher import AESCipher

    env = {**os.environ, "RELAIS_DATABASE_URL": pg_url, "RELAIS_DATABASE_SCHEMA": pg_bare_schema,
           "RELAIS_CIPHER_KEY": AESCipher.create_key(32)}
    out = subprocess.run([sys.executable, "-m", "services.cli", "relay"], cwd=Path(__file__).resolve().parents[2],
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("relais relay : ERREUR : "), out.stderr
    assert f"migration(s) en attente dans le schéma {pg_bare_schema}" in lines[0]
    assert "infra.postgres.migrations apply" in lines[0]  # and how to fix it
    assert "Traceback" not in out.stderr
