"""The composition root: the one place that reads settings and wires adapters.

Nothing connects at import time; `bootstrap()` does the wiring when a command asks for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from services.settings import Settings

if TYPE_CHECKING:
    from services.pathways import PathwaysApplication, PathwaysHandler


@dataclass
class Relais:
    """The wired system, handed to the gateway and the workers."""

    settings: Settings
    pathways: PathwaysHandler | None = None
    # gateway (filled by ensure_gateway_adapters): embedded bus + relay onto it, audit log, webhooks
    bus: Any = None
    embedded_relay: Any = None
    audit: Any = None
    webhooks: Any = None
    readmodels: Any = None  # connection factory to the projections' read models (list queries)
    agencies: Any = None  # domain.agencies.AgencyRegistry (tokens name one of its agencies)


def bootstrap(settings: Settings | None = None) -> Relais:
    settings = settings or Settings()
    from services.pathways import PathwaysHandler

    from infra.agencies import load_registry

    return Relais(settings=settings, pathways=PathwaysHandler(build_pathways_application(settings)),
                  agencies=load_registry(settings.agencies_file))


# --- pathways (the eventsourcing application) -------------------------------------------------


#: The library's cipher that encrypts event payloads at rest.
CIPHER_TOPIC = "eventsourcing.cryptography:AESCipher"


def _cipher_key(settings: Settings) -> str:
    """The AES key encrypting event payloads: from settings, or (embedded mode only) one
    generated once and kept under state_dir, so that a restart can still read its events."""
    if settings.cipher_key is not None:
        return settings.cipher_key.get_secret_value()
    if settings.mode != "embedded":
        msg = "RELAIS_CIPHER_KEY is required in distributed mode (event payloads are encrypted at rest)."
        raise RuntimeError(msg)
    from eventsourcing.cryptography import AESCipher

    path = Path(settings.state_dir) / "cipher.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(AESCipher.create_key(num_bytes=32))
    return path.read_text().strip()


def postgres_env(database_url: str, schema: str) -> dict[str, str]:
    """The eventsourcing library's POSTGRES_* keys for a postgresql:// URL."""
    parts = urlsplit(database_url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parts.path.lstrip("/") or "relais",
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or ""),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_SCHEMA": schema,
    }


def _ensure_schema(database_url: str, schema: str) -> None:
    # The library creates its tables but not the schema they live in.
    import psycopg
    from psycopg import sql

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))


def build_pathways_application(settings: Settings, **overrides: str) -> PathwaysApplication:
    """Builds the pathways application on the store the settings name.

    Embedded mode: SQLite file `state_dir/events.sqlite3`; distributed mode: the PostgreSQL
    of `database_url`, in `database_schema`. `overrides` are eventsourcing environment keys
    that win over those (tests pass SQLITE_DBNAME=":memory:" or POSTGRES_SCHEMA=<fresh>).
    """
    from services.pathways import PathwaysApplication

    if settings.mode == "distributed" or overrides.get("PERSISTENCE_MODULE") == "eventsourcing.postgres":
        env = postgres_env(settings.database_url, settings.database_schema)
        # The library's recorder, sending the rows in binary (services/pathways/recorder.py).
        env["APPLICATION_RECORDER_TOPIC"] = "services.pathways.recorder:PathwaysPostgresRecorder"
    else:
        state_dir = Path(settings.state_dir)
        state_dir.mkdir(parents=True, exist_ok=True)
        env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(state_dir / "events.sqlite3")}
    env.update(
        {
            # AES-256-GCM with PyCA `cryptography` (~3 µs a payload; pycryptodome's
            # eventsourcing.cipher:AESCipher took ~50-80 µs). Same stored format (nonce, tag,
            # ciphertext): stores written with either are read by the other.
            "CIPHER_TOPIC": CIPHER_TOPIC,
            "CIPHER_KEY": _cipher_key(settings),
            # Commands run on a cached copy of the pathway, without reading the store: a
            # copy made stale by another process collides on the version when saved, and
            # the handler then forgets it and runs the command again on fresh state.
            "AGGREGATE_CACHE_MAXSIZE": "5000",
            "AGGREGATE_CACHE_FASTFORWARD": "n",
            # Several threads (gateway, ingest, risk) share one application in embedded mode.
            "POSTGRES_POOL_SIZE": "5",
            "POSTGRES_MAX_OVERFLOW": "10",
        }
    )
    env.update(overrides)
    if env["PERSISTENCE_MODULE"] == "eventsourcing.postgres":
        _ensure_schema(settings.database_url, env["POSTGRES_SCHEMA"])
    return PathwaysApplication(env=env)


