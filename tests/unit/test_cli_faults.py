"""Every configuration fault of every command is ONE French line on stderr (what is wrong, how
to fix it), exit 1, never a traceback. Closed loopback ports and malformed values only: no
server is needed (the faults that need a running PostgreSQL or Kafka are in
tests/integration/test_operations_workers.py)."""

from __future__ import annotations

import base64
import socket
import subprocess
from pathlib import Path

import pytest

from tests.unit.test_cli_check import _closed_port, _relais


def _the_line(run: subprocess.CompletedProcess, command: str) -> str:
    assert run.returncode == 1, (run.returncode, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr + run.stdout
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, run.stderr
    assert lines[0].startswith(f"relais {command} : ERREUR : "), lines[0]
    return lines[0]


def _distributed(**env: str | None) -> dict[str, str | None]:
    return {"RELAIS_MODE": "distributed", "RELAIS_ENVIRONMENT": "development",
            "RELAIS_DATABASE_URL": f"postgresql://relais:relais@127.0.0.1:{_closed_port()}/relais",
            "RELAIS_KAFKA_BOOTSTRAP": f"127.0.0.1:{_closed_port()}", **env}


SHORT_KEY = base64.b64encode(b"0123456789").decode()


@pytest.mark.parametrize(("key", "says"), [("pas-du-base64!!", "n'est pas du base64 valide"),
                                           (SHORT_KEY, "fait 10 octets")])
def test_serve_with_a_bad_cipher_key_says_what_is_wrong_in_one_line_before_loading(tmp_path, key, says):
    run = _relais("serve", "--port", str(_closed_port()), tmp_path=tmp_path, RELAIS_CIPHER_KEY=key)
    line = _the_line(run, "serve")
    assert "RELAIS_CIPHER_KEY" in line and says in line and "openssl rand -base64 32" in line
    assert not (tmp_path / "state" / "events.sqlite3").exists()


@pytest.mark.parametrize("command", [["relay"], ["ingest"], ["risk"], ["alerting"], ["territory"], ["serve"]])
def test_a_distributed_command_without_a_cipher_key_says_it_is_missing_in_one_line(tmp_path, command):
    run = _relais(*command, tmp_path=tmp_path, **_distributed(RELAIS_CIPHER_KEY=None))
    line = _the_line(run, command[0])
    assert "RELAIS_CIPHER_KEY manquante" in line


@pytest.mark.parametrize("command", [["serve"], ["relay"], ["risk"], ["projections", "run"], ["territory"]])
def test_a_command_on_an_unreachable_postgresql_says_so_in_one_line(tmp_path, command):
    run = _relais(*command, tmp_path=tmp_path, **_distributed(RELAIS_KAFKA_BOOTSTRAP="127.0.0.1:59092"))
    line = _the_line(run, " ".join(command))
    assert "PostgreSQL injoignable" in line and "RELAIS_DATABASE_URL" in line


def test_a_database_url_that_is_not_postgresql_is_one_line_on_relay(tmp_path):
    run = _relais("relay", tmp_path=tmp_path, **_distributed(RELAIS_DATABASE_URL="mysql://x@127.0.0.1/relais"))
    assert "n'est pas une URL PostgreSQL" in _the_line(run, "relay")


@pytest.mark.parametrize("command", [["relay"], ["ingest"], ["risk"], ["alerting"], ["projections", "run"]])
def test_a_worker_with_a_malformed_kafka_address_says_what_is_expected_in_one_line(tmp_path, command):
    run = _relais(*command, tmp_path=tmp_path, **_distributed(RELAIS_KAFKA_BOOTSTRAP="localhost"))
    line = _the_line(run, " ".join(command))
    assert "RELAIS_KAFKA_BOOTSTRAP='localhost' est invalide" in line and "hôte:port" in line


def test_serve_on_a_port_already_in_use_says_so_before_the_synthetic_load_begins(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = _relais("serve", "--port", str(port), tmp_path=tmp_path, RELAIS_SYNTHETIC_PATHWAYS="20")
    line = _the_line(run, "serve")
    assert f"le port {port} est déjà utilisé" in line and "--port" in line
    # Nothing was loaded: a later start on this state directory loads the whole territory.
    assert not (tmp_path / "state" / "events.sqlite3").exists()


def test_serve_on_a_state_directory_that_is_a_file_says_so_in_one_line(tmp_path):
    (tmp_path / "state").write_text("not a directory")
    run = _relais("serve", "--port", str(_closed_port()), tmp_path=tmp_path)
    assert "n'est pas un dossier" in _the_line(run, "serve")


def test_serve_on_an_unreadable_cipher_key_file_says_to_restore_it(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (state / "cipher.key").write_text("abîmé")
    run = _relais("serve", "--port", str(_closed_port()), tmp_path=tmp_path, RELAIS_CIPHER_KEY=None)
    line = _the_line(run, "serve")
    assert "cipher.key" in line and "restaurez-la" in line


def test_check_refuses_a_missing_cipher_key_in_distributed_mode(tmp_path):
    run = _relais("check", "cipher", tmp_path=tmp_path, **_distributed(RELAIS_CIPHER_KEY=None))
    assert "RELAIS_CIPHER_KEY manquante" in _the_line(run, "check")


def test_check_refuses_an_undecodable_cipher_key(tmp_path):
    run = _relais("check", tmp_path=tmp_path, RELAIS_CIPHER_KEY="%%%")
    assert "RELAIS_CIPHER_KEY n'est pas du base64 valide" in _the_line(run, "check")


def test_check_refuses_a_cipher_key_of_the_wrong_length(tmp_path):
    run = _relais("check", tmp_path=tmp_path, RELAIS_CIPHER_KEY=SHORT_KEY)
    assert "fait 10 octets une fois décodée" in _the_line(run, "check")


def test_check_says_the_cipher_key_is_valid_when_it_is(tmp_path):
    run = _relais("check", tmp_path=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "clé de chiffrement RELAIS_CIPHER_KEY valide" in run.stdout


def test_check_refuses_a_jwks_file_without_a_usable_key(tmp_path):
    jwks = tmp_path / "jwks.json"
    jwks.write_text('{"keys": [{"kty": "EC", "kid": "k1"}]}')
    run = _relais("check", "identity", tmp_path=tmp_path, RELAIS_JWKS_FILE=str(jwks))
    line = _the_line(run, "check")
    assert "RELAIS_JWKS_FILE" in line and "aucune clé de signature utilisable" in line


def test_check_refuses_a_jwks_file_that_is_not_there(tmp_path):
    run = _relais("check", "identity", tmp_path=tmp_path, RELAIS_JWKS_FILE=str(tmp_path / "absent.json"))
    assert "RELAIS_JWKS_FILE" in _the_line(run, "check")


def test_check_never_creates_a_state_directory_in_the_working_directory(tmp_path):
    run = _check_in(tmp_path)  # RELAIS_STATE_DIR unset: the default, .relais under the working directory
    assert run.returncode == 0, run.stderr
    assert "il sera créé au premier démarrage" in run.stdout
    assert not (tmp_path / ".relais").exists()


def _check_in(cwd: Path, **env: str | None) -> subprocess.CompletedProcess:
    import os
    import sys

    full = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    full.update({k: v for k, v in env.items() if v is not None})
    return subprocess.run([str(Path(sys.executable).with_name("relais")), "check"], env=full, cwd=cwd,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_a_command_reading_the_settings_directly_names_the_bad_variable_in_one_line(tmp_path):
    run = _relais("fhir", "export", tmp_path=tmp_path, RELAIS_HTTP_PORT="huit-mille")
    line = _the_line(run, "fhir export")
    assert "RELAIS_HTTP_PORT='huit-mille' est invalide" in line
