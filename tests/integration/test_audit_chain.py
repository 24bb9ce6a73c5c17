"""The audit trail is tamper-evident: `relais audit verify` finds an edited and a deleted
record, on the real PostgreSQL and on SQLite (embedded)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from psycopg_pool import ConnectionPool

from gateway.audit import AuditRecord, PostgresAuditLog, SqliteAuditLog

ROOT = Path(__file__).resolve().parents[2]


def record(n: int) -> AuditRecord:
    return AuditRecord(professional=f"pro-{n}", agency="siao", role="coordinateur", action="R", operation="pathway",
                       purpose="CAREMGT", pathway_id=f"p-{n % 3}", categories=("identity", "social"), outcome="0",
                       recorded_at=datetime(2026, 11, 24, tzinfo=timezone.utc) + timedelta(seconds=n))


def verify(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli", "audit", "verify"], cwd=ROOT, text=True,
                          capture_output=True, timeout=120, env={**os.environ, **env})


def pg_env(pg_url: str, pg_schema: str) -> dict[str, str]:
    return {"RELAIS_MODE": "distributed", "RELAIS_ENVIRONMENT": "development", "RELAIS_DATABASE_URL": pg_url,
            "RELAIS_DATABASE_SCHEMA": pg_schema}


@pytest.mark.parametrize("tamper", ["edit", "delete", "delete_last"])
def test_relais_audit_verify_finds_a_tampered_record_on_postgresql(pg_url, pg_schema, tamper):
    with ConnectionPool(pg_url, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
        log = PostgresAuditLog(pool, pg_schema)
        log.write([record(n) for n in range(3)])
        log.write([record(n) for n in range(3, 6)])  # a second batch continues the chain
        intact = verify(pg_env(pg_url, pg_schema))
        assert intact.returncode == 0, intact.stderr
        assert "intacte" in intact.stdout
        with pool.connection() as conn:
            table = f'"{pg_schema}".gateway_audit_events'
            if tamper == "edit":  # someone hides who read the pathway
                conn.execute(f"UPDATE {table} SET professional = 'quelquun' WHERE seq = 2")
            elif tamper == "delete":
                conn.execute(f"DELETE FROM {table} WHERE seq = 4")
            else:
                conn.execute(f"DELETE FROM {table} WHERE seq = 6")
    found = verify(pg_env(pg_url, pg_schema))
    assert found.returncode == 1
    expected = {"edit": "n° 2", "delete": "n° 4", "delete_last": "dernier"}[tamper]
    assert "ALTÉRÉ" in found.stderr and expected in found.stderr, found.stderr


@pytest.mark.parametrize("tamper", ["edit", "delete"])
def test_relais_audit_verify_finds_a_tampered_record_in_the_embedded_sqlite_file(tmp_path, tamper):
    log = SqliteAuditLog(tmp_path / "audit.sqlite3")
    log.write([record(n) for n in range(4)])
    env = {"RELAIS_MODE": "embedded", "RELAIS_STATE_DIR": str(tmp_path)}
    assert verify(env).returncode == 0
    if tamper == "edit":
        log._conn.execute("UPDATE gateway_audit_events SET categories = '[]' WHERE seq = 3")  # noqa: SLF001
    else:
        log._conn.execute("DELETE FROM gateway_audit_events WHERE seq = 2")  # noqa: SLF001
    log.close()
    found = verify(env)
    assert found.returncode == 1 and ("n° 3" if tamper == "edit" else "n° 2") in found.stderr, found.stderr