# --- workers: relay and ingest (distributed mode) ---------------------------------------------


def topic(settings: Settings, name: str) -> str:
    """Full topic name: `relais.pathway-events`, `relais.inbound.siao`..."""
    return f"{settings.topic_prefix}.{name}"


def is_pathway_event(stored_topic: str) -> bool:
    """Pathway events go on the wire; the idempotency records kept beside them do not."""
    return stored_topic.startswith("domain.")


def build_relay(settings: Settings, app: PathwaysApplication | None = None):  # noqa: ANN201 - lazy import
    """The outbox relay: this settings' event store -> `relais.pathway-events`."""
    from collections.abc import Callable

    from psycopg_pool import ConnectionPool

    from infra.kafka.producer import EventProducer
    from infra.kafka.publisher import KafkaPublisher
    from services.relay.positions import PostgresPositionStore
    from services.relay.relay import PostgresWaker, ReconnectingPublisher, Relay

    app = app or build_pathways_application(settings)
    pool = ConnectionPool(settings.database_url, min_size=1, max_size=2, open=True, kwargs={"autocommit": True})

    def connect() -> tuple[KafkaPublisher, Callable[[], None]]:
        # On first publish, not here: the relay must start (and retry) while Kafka is down.
        producer = EventProducer(settings.kafka_bootstrap, client_id="relais-relay")
        return KafkaPublisher(producer, topic(settings, "pathway-events")), lambda: producer.close(timeout=5)

    return Relay(
        app,
        ReconnectingPublisher(connect),
        PostgresPositionStore(pool, settings.database_schema),
        is_published=is_pathway_event,
        # Woken by the event store's NOTIFY on each write (the 50 ms poll stays as a fallback).
        waker=PostgresWaker(settings.database_url, app.recorder.channel_name),
    )


def build_ingest_runner(settings: Settings, agencies: list[str], pathways: PathwaysHandler | None = None):  # noqa: ANN201
    """The ingest consumer over `relais.inbound.<agency>` for each agency."""
    from infra.kafka.consumer import ConsumerRunner, RunnerConfig
    from services.ingest.handler import IngestHandler
    from services.pathways import PathwaysHandler

    pathways = pathways or PathwaysHandler(build_pathways_application(settings))
    config = RunnerConfig(
        group_id="relais-ingest",
        topics=[topic(settings, f"inbound.{agency}") for agency in agencies],
        bootstrap_servers=settings.kafka_bootstrap,
        schema=settings.database_schema,
        deadletter_topic=topic(settings, "deadletter"),
        on_duplicate="deadletter",
    )
    return ConsumerRunner(IngestHandler(pathways, topic_prefix=settings.topic_prefix), config, conninfo=settings.database_url)


# --- gateway: audit log, alert webhooks, embedded bus (appended for the GraphQL gateway) -------


