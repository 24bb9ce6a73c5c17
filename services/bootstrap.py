"""The composition root: the one place that reads settings and wires adapters.

Two runtimes, one per way to run (docs/adding-an-event-type.md, "One definition of each
concept and mechanism"):

* :class:`EmbeddedRuntime` — one process: the event store, the audit log, the webhooks, the
  risk deadlines and the read models in SQLite files under `state_dir` (their tables from
  infra/sqlite/migrations/), the in-process bus fed by a relay, the projections, the risk
  engine and the alerting worker on that bus.
* :class:`DistributedRuntime` — one process of a distributed deployment (the gateway, or a
  worker: relay, ingest, risk, alerting, projections): the event store on PostgreSQL (the
  eventsourcing library's own pool) and ONE shared `psycopg_pool.ConnectionPool`, sized by
  `database_pool_size`, for everything else; every adapter and consumer runner takes it.

Each owns what it built: `start()` starts its threads and consumers, `stop()` stops them,
`close()` releases its pools. Nothing connects at import; building a runtime opens the pools
and checks (distributed) that every migration is applied, with a French sentence if not.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias
from urllib.parse import unquote, urlsplit

from services.settings import Settings

if TYPE_CHECKING:
    from gateway.readside import ReadSide
    import psycopg
    from psycopg_pool import ConnectionPool

    from domain.agencies import AgencyRegistry
    from gateway.audit import PostgresAuditLog, SqliteAuditLog
    from infra.bus import InProcessBus
    from infra.kafka.cloudevents import CloudEvent
    from infra.kafka.consumer import ConsumerRunner
    from projections.base import Projection
    from projections.embedded import EmbeddedProjections
    from projections.postgres import LiveProjection, Target
    from services.alerting.webhooks import PostgresWebhookRegistry, SqliteWebhookRegistry
    from services.alerting.worker import AlertingWorker
    from services.pathways import PathwaysApplication, PathwaysHandler
    from services.ports import Clock
    from services.relay.relay import Relay
    from services.risk import DeadlineIndex, RiskEngine
    from services.risk.runner import EmbeddedRisk

log = logging.getLogger("relais.bootstrap")

#: A connection to the read models: SQLite (embedded) or PostgreSQL (distributed).
ReadModelConnection: TypeAlias = "sqlite3.Connection | psycopg.Connection"
#: Opens one; `with runtime.readmodels() as conn: ...` (closed or given back on exit).
ReadModels: TypeAlias = "Callable[[], AbstractContextManager[ReadModelConnection]]"


class Worker(Protocol):
    """What a runtime runs in a thread of its own until its stop event is set."""

    def run(self, stop: threading.Event) -> None: ...


def topic(settings: Settings, name: str) -> str:
    """Full topic name: `relais.pathway-events`, `relais.inbound.siao`..."""
    return f"{settings.topic_prefix}.{name}"


def group_id(settings: Settings, name: str) -> str:
    """The consumer group `name` of this deployment: `<topic prefix>-<name>`."""
    from infra.kafka.topics import group_id as named

    return named(settings.topic_prefix, name)


def is_pathway_event(stored_topic: str) -> bool:
    """Pathway events go on the wire; the idempotency records kept beside them do not."""
    return stored_topic.startswith("domain.")


# --- pathways (the eventsourcing application) -------------------------------------------------


#: The library's cipher that encrypts event payloads at rest.
CIPHER_TOPIC = "eventsourcing.cryptography:AESCipher"


def read_side(settings: Settings, readmodels: Any) -> ReadSide:
    """The read side over `readmodels` (a connection factory) with the settings' deadlines."""
    from datetime import timedelta

    from gateway.readside import ReadSide

    return ReadSide(readmodels, wait_timeout_s=settings.read_wait_timeout_s,
                    emergency_access=timedelta(minutes=settings.emergency_access_minutes))


def cipher_key(settings: Settings) -> str:
    """The AES key encrypting event payloads: from settings, or (embedded mode only) one
    generated once and kept under state_dir, so that a restart can still read its events."""
    from services.checks import check_cipher_key

    check_cipher_key(settings)  # missing (distributed) or malformed: CheckFailed, one French line
    if settings.cipher_key is not None:
        return settings.cipher_key.get_secret_value()
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


