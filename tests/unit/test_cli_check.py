"""`relais --help` and `relais check`: bad configuration fails fast, one clear line, no traceback.

Only closed loopback ports and malformed values here: no server is needed.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

RELAIS = str(Path(sys.executable).with_name("relais"))


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: A valid cipher key (base64 of 32 bytes), given unless a test says otherwise (None: unset).
CIPHER_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="


def _relais(*args: str, tmp_path: Path | None = None, **env: str | None) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    if tmp_path is not None:
        full["RELAIS_STATE_DIR"] = str(tmp_path / "state")
    full["RELAIS_CIPHER_KEY"] = CIPHER_KEY
    full.update({k: v for k, v in env.items() if v is not None})
    for k in [k for k, v in env.items() if v is None]:
        full.pop(k, None)
    return subprocess.run([RELAIS, *args], env=full, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


def _one_error_line(run: subprocess.CompletedProcess) -> str:
    assert run.returncode == 1, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr + run.stdout
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith("relais check : ERREUR : ")
    return lines[0]


def test_relais_help_lists_serve_and_check():
    run = _relais("--help")
    assert run.returncode == 0
    assert "serve" in run.stdout and "check" in run.stdout and "RELAIS_" in run.stdout


def test_relais_check_help_names_the_components():
    run = _relais("check", "--help")
    assert run.returncode == 0
    assert "database" in run.stdout and "kafka" in run.stdout


def test_check_in_embedded_mode_needs_neither_kafka_nor_postgresql(tmp_path):
    run = _relais("check", tmp_path=tmp_path, RELAIS_KAFKA_BOOTSTRAP=f"127.0.0.1:{_closed_port()}")
    assert run.returncode == 0, run.stderr
    assert "mode embedded" in run.stdout


def test_check_with_a_database_url_on_a_closed_port_says_so_in_one_line(tmp_path):
    port = _closed_port()
    line = _one_error_line(_relais("check", tmp_path=tmp_path, RELAIS_MODE="distributed",
                                   RELAIS_ENVIRONMENT="development",
                                   RELAIS_DATABASE_URL=f"postgresql://relais:secret@127.0.0.1:{port}/relais"))
    assert f"127.0.0.1:{port}" in line and "RELAIS_DATABASE_URL" in line and "up.sh" in line
    assert "secret" not in line


@pytest.mark.parametrize("url", ["mysql://relais@127.0.0.1/relais", "127.0.0.1:55432", "postgresql://h:notaport/db"])
def test_check_with_a_malformed_database_url_says_what_is_expected(tmp_path, url):
    line = _one_error_line(_relais("check", "database", tmp_path=tmp_path, RELAIS_DATABASE_URL=url))
    assert "RELAIS_DATABASE_URL" in line


def test_check_with_kafka_on_a_closed_port_says_so_in_one_line(tmp_path):
    port = _closed_port()
    line = _one_error_line(_relais("check", "kafka", tmp_path=tmp_path,
                                   RELAIS_KAFKA_BOOTSTRAP=f"127.0.0.1:{port}"))
    assert f"Kafka injoignable à 127.0.0.1:{port}" in line and "RELAIS_KAFKA_BOOTSTRAP" in line


def test_check_with_a_malformed_kafka_bootstrap_says_what_is_expected(tmp_path):
    line = _one_error_line(_relais("check", "kafka", tmp_path=tmp_path, RELAIS_KAFKA_BOOTSTRAP="localhost"))
    assert "hôte:port" in line


def test_check_with_an_invalid_setting_names_the_variable(tmp_path):
    line = _one_error_line(_relais("check", tmp_path=tmp_path, RELAIS_MODE="cluster"))
    assert "RELAIS_MODE='cluster'" in line


def test_check_with_an_unknown_component_is_refused():
    run = _relais("check", "redis")
    assert run.returncode == 2
    assert "composant inconnu redis" in run.stderr and "Traceback" not in run.stderr


# --------------------------------------------------------------------------- production refusals
def _production(**env: str) -> dict[str, str]:
    """A distributed production setting whose only faults are the ones `env` brings."""
    from tests.tokens import identity_env

    return {"RELAIS_MODE": "distributed", "RELAIS_DATABASE_URL": f"postgresql://relais:s3cret@127.0.0.1:{_closed_port()}/relais",
            **identity_env(), **env}


def _error_lines(run: subprocess.CompletedProcess, prefix: str) -> list[str]:
    assert run.returncode == 1, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr + run.stdout
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    assert all(ln.startswith(f"relais {prefix} : ERREUR : ") for ln in lines), lines
    return lines


def test_check_in_production_without_an_issuer_says_so_in_one_line(tmp_path):
    env = {k: v for k, v in _production().items() if k not in ("RELAIS_JWT_ISSUER", "RELAIS_JWKS")}
    [line] = _error_lines(_relais("check", tmp_path=tmp_path, **env), "check")
    assert "sans émetteur de jetons" in line and "RELAIS_JWKS_URL" in line


def test_check_in_production_with_the_default_database_password_says_so_in_one_line(tmp_path):
    env = _production(RELAIS_DATABASE_URL="postgresql://relais:relais@127.0.0.1:55432/relais")
    [line] = _error_lines(_relais("check", tmp_path=tmp_path, **env), "check")
    assert "mot de passe PostgreSQL par défaut" in line and "RELAIS_DATABASE_URL" in line


def test_check_in_production_with_the_development_key_says_so_in_one_line(tmp_path):
    state = tmp_path / "state"
    env = {k: v for k, v in _production().items() if k != "RELAIS_JWKS"}
    dev = _relais("token", "--agency", "siao", "--professional", "p", "--role", "coordinateur", tmp_path=tmp_path)
    assert dev.returncode == 0, dev.stderr
    [line] = _error_lines(_relais("check", tmp_path=tmp_path, RELAIS_JWKS_FILE=str(state / "dev-jwks.json"), **env),
                          "check")
    assert "clé de développement" in line


def test_check_names_each_production_problem_on_its_own_line(tmp_path):
    env = {"RELAIS_MODE": "distributed"}  # no issuer, no JWKS, the default password
    lines = _error_lines(_relais("check", tmp_path=tmp_path, **env), "check")
    assert len(lines) == 2
    assert "sans émetteur de jetons" in lines[0] and "mot de passe PostgreSQL par défaut" in lines[1]


def test_serve_in_production_with_the_development_key_exits_with_that_line_and_no_traceback(tmp_path):
    env = {k: v for k, v in _production().items() if k != "RELAIS_JWKS"}
    _relais("token", "--agency", "siao", "--professional", "p", "--role", "coordinateur", tmp_path=tmp_path)
    run = _relais("serve", "--port", str(_closed_port()), tmp_path=tmp_path,
                  RELAIS_JWKS_FILE=str(tmp_path / "state" / "dev-jwks.json"), **env)
    [line] = _error_lines(run, "serve")
    assert "clé de développement" in line and "Relais (" not in run.stdout


def test_serve_in_production_without_an_issuer_exits_with_that_line(tmp_path):
    run = _relais("serve", "--port", str(_closed_port()), tmp_path=tmp_path, RELAIS_ENVIRONMENT="production")
    [line] = _error_lines(run, "serve")
    assert "sans émetteur de jetons" in line


def test_check_in_the_development_setting_names_the_local_token_key_and_the_registry(tmp_path):
    run = _relais("check", tmp_path=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "identité (development) : jetons de `relais token`" in run.stdout and "structures" in run.stdout