def ensure_gateway_adapters(relais: Relais) -> Relais:
    """What the gateway needs beside the pathways: the audit log (SQLite file embedded,
    PostgreSQL distributed), the webhook registry, and in embedded mode the in-process bus fed
    by a relay from the event store (Kafka's stand-in for alert subscriptions)."""
    settings = relais.settings
    if relais.pathways is None:
        from services.pathways import PathwaysHandler

        relais.pathways = PathwaysHandler(build_pathways_application(settings))
    if relais.audit is None or relais.webhooks is None:
        from services.alerting.webhooks import secret_box

        if settings.mode == "distributed":
            from psycopg_pool import ConnectionPool

            from gateway.audit import PostgresAuditLog
            from services.alerting.webhooks import PostgresWebhookRegistry

            pool = ConnectionPool(settings.database_url, min_size=1, max_size=8, open=True,
                                  kwargs={"autocommit": True})
            relais.audit = relais.audit or PostgresAuditLog(pool, settings.database_schema)
            relais.webhooks = relais.webhooks or PostgresWebhookRegistry(pool, settings.database_schema,
                                                                         box=secret_box(settings))
            if relais.readmodels is None:  # `relais projections run` keeps them in database_schema
                from gateway.index import postgres_readmodels

                relais.readmodels = postgres_readmodels(settings.database_url, settings.database_schema)
        else:
            from gateway.audit import SqliteAuditLog
            from services.alerting.webhooks import SqliteWebhookRegistry

            state_dir = Path(settings.state_dir)
            state_dir.mkdir(parents=True, exist_ok=True)
            relais.audit = relais.audit or SqliteAuditLog(state_dir / "audit.sqlite3")
            relais.webhooks = relais.webhooks or SqliteWebhookRegistry(state_dir / "webhooks.sqlite3",
                                                                       box=secret_box(settings))
    if settings.mode == "embedded" and relais.bus is None:
        from infra.bus import InProcessBus
        from services.relay.relay import Relay

        relais.bus = InProcessBus()
        from services.relay.positions import MemoryPositionStore

        # In memory: a restart republishes the whole log onto the fresh bus; its subscribers
        # skip what they already applied by their own stored positions.
        relais.embedded_relay = Relay(relais.pathways.app, relais.bus, MemoryPositionStore(),
                                      is_published=is_pathway_event, name="embedded")
    return relais


# --- projections (read models) ----------------------------------------------------------------


def projection_target(settings: Settings):  # noqa: ANN201 - lazy import
    """Where the distributed projections read (`<prefix>.pathway-events`) and write (PostgreSQL)."""
    from projections.postgres import Target

    return Target(
        conninfo=settings.database_url,
        schema=settings.database_schema,
        bootstrap=settings.kafka_bootstrap,
        topic=topic(settings, "pathway-events"),
        deadletter_topic=topic(settings, "deadletter"),
    )


def build_projection_runner(settings: Settings, projection):  # noqa: ANN001, ANN201 - name or class
    """The live runner of one projection (its current version; follows a rebuild's swap)."""
    from projections.postgres import LiveProjection
    from projections.registry import projection_class

    cls = projection_class(projection) if isinstance(projection, str) else projection
    return LiveProjection(projection_target(settings), cls)