def build_pathways_handler(settings: Settings, app: PathwaysApplication) -> PathwaysHandler:
    """The command handler with the write policy's settings: the clock skew tolerated on
    occurredAt and the territories of the registry's agencies (a pathway opens in one)."""
    from datetime import timedelta

    from infra.agencies import load_registry
    from services.pathways import PathwaysHandler

    territories = frozenset(agency.territory for agency in load_registry(settings.agencies_file).values())
    return PathwaysHandler(app, clock_skew=timedelta(seconds=settings.fact_clock_skew_s), territories=territories,
                           emergency_roles=frozenset(settings.emergency_access_roles))


def open_audit_log(settings: Settings) -> tuple[SqliteAuditLog | PostgresAuditLog, Callable[[], None]]:
    """The audit trail the gateway of `settings` writes, and how to close it (`relais audit`)."""
    from gateway.audit import PostgresAuditLog, SqliteAuditLog

    if settings.mode == "embedded":
        audit = SqliteAuditLog(Path(settings.state_dir) / "audit.sqlite3")
        return audit, audit.close
    from psycopg_pool import ConnectionPool

    pool = ConnectionPool(settings.database_url, min_size=1, max_size=1, open=True, kwargs={"autocommit": True})
    return PostgresAuditLog(pool, settings.database_schema), pool.close


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
            "CIPHER_KEY": cipher_key(settings),
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


# --- the embedded runtime ---------------------------------------------------------------------

#: Under state_dir while a synthetic territory load is under way (see load_synthetic_territory).
SYNTHETIC_MARKER = "synthetic-load.incomplete"


