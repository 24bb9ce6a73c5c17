"""Shared pytest fixtures: the real PostgreSQL and the real Kafka started by infra/scripts/up.sh.

Session fixtures check once that each server answers and fail (never skip) with a line that
says to run `bash infra/scripts/up.sh`. Per-test isolation: a fresh schema (`pg_schema`) and
fresh topics (`new_topic`), dropped and deleted afterwards.

Where the servers are comes from RELAIS_DATABASE_URL / RELAIS_KAFKA_BOOTSTRAP (the defaults
of services.settings otherwise), so the tests can run against an operator's own servers too.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

UP = "lancez `bash infra/scripts/up.sh`"
_TESTS = Path(__file__).parent


def pytest_configure(config: pytest.Config) -> None:
    # Also declared in pyproject.toml; repeated here so that the markers exist whatever the ini.
    config.addinivalue_line("markers", "integration: needs the real PostgreSQL and Kafka started by infra/scripts/up.sh")
    config.addinivalue_line("markers", "e2e: HTTP/websocket tests against a served app")
    # kafka-python 3.0 loads its protocol schemas with importlib.resources' legacy API.
    for api in ("read_text", "open_text"):
        config.addinivalue_line("filterwarnings", f"ignore:{api} is deprecated:DeprecationWarning")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark by folder: tests/integration -> integration, tests/e2e -> e2e (select with -m)."""
    for item in items:
        try:
            folder = Path(str(item.path)).resolve().relative_to(_TESTS.resolve()).parts[0]
        except (ValueError, IndexError):
            continue
        if folder == "integration":
            item.add_marker(pytest.mark.integration)
        elif folder == "e2e":
            item.add_marker(pytest.mark.e2e)


def _settings():
    from services.settings import Settings

    return Settings()


def _unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


# --- PostgreSQL -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_url() -> str:
    """URL of the running PostgreSQL (RELAIS_DATABASE_URL or the up.sh default), checked once."""
    import psycopg

    url = _settings().database_url
    where = url.rsplit("@", 1)[-1]
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        first = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
        pytest.fail(f"PostgreSQL ne répond pas à {where} ({first}) : {UP}, ou corrigez RELAIS_DATABASE_URL.",
                    pytrace=False)
    return url


@pytest.fixture
def pg_schema(pg_url: str) -> Iterator[str]:
    """A fresh, uniquely named schema in that database with every migration applied (as
    up.sh applies them to `public`: the migrations own Relais's tables); dropped (CASCADE)
    after the test."""
    import psycopg

    from infra.postgres.migrations import apply

    name = _unique("t")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        apply(pg_url, name)
        yield name
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def pg_bare_schema(pg_url: str) -> Iterator[str]:
    """A fresh schema with nothing in it, not even the migrations (tests of the runner)."""
    import psycopg

    name = _unique("b")
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    try:
        yield name
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


# --- Kafka ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """Bootstrap servers of the running Kafka (RELAIS_KAFKA_BOOTSTRAP or the up.sh default), checked once."""
    from infra.kafka.topics import ping

    bootstrap = _settings().kafka_bootstrap
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:  # fail at once on a closed port instead of after the client's bootstrap timeout
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except (OSError, ValueError) as exc:
        pytest.fail(f"Kafka injoignable sur {bootstrap} ({exc}) : {UP}, ou corrigez RELAIS_KAFKA_BOOTSTRAP.",
                    pytrace=False)
    try:
        ping(bootstrap, timeout_ms=10_000)
    except Exception as exc:  # noqa: BLE001 - whatever the reason, the message is the same
        pytest.fail(f"Kafka ne répond pas sur {bootstrap} ({type(exc).__name__}) : {UP}, "
                    "ou corrigez RELAIS_KAFKA_BOOTSTRAP.", pytrace=False)
    return bootstrap


@pytest.fixture(scope="session")
def kafka_admin(kafka_bootstrap: str):
    """One KafkaAdminClient for the session (kafka-python)."""
    from infra.kafka.topics import admin_client

    admin = admin_client(kafka_bootstrap, timeout_ms=10_000)
    yield admin
    admin.close()


@pytest.fixture
def new_topic(kafka_admin) -> Iterator[Callable[..., str]]:
    """Factory: `new_topic(partitions=3, prefix="t") -> name` creates a uniquely named topic
    (replication 1), ready to use (leaders elected); every topic it made is deleted after the test."""
    made: list[str] = []

    def make(partitions: int = 3, prefix: str = "t") -> str:
        name = f"{prefix}.{uuid.uuid4().hex[:12]}"
        kafka_admin.create_topics(
            {name: {"num_partitions": partitions, "replication_factor": 1}}, wait_for_metadata=True
        )
        made.append(name)
        return name

    yield make
    if made:
        kafka_admin.delete_topics(made, raise_errors=False)