def build_embedded_projections(settings: Settings, bus=None):  # noqa: ANN001, ANN201
    """Every projection in `state_dir/read_models.sqlite3`, subscribed to `bus` when given."""
    from projections.embedded import EmbeddedProjections

    state_dir = Path(settings.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    projections = EmbeddedProjections(state_dir / "read_models.sqlite3")
    if bus is not None:
        projections.attach(bus)
    return projections


# --- risk engine (rupture-risk alerts) --------------------------------------------------------


def build_risk_engine(settings: Settings, pathways: PathwaysHandler | None = None, *, clock=None,  # noqa: ANN001, ANN201
                      territories=None, deadlines=None):
    """The rupture-risk engine on this settings' event store, with its deadline index:
    PostgreSQL `risk_deadlines` in `database_schema` (distributed), or the SQLite file
    `state_dir/risk_deadlines.sqlite3` (embedded). `clock` defaults to the system clock;
    `territories` maps a territory to its TerritorySettings (defaults otherwise)."""
    from services.clock import SystemClock
    from services.pathways import PathwaysHandler
    from services.risk import PostgresDeadlineIndex, RiskEngine, SQLiteDeadlineIndex

    pathways = pathways or PathwaysHandler(build_pathways_application(settings))
    if deadlines is None:
        if settings.mode == "distributed":
            from psycopg_pool import ConnectionPool

            pool = ConnectionPool(settings.database_url, min_size=1, max_size=4, open=True,
                                  kwargs={"autocommit": True}, name="risk-deadlines")
            deadlines = PostgresDeadlineIndex(pool, settings.database_schema)
            with deadlines.transaction() as conn:
                deadlines.setup(conn)
        else:
            state_dir = Path(settings.state_dir)
            state_dir.mkdir(parents=True, exist_ok=True)
            deadlines = SQLiteDeadlineIndex(str(state_dir / "risk_deadlines.sqlite3"))
    from infra.agencies import load_registry

    names = {code: agency.name for code, agency in load_registry(settings.agencies_file).items()}
    return RiskEngine(pathways, clock or SystemClock(), deadlines, territories=territories, agency_names=names)


def build_risk_runner(settings: Settings, engine=None):  # noqa: ANN001, ANN201
    """The risk consumer over `relais.pathway-events` (group `relais-risk`): each event
    re-evaluates its pathway; the deadline row is written in the runner's transaction."""
    from infra.kafka.consumer import ConsumerRunner, RunnerConfig
    from services.risk.runner import RiskConsumerHandler

    engine = engine or build_risk_engine(settings)
    config = RunnerConfig(
        group_id="relais-risk",
        topics=[topic(settings, "pathway-events")],
        bootstrap_servers=settings.kafka_bootstrap,
        schema=settings.database_schema,
        deadletter_topic=topic(settings, "deadletter"),
    )
    return ConsumerRunner(RiskConsumerHandler(engine), config, conninfo=settings.database_url)


def build_embedded_risk(settings: Settings, bus, pathways: PathwaysHandler | None = None, *,  # noqa: ANN001, ANN201
                        clock=None, interval: float = 5.0):
    """Embedded mode: the engine subscribed to the in-process bus, its SQLite index under
    state_dir and a clock loop every `interval` s. Call `.start()` (and `.stop()`)."""
    from services.risk.runner import EmbeddedRisk

    return EmbeddedRisk(build_risk_engine(settings, pathways, clock=clock), bus, interval=interval)


def build_alerting(settings: Settings, pathways: PathwaysHandler | None = None):  # noqa: ANN201 - lazy import
    """The alerting worker: `relais.pathway-events` -> `relais.alerts` + agency webhooks."""
    from psycopg_pool import ConnectionPool

    from gateway.store import EventStoreReader
    from infra.kafka.producer import EventProducer
    from infra.kafka.publisher import KafkaPublisher
    from services.alerting.webhooks import PostgresWebhookRegistry
    from services.alerting.worker import AlertingWorker

    app = pathways.app if pathways is not None else build_pathways_application(settings)
    pool = ConnectionPool(settings.database_url, min_size=1, max_size=2, open=True, kwargs={"autocommit": True})
    publisher = KafkaPublisher(EventProducer(settings.kafka_bootstrap, client_id="relais-alerting"),
                               topic(settings, "alerts"))
    from services.alerting.webhooks import secret_box

    return AlertingWorker(EventStoreReader(app), publisher.publish,
                          PostgresWebhookRegistry(pool, settings.database_schema, box=secret_box(settings)))


# --- embedded mode: everything in one process ---------------------------------------------------


def start_embedded(relais: Relais) -> Any:
    """Embedded mode: the read models (SQLite) and the risk engine subscribed to the in-process
    bus, the gateway reading those read models, and — when the event store is empty — a
    synthetic territory loaded in the background (progress on stderr). The gateway's lifespan
    starts the relay that feeds the bus. Returns the risk runtime (`.stop()` at shutdown)."""
    import contextlib
    import sqlite3
    import sys
    import threading

    settings = relais.settings
    ensure_gateway_adapters(relais)
    build_embedded_projections(settings, relais.bus)
    read_models = Path(settings.state_dir) / "read_models.sqlite3"

    @contextlib.contextmanager
    def connect() -> Any:
        conn = sqlite3.connect(read_models, timeout=30)
        try:
            yield conn
        finally:
            conn.close()

    relais.readmodels = connect
    risk = build_embedded_risk(settings, relais.bus, relais.pathways)
    risk.start()
    if settings.synthetic_pathways and relais.pathways.app.recorder.max_notification_id() in (None, 0):
        from services.territory.load import load

        threading.Thread(
            target=load, args=(relais.pathways, settings.synthetic_pathways),
            kwargs={"territory": settings.territory, "progress": sys.stderr},
            name="synthetic-territory", daemon=True,
        ).start()
    return risk