@dataclass(eq=False)  # a runtime is an identity (it owns threads), not a value
class EmbeddedRuntime:
    """Everything of the embedded mode, in one process (see the module docstring)."""

    settings: Settings
    #: The agencies a token may name (infra/agencies.toml or RELAIS_AGENCIES_FILE).
    agencies: AgencyRegistry
    pathways: PathwaysHandler
    audit: SqliteAuditLog
    webhooks: SqliteWebhookRegistry
    #: The read models' SQLite file, one connection per call.
    readmodels: ReadModels
    bus: InProcessBus
    #: The event store's log onto the bus (Kafka's stand-in).
    relay: Relay
    alerting: AlertingWorker
    #: None when built without them (gateway unit tests that read the event store only).
    projections: EmbeddedProjections | None
    risk: EmbeddedRisk | None
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _threads: list[threading.Thread] = field(default_factory=list, repr=False)
    #: Alert changes waiting for the alerting thread (subscribed when built: none is missed).
    _alert_inbox: queue.Queue[CloudEvent] = field(default_factory=queue.Queue, repr=False)
    _risk_started: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        from services.relay.wire import TYPE_PREFIX

        alert_type = TYPE_PREFIX + "Alert"
        self.bus.subscribe(lambda e: self._alert_inbox.put(e) if e.type.startswith(alert_type) else None)

    @property
    def started(self) -> bool:
        return bool(self._threads)

    def start(self) -> bool:
        """Start the relay, the alerting worker and the risk engine; False if already started."""
        if self._threads:
            return False
        self._stop.clear()
        if self.risk is not None and not self._risk_started:  # its clock loop runs once per runtime
            self.risk.start()
            self._risk_started = True
        self._threads = [
            threading.Thread(target=self.relay.run, args=(self._stop,), name="embedded-relay", daemon=True),
            threading.Thread(target=self._alerting_loop, name="embedded-alerting", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return True

    def stop(self) -> None:
        """Stop the threads this runtime started (the pools stay open: see `close`)."""
        self._stop.set()
        if self.risk is not None:
            self.risk.stop()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    def close(self) -> None:
        """Stop, then release the files (read models, event store)."""
        self.stop()
        if self.projections is not None:
            self.projections.close()
        self.pathways.app.close()

    def load_synthetic_territory(self, progress: bool = True) -> threading.Thread | None:
        """When the event store is empty and `synthetic_pathways` > 0: load that many synthetic
        pathways in a background thread (progress on stderr). Returns the thread, or None.

        Never left half-loaded: a marker file (SYNTHETIC_MARKER) naming the load is written
        before its first command and removed after its last; a start that finds it (the last
        load was killed) runs that load again, which adds only what is missing (the synthetic
        command ids repeat, so a command already applied is not applied twice)."""
        import json

        from services.territory.load import load

        marker = Path(self.settings.state_dir) / SYNTHETIC_MARKER
        if marker.exists():
            plan = json.loads(marker.read_text(encoding="utf-8"))
            log.info("synthetic territory load incomplete: resuming", extra={"event": "synthetic_resume", **plan})
        elif self.settings.synthetic_pathways and self.pathways.app.recorder.max_notification_id() in (None, 0):
            plan = {"pathways": self.settings.synthetic_pathways, "territory": self.settings.territory}
            temporary = marker.with_suffix(".tmp")
            temporary.write_text(json.dumps(plan), encoding="utf-8")
            temporary.replace(marker)  # before the first command
        else:
            return None

        def run() -> None:
            sent = load(self.pathways, plan["pathways"], territory=plan["territory"],
                        progress=sys.stderr if progress else None)
            marker.unlink()
            log.info("synthetic territory loaded", extra={"event": "synthetic_loaded", "commands": sent, **plan})

        thread = threading.Thread(target=run, name="synthetic-territory", daemon=True)
        thread.start()
        return thread

    def _alerting_loop(self) -> None:
        """The alerting worker on the bus. Its messages go back on the bus; webhooks are
        delivered from this thread, so a slow receiver never holds the relay."""
        inbox = self._alert_inbox
        while not self._stop.is_set():
            try:
                first = inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            batch = [first]
            while not inbox.empty():
                batch.append(inbox.get_nowait())
            try:
                self.alerting.handle(batch)
            except Exception:  # noqa: BLE001 - keep alerting alive; the change is logged
                log.exception("embedded alerting failed on a batch")

    def __enter__(self) -> EmbeddedRuntime:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_embedded(settings: Settings | None = None, *, projections: bool = True, risk: bool = True,
                   **store_overrides: str) -> EmbeddedRuntime:
    """The embedded runtime. `projections=False` / `risk=False` leave those out (tests of
    the gateway alone); `store_overrides` go to the event store (build_pathways_application)."""
    from gateway.audit import SqliteAuditLog
    from gateway.readside import sqlite_readmodels
    from infra.agencies import load_registry
    from infra.bus import InProcessBus
    from services.alerting.webhooks import SqliteWebhookRegistry, secret_box
    from services.alerting.worker import AlertingWorker
    from services.relay.positions import MemoryPositionStore
    from services.relay.relay import Relay

    settings = settings or Settings(mode="embedded")
    state_dir = Path(settings.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    pathways = build_pathways_handler(settings, build_pathways_application(settings, **store_overrides))
    bus = InProcessBus()
    webhooks = SqliteWebhookRegistry(state_dir / "webhooks.sqlite3", box=secret_box(settings))
    read_models = state_dir / "read_models.sqlite3"

    # One connection per reading thread, kept (WAL: readers never block the projections' writer).
    readmodels = sqlite_readmodels(str(read_models))

    agencies = load_registry(settings.agencies_file)
    return EmbeddedRuntime(
        settings=settings, agencies=agencies, pathways=pathways,
        audit=SqliteAuditLog(state_dir / "audit.sqlite3"),
        webhooks=webhooks, readmodels=readmodels, bus=bus,
        # In memory: a restart republishes the whole log onto the fresh bus; its subscribers
        # skip what they already applied by their own stored positions.
        relay=Relay(pathways.app, bus, MemoryPositionStore(), is_published=is_pathway_event, name="embedded"),
        alerting=AlertingWorker(read_side(settings, readmodels), bus.publish, webhooks),
        projections=build_embedded_projections(settings, bus) if projections else None,
        risk=build_embedded_risk(settings, bus, pathways, agencies=agencies) if risk else None,
    )


def build_embedded_projections(settings: Settings, bus: InProcessBus | None = None) -> EmbeddedProjections:
    """Every projection in `state_dir/read_models.sqlite3`, subscribed to `bus` when given."""
    from projections.embedded import EmbeddedProjections

    state_dir = Path(settings.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    projections = EmbeddedProjections(state_dir / "read_models.sqlite3")
    if bus is not None:
        projections.attach(bus)
    return projections


def build_embedded_risk(settings: Settings, bus: InProcessBus, pathways: PathwaysHandler, *,
                        clock: Clock | None = None, interval: float = 5.0,
                        agencies: AgencyRegistry | None = None) -> EmbeddedRisk:
    """The engine on the in-process bus, its SQLite index `state_dir/risk_deadlines.sqlite3`
    and a clock loop every `interval` s. Call `.start()` (and `.stop()`)."""
    from services.risk import SQLiteDeadlineIndex
    from services.risk.runner import EmbeddedRisk

    state_dir = Path(settings.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    deadlines = SQLiteDeadlineIndex(str(state_dir / "risk_deadlines.sqlite3"))
    return EmbeddedRisk(build_risk_engine(settings, pathways, deadlines, clock=clock, agencies=agencies), bus,
                        interval=interval)


def build_risk_engine(settings: Settings, pathways: PathwaysHandler, deadlines: DeadlineIndex, *,
                      clock: Clock | None = None, territories=None,  # noqa: ANN001 - Mapping
                      agencies: AgencyRegistry | None = None) -> RiskEngine:
    """The rupture-risk engine on `pathways` with its deadline index. `clock` defaults to the
    system clock; `territories` maps a territory to its TerritorySettings (defaults otherwise);
    `agencies` is the runtime's registry (default: loaded from `settings.agencies_file`)."""
    from services.clock import SystemClock
    from services.risk import RiskEngine

    if agencies is None:
        from infra.agencies import load_registry

        agencies = load_registry(settings.agencies_file)
    # The rules' sentences and the resolution reasons name agencies by the registry's names.
    return RiskEngine(pathways, clock or SystemClock(), deadlines, territories=territories,
                      agency_names=agencies.display_names())


# --- the distributed runtime ------------------------------------------------------------------


@dataclass(eq=False)
class DistributedRuntime:
    """One process of a distributed deployment (see the module docstring). The gateway uses
    `pathways`, `audit`, `webhooks` and `readmodels`; a worker process adds its workers
    (`relay()`, `ingest(...)`, `risk_runner(...)`, `alerting()`, `projection(...)`) with
    `add` and runs them with `start` (or `run_until` a stop event)."""

    settings: Settings
    #: The agencies a token may name (infra/agencies.toml or RELAIS_AGENCIES_FILE).
    agencies: AgencyRegistry
    #: The one shared pool of this process (everything but the event store).
    pool: ConnectionPool
    #: None in a process that never touches the event store (`relais projections run`): it
    #: then needs neither the event store's pool nor the cipher key.
    pathways: PathwaysHandler | None
    audit: PostgresAuditLog
    #: None without the event store too (webhook secrets are sealed with the cipher key).
    webhooks: PostgresWebhookRegistry | None
    #: A pooled connection whose search_path is the read models' schema.
    readmodels: ReadModels
    workers: list[Worker] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _threads: list[threading.Thread] = field(default_factory=list, repr=False)

    # ------------------------------------------------------------------ workers

    def event_store(self) -> PathwaysHandler:
        """The pathways service, for the workers that need it."""
        if self.pathways is None:
            raise RuntimeError("this runtime was built without the event store (build_distributed(event_store=False))")
        return self.pathways

    def relay(self, app: PathwaysApplication | None = None) -> Relay:
        """The outbox relay: the event store (`app`, default this runtime's) ->
        `<prefix>.pathway-events`."""
        from infra.kafka.producer import EventProducer
        from infra.kafka.publisher import KafkaPublisher
        from services.relay.positions import PostgresPositionStore
        from services.relay.relay import PostgresWaker, ReconnectingPublisher
        from services.relay.relay import Relay as RelayClass

        settings, app = self.settings, app or self.event_store().app

        def connect() -> tuple[KafkaPublisher, Callable[[], None]]:
            # On first publish, not here: the relay must start (and retry) while Kafka is down.
            producer = EventProducer(settings.kafka_bootstrap, client_id=group_id(settings, "relay"))
            return KafkaPublisher(producer, topic(settings, "pathway-events")), lambda: producer.close(timeout=5)

        return RelayClass(
            app, ReconnectingPublisher(connect), PostgresPositionStore(self.pool, settings.database_schema),
            is_published=is_pathway_event,
            # Woken by the event store's NOTIFY on each write (the 50 ms poll stays as a
            # fallback). LISTEN needs a connection of its own, outside any pool.
            waker=PostgresWaker(settings.database_url, app.recorder.channel_name),
        )

    def ingest(self, agencies: Sequence[str]) -> ConsumerRunner:
        """The ingest consumer over `<prefix>.inbound.<agency>` for each agency."""
        from infra.kafka.consumer import ConsumerRunner, RunnerConfig
        from services.ingest.handler import IngestHandler

        settings = self.settings
        config = RunnerConfig(
            group_id=group_id(settings, "ingest"),
            topics=[topic(settings, f"inbound.{agency}") for agency in agencies],
            bootstrap_servers=settings.kafka_bootstrap, schema=settings.database_schema,
            deadletter_topic=topic(settings, "deadletter"),
            # A redelivery (same ce_id) is normal under at-least-once delivery: acknowledged as a
            # duplicate (counted in skipped_duplicate, logged), never dead-lettered.
            on_duplicate="skip",
        )
        return ConsumerRunner(IngestHandler(self.event_store(), topic_prefix=settings.topic_prefix), config,
                              pool=self.pool)

    def risk_engine(self, *, clock: Clock | None = None, territories=None) -> RiskEngine:  # noqa: ANN001
        """The engine with its PostgreSQL deadline index (`risk_deadlines` in the schema)."""
        from services.risk import PostgresDeadlineIndex

        return build_risk_engine(self.settings, self.event_store(),
                                 PostgresDeadlineIndex(self.pool, self.settings.database_schema),
                                 clock=clock, territories=territories, agencies=self.agencies)

    def risk_runner(self, engine: RiskEngine | None = None) -> ConsumerRunner:
        """The risk consumer over `<prefix>.pathway-events` (group `<prefix>-risk`): each
        event re-evaluates its pathway; the deadline row is written in the runner's transaction."""
        from infra.kafka.consumer import ConsumerRunner, RunnerConfig
        from services.risk.runner import RiskConsumerHandler

        settings = self.settings
        config = RunnerConfig(
            group_id=group_id(settings, "risk"), topics=[topic(settings, "pathway-events")],
            bootstrap_servers=settings.kafka_bootstrap, schema=settings.database_schema,
            deadletter_topic=topic(settings, "deadletter"),
        )
        return ConsumerRunner(RiskConsumerHandler(engine or self.risk_engine()), config, pool=self.pool)

    def alerting(self) -> ConsumerRunner:
        """The alerting worker on the consumer runner: `<prefix>.pathway-events` ->
        `<prefix>.alerts` + agency webhooks (group `<prefix>-alerting`)."""
        from infra.kafka.consumer import ConsumerRunner, RunnerConfig
        from infra.kafka.producer import EventProducer
        from infra.kafka.publisher import KafkaPublisher
        from services.alerting.worker import AlertingHandler, AlertingWorker
        from services.relay.relay import ReconnectingPublisher

        settings = self.settings

        def connect() -> tuple[KafkaPublisher, Callable[[], None]]:
            # On first publish, not here: alerting starts (and its runner retries) while Kafka is down.
            producer = EventProducer(settings.kafka_bootstrap, client_id=group_id(settings, "alerting"))
            return KafkaPublisher(producer, topic(settings, "alerts")), lambda: producer.close(timeout=5)

        publisher = ReconnectingPublisher(connect)
        # What each agency may see is decided on the read models (`relais projections run`).
        read = read_side(settings, self.readmodels)
        worker = AlertingWorker(read, publisher.publish, self.webhooks)
        config = RunnerConfig(
            group_id=group_id(settings, "alerting"), topics=[topic(settings, "pathway-events")],
            bootstrap_servers=settings.kafka_bootstrap, schema=settings.database_schema,
            deadletter_topic=topic(settings, "deadletter"),
        )
        return ConsumerRunner(AlertingHandler(worker), config, pool=self.pool)

    def projection_target(self) -> Target:
        return projection_target(self.settings, self.pool)

    def projection(self, projection: str | type[Projection]) -> LiveProjection:
        """The live runner of one projection (its current version; follows a rebuild's swap)."""
        from projections.postgres import LiveProjection
        from projections.registry import projection_class

        cls = projection_class(projection) if isinstance(projection, str) else projection
        return LiveProjection(self.projection_target(), cls)

    # ------------------------------------------------------------------ lifecycle

    def add(self, *workers: Worker) -> DistributedRuntime:
        self.workers.extend(workers)
        return self

    @property
    def started(self) -> bool:
        return bool(self._threads)

    def start(self) -> bool:
        """Run every added worker in its own thread; False if already started."""
        if self._threads:
            return False
        self._stop.clear()
        self._threads = [threading.Thread(target=w.run, args=(self._stop,), name=f"worker-{i}-{type(w).__name__}",
                                          daemon=True) for i, w in enumerate(self.workers)]
        for thread in self._threads:
            thread.start()
        return True

    def stop(self) -> None:
        """Set the stop event and wait for the workers (each finishes its transaction)."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)
        self._threads = []

    def close(self) -> None:
        self.stop()
        self.pool.close()
        if self.pathways is not None:
            self.pathways.app.close()

    def run_until(self, stop: threading.Event) -> None:
        """Start the workers and block until `stop` is set (SIGTERM) or every worker ended."""
        self.start()
        try:
            while not stop.is_set() and any(t.is_alive() for t in self._threads):
                stop.wait(0.5)
        finally:
            self.close()

    def __enter__(self) -> DistributedRuntime:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_distributed(settings: Settings | None = None, *, event_store: bool = True) -> DistributedRuntime:
    """The distributed runtime: the shared pool (opened here), the adapters and, unless
    `event_store=False` (a projections process), the event store and the webhook registry.
    Raises MigrationError (French) when the schema lacks a migration."""
    from psycopg import sql
    from psycopg_pool import ConnectionPool

    from gateway.audit import PostgresAuditLog
    from infra.agencies import load_registry
    from infra.postgres.migrations import require
    from services.alerting.webhooks import PostgresWebhookRegistry, secret_box

    settings = settings or Settings(mode="distributed")
    pool = ConnectionPool(settings.database_url, min_size=1, max_size=settings.database_pool_size, open=True,
                          kwargs={"autocommit": True}, name="relais")
    try:
        with pool.connection() as conn:
            require(conn, settings.database_schema)
        pathways = build_pathways_handler(settings, build_pathways_application(settings)) if event_store else None
    except BaseException:
        pool.close()
        raise
    schema = settings.database_schema

    @contextlib.contextmanager
    def readmodels() -> Iterator[psycopg.Connection]:
        # `relais projections run` keeps the read models in database_schema.
        with pool.connection() as conn:
            conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))
            try:
                yield conn
            finally:
                conn.execute("RESET search_path")

    return DistributedRuntime(
        settings=settings, agencies=load_registry(settings.agencies_file), pool=pool, pathways=pathways,
        audit=PostgresAuditLog(pool, schema),
        webhooks=PostgresWebhookRegistry(pool, schema, box=secret_box(settings)) if event_store else None,
        readmodels=readmodels,
    )


def projection_target(settings: Settings, pool: ConnectionPool | None = None) -> Target:
    """Where the distributed projections read (`<prefix>.pathway-events`) and write (PostgreSQL)."""
    from projections.postgres import Target

    return Target(
        conninfo=settings.database_url, schema=settings.database_schema, bootstrap=settings.kafka_bootstrap,
        topic=topic(settings, "pathway-events"), deadletter_topic=topic(settings, "deadletter"),
        group_prefix=settings.topic_prefix, pool=pool,
    )


Runtime: TypeAlias = "EmbeddedRuntime | DistributedRuntime"


def bootstrap(settings: Settings | None = None) -> EmbeddedRuntime | DistributedRuntime:
    """The runtime the settings' mode names, with everything a user runs."""
    settings = settings or Settings()
    return build_distributed(settings) if settings.mode == "distributed" else build_embedded(settings)
