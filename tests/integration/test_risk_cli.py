"""`relais risk` as a process: JSON logs on stderr, consumes pathway-events, sweeps, and stops
cleanly on SIGTERM; `--help` answers without any server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from eventsourcing.cipher import AESCipher

ROOT = Path(__file__).resolve().parents[2]


def test_relais_risk_help_needs_no_server() -> None:
    out = subprocess.run([sys.executable, "-m", "services.cli", "risk", "--help"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60, env={**os.environ, "RELAIS_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"})
    assert out.returncode == 0
    assert "--interval" in out.stdout and "relais-risk" in out.stdout


def test_relais_risk_runs_until_sigterm_with_json_logs(pg_url: str, pg_schema: str, kafka_bootstrap: str,
                                                       kafka_admin) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    topics = [f"{prefix}.pathway-events", f"{prefix}.deadletter"]
    kafka_admin.create_topics({t: {"num_partitions": 1, "replication_factor": 1} for t in topics},
                              wait_for_metadata=True)
    env = {**os.environ, "RELAIS_DATABASE_URL": pg_url, "RELAIS_DATABASE_SCHEMA": pg_schema,
           "RELAIS_KAFKA_BOOTSTRAP": kafka_bootstrap, "RELAIS_TOPIC_PREFIX": prefix,
           "RELAIS_CIPHER_KEY": AESCipher.create_key(32)}
    try:
        proc = subprocess.Popen([sys.executable, "-m", "services.cli", "risk", "--interval", "0.5"], cwd=ROOT,
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        lines: list[dict] = []
        assert proc.stderr is not None
        while time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(json.loads(line))
            if any(entry.get("event") == "assigned" for entry in lines):
                break
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=60)
        lines += [json.loads(line) for line in rest.splitlines() if line.strip()]
        events = [entry.get("event") for entry in lines]
        assert proc.returncode == 0, lines
        assert "clock_start" in events and "start" in events and "signal" in events
        assert events[-1] in ("clock_stop", "close")
        assert all(entry.get("level") and entry.get("time") for entry in lines)
    finally:
        kafka_admin.delete_topics(topics, raise_errors=False)


def test_relais_risk_sweep_once_sweeps_the_postgres_index_and_exits(pg_url: str, pg_schema: str) -> None:
    env = {**os.environ, "RELAIS_DATABASE_URL": pg_url, "RELAIS_DATABASE_SCHEMA": pg_schema,
           "RELAIS_CIPHER_KEY": AESCipher.create_key(32)}
    out = subprocess.run([sys.executable, "-m", "services.cli", "risk", "--sweep-once"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    [done] = [json.loads(line) for line in out.stderr.splitlines() if '"sweep_once"' in line]
    assert done["due"] == 0 and done["raised"] == 0
