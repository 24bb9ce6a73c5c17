"""services.settings: RELAIS_* environment variables, defaults, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from services.checks import CheckFailed, settings_from_env
from services.settings import DEFAULT_DATABASE_URL, DEFAULT_KAFKA_BOOTSTRAP, Settings


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    import os

    for key in list(os.environ):
        if key.startswith("RELAIS_"):
            monkeypatch.delenv(key)


def test_defaults_are_the_embedded_mode_and_the_up_sh_servers():
    s = Settings()
    assert s.mode == "embedded"
    assert s.database_url == DEFAULT_DATABASE_URL == "postgresql://relais:relais@127.0.0.1:55432/relais"
    assert s.kafka_bootstrap == DEFAULT_KAFKA_BOOTSTRAP == "127.0.0.1:59092"
    assert s.http_host == "127.0.0.1"
    assert s.topic_prefix == "relais"


def test_relais_prefixed_variables_override_the_defaults(monkeypatch):
    monkeypatch.setenv("RELAIS_MODE", "distributed")
    monkeypatch.setenv("RELAIS_HTTP_PORT", "9100")
    monkeypatch.setenv("RELAIS_KAFKA_BOOTSTRAP", "k1:9092,k2:9092")
    monkeypatch.setenv("RELAIS_STATE_DIR", "/tmp/relais-state")
    monkeypatch.setenv("RELAIS_GRAPHQL_DEV", "true")
    s = Settings()
    assert (s.mode, s.http_port, s.kafka_bootstrap) == ("distributed", 9100, "k1:9092,k2:9092")
    assert s.state_dir == Path("/tmp/relais-state")
    assert s.graphql_dev is True


def test_variables_without_the_prefix_are_ignored(monkeypatch):
    monkeypatch.setenv("MODE", "distributed")
    monkeypatch.setenv("HTTP_PORT", "1")
    s = Settings()
    assert (s.mode, s.http_port) == ("embedded", 8000)


def test_secrets_are_not_shown_in_the_settings_repr(monkeypatch):
    monkeypatch.setenv("RELAIS_CIPHER_KEY", "super-secret-value")
    assert "super-secret-value" not in repr(Settings())


@pytest.mark.parametrize(
    ("var", "value"),
    [("RELAIS_MODE", "cluster"), ("RELAIS_HTTP_PORT", "abc"), ("RELAIS_HTTP_PORT", "70000")],
)
def test_an_invalid_value_is_refused(monkeypatch, var, value):
    monkeypatch.setenv(var, value)
    with pytest.raises(ValidationError):
        Settings()


def test_an_invalid_value_becomes_one_line_naming_the_variable(monkeypatch):
    monkeypatch.setenv("RELAIS_HTTP_PORT", "abc")
    with pytest.raises(CheckFailed) as caught:
        settings_from_env()
    message = str(caught.value)
    assert "RELAIS_HTTP_PORT='abc'" in message and "\n" not in message
