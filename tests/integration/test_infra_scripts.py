"""infra/scripts/up.sh: idempotent, uses an operator's own servers, fails fast in one line."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _up(**env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    full.update(env)
    return subprocess.run(["bash", str(ROOT / "infra/scripts/up.sh")], env=full, capture_output=True,
                          text=True, timeout=240, stdin=subprocess.DEVNULL)


def _error_lines(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.strip()]


def test_up_again_finds_both_servers_running_and_changes_nothing(pg_url, kafka_bootstrap):
    run = _up()
    assert run.returncode == 0, run.stderr
    assert "PostgreSQL : déjà démarré" in run.stdout
    assert "Kafka : déjà démarré" in run.stdout
    assert "0 créés, 0 modifiés" in run.stdout
    assert "infrastructure prête" in run.stdout


def test_up_uses_servers_named_by_the_settings_and_starts_nothing(pg_url, kafka_bootstrap):
    # The same servers, under names that are not the defaults: up.sh must take them as given.
    run = _up(RELAIS_DATABASE_URL="postgresql://relais:relais@localhost:55432/relais",
              RELAIS_KAFKA_BOOTSTRAP="localhost:59092")
    assert run.returncode == 0, run.stderr
    assert "PostgreSQL : RELAIS_DATABASE_URL désigne un autre serveur, rien à démarrer" in run.stdout
    assert "désigne un autre broker, rien à démarrer" in run.stdout
    assert "démarrage" not in run.stdout


def test_up_with_an_unreachable_kafka_fails_in_one_line():
    run = _up(RELAIS_DATABASE_URL="postgresql://relais:relais@localhost:55432/relais",
              RELAIS_KAFKA_BOOTSTRAP=f"127.0.0.1:{_closed_port()}")
    assert run.returncode != 0
    (line,) = _error_lines(run.stderr)
    assert "Kafka ne répond pas" in line and "RELAIS_KAFKA_BOOTSTRAP" in line


def test_up_with_a_wrong_database_url_fails_in_one_line():
    run = _up(RELAIS_DATABASE_URL=f"postgresql://relais:relais@127.0.0.1:{_closed_port()}/relais")
    assert run.returncode != 0
    (line,) = _error_lines(run.stderr)
    assert "PostgreSQL" in line and "RELAIS_DATABASE_URL" in line
    assert "Traceback" not in run.stderr


def test_up_without_java_fails_before_starting_anything_in_one_line():
    run = _up(RELAIS_JAVA="/nonexistent/bin/java")
    assert run.returncode != 0
    (line,) = _error_lines(run.stderr)
    assert "Java introuvable" in line and "JAVA_HOME" in line
    assert "PostgreSQL" not in run.stdout
