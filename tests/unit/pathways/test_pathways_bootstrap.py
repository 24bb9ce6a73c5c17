"""Wiring from Settings (services.bootstrap.build_pathways_application)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from eventsourcing.cipher import AESCipher
from services.bootstrap import build_pathways_application, postgres_env
from services.settings import Settings


def test_embedded_mode_generates_the_cipher_key_once_and_keeps_it(tmp_path: Path) -> None:
    settings = Settings(mode="embedded", state_dir=tmp_path)
    first = build_pathways_application(settings)
    keyfile = settings.generated_keys_dir() / "cipher.key"  # apart from the data (issue 11)
    key = keyfile.read_text()
    second = build_pathways_application(settings)
    assert keyfile.read_text() == key and not (tmp_path / "cipher.key").exists()
    assert first.env["CIPHER_KEY"] == second.env["CIPHER_KEY"] == key
    assert keyfile.stat().st_mode & 0o077 == 0
    assert (tmp_path / "events.sqlite3").exists()
    first.close()
    second.close()


def test_a_key_from_settings_wins(tmp_path: Path) -> None:
    key = AESCipher.create_key(16)
    app = build_pathways_application(Settings(state_dir=tmp_path, cipher_key=SecretStr(key)), SQLITE_DBNAME=":memory:")
    assert app.env["CIPHER_KEY"] == key and not (tmp_path / "cipher.key").exists()
    app.close()


def test_distributed_mode_refuses_to_run_without_a_cipher_key(tmp_path: Path) -> None:
    from services.checks import CheckFailed

    with pytest.raises(CheckFailed, match="RELAIS_CIPHER_KEY manquante"):
        build_pathways_application(Settings(mode="distributed", state_dir=tmp_path))


def test_the_database_url_becomes_the_library_postgres_keys() -> None:
    env = postgres_env("postgresql://relais:s%40cret@db.local:6543/relais_prod", "pathways")
    assert env == {
        "PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": "relais_prod", "POSTGRES_HOST": "db.local",
        "POSTGRES_PORT": "6543", "POSTGRES_USER": "relais", "POSTGRES_PASSWORD": "s@cret", "POSTGRES_SCHEMA": "pathways",
    }


def test_payloads_are_encrypted_with_the_cryptography_cipher_and_stores_written_with_pycryptodome_still_read(
    tmp_path: Path,
) -> None:
    """The cipher moved from eventsourcing.cipher (pycryptodome) to eventsourcing.cryptography
    (PyCA): same key format and same stored format (nonce, tag, ciphertext), both ways."""
    from eventsourcing.cryptography import AESCipher as CryptographyCipher

    key = AESCipher.create_key(32)
    app = build_pathways_application(Settings(state_dir=tmp_path, cipher_key=SecretStr(key)), SQLITE_DBNAME=":memory:")
    assert app.env["CIPHER_TOPIC"] == "eventsourcing.cryptography:AESCipher"
    assert isinstance(app.mapper.cipher, CryptographyCipher)
    old = AESCipher({"CIPHER_KEY": key})
    payload = b'{"reason":"Parcours clos (handed_over)."}'
    assert app.mapper.cipher.decrypt(old.encrypt(payload)) == payload
    assert old.decrypt(app.mapper.cipher.encrypt(payload)) == payload
    assert len(app.mapper.cipher.encrypt(payload)) == len(old.encrypt(payload)) == len(payload) + 28
    app.close()
