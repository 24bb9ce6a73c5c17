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
import functools
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
    from infra.keystore import KeyStore, MasterKeys, PersonalCipher
    from infra.kafka.cloudevents import CloudEvent
    from infra.kafka.consumer import ConsumerRunner
    from projections.base import Projection
    from projections.embedded import EmbeddedProjections
    from projections.postgres import LiveProjection, Target
    from services.directory import Directory, DirectoryApplication
    from services.directory.links import ReferralLinks
    from services.alerting.webhooks import PostgresWebhookRegistry, SqliteWebhookRegistry
    from services.alerting.digest import DigestSender
    from services.alerting.worker import AlertingWorker
    from services.pathways import PathwaysApplication, PathwaysHandler
    from services.ports import Clock
    from services.privacy.erasure import Erasure
    from services.relay.relay import Relay
    from services.risk import DeadlineIndex, RiskEngine
    from services.risk.runner import EmbeddedRisk
    from services.risk.territory_settings import TerritorySettingsStore

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

    from infra.files import private_dir

    path = private_dir(settings.generated_keys_dir()) / "cipher.key"
    beside = Path(settings.state_dir) / "cipher.key"
    if not path.exists() and path != beside and beside.exists():
        # A state directory of an earlier release keeps its key inside: moved out, once.
        os.replace(beside, path)
        log.warning("cipher key moved out of the state directory", extra={"event": "cipher_key_moved", "to": str(path)})
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(AESCipher.create_key(num_bytes=32))
    return path.read_text().strip()


def master_keys(settings: Settings) -> MasterKeys | None:
    """The master keys of the key store: RELAIS_MASTER_KEYS, plus the one derived from the
    cipher key (accepted for unwrapping; wrapping when RELAIS_MASTER_KEYS is absent). None when
    neither is configured (a projections process without secrets: personal parts stay sealed)."""
    from infra.keystore import DERIVED_MASTER_ID, MasterKeys, derived_master_key
    from services.checks import master_keys_setting

    derived: bytes | None = None
    if settings.cipher_key is not None or settings.mode == "embedded":
        derived = derived_master_key(cipher_key(settings))
    keys = master_keys_setting(settings)  # malformed: CheckFailed, one French line
    if keys is not None:
        return keys.accepting(DERIVED_MASTER_ID, derived) if derived is not None else keys
    if derived is None:
        return None
    return MasterKeys(DERIVED_MASTER_ID, {DERIVED_MASTER_ID: derived})


def build_key_store(settings: Settings, *, pool: ConnectionPool | None = None, schema: str | None = None,
                    sqlite_path: str | None = None) -> KeyStore | None:
    """The key store of the person data keys: PostgreSQL (distributed; `pool`, or a small pool
    of its own) in the event store's schema, or SQLite `state_dir/keys.sqlite3` (embedded)."""
    from infra.keystore import KeyStore, PostgresSql, SqliteSql

    masters = master_keys(settings)
    if masters is None:
        return None
    if sqlite_path is not None or settings.mode == "embedded" and pool is None and schema is None:
        path = sqlite_path or str(Path(settings.state_dir) / "keys.sqlite3")
        return KeyStore(SqliteSql(path), masters, cache_ttl_s=settings.key_cache_s)
    sql = PostgresSql(pool, schema or settings.database_schema, conninfo=settings.database_url)
    return KeyStore(sql, masters, cache_ttl_s=settings.key_cache_s)


def personal_cipher(settings: Settings, **store: Any) -> PersonalCipher | None:
    """The cipher of the persons' fields (infra.keystore.PersonalCipher) on `build_key_store`."""
    from infra.keystore import PersonalCipher

    keys = build_key_store(settings, **store)
    return PersonalCipher(keys) if keys is not None else None


def build_erasure(pathways: PathwaysHandler) -> Erasure | None:
    """Erasure (services.privacy.erasure) on the pathways' key store; None without one."""
    from services.privacy.erasure import Erasure

    personal = pathways.app.personal
    keys = getattr(personal, "keys", None)
    if personal is None or keys is None:
        return None
    return Erasure(pathways, keys, on_erased=personal.forget)


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


def open_territory_settings(settings: Settings) -> tuple[TerritorySettingsStore, Callable[[], None]]:
    """The territory settings store of `settings`'s mode, and how to close it (`relais rules`)."""
    from services.risk.territory_settings import PostgresTerritorySettingsStore, SqliteTerritorySettingsStore

    if settings.mode == "embedded":
        return SqliteTerritorySettingsStore(Path(settings.state_dir) / "territory_settings.sqlite3"), lambda: None
    from psycopg_pool import ConnectionPool

    pool = ConnectionPool(settings.database_url, min_size=1, max_size=1, open=True, kwargs={"autocommit": True})
    return PostgresTerritorySettingsStore(pool, settings.database_schema), pool.close


def build_pathways_application(settings: Settings, *, personal: PersonalCipher | None = None,
                               **overrides: str) -> PathwaysApplication:
    """Builds the pathways application on the store the settings name.

    Embedded mode: SQLite file `state_dir/events.sqlite3`; distributed mode: the PostgreSQL
    of `database_url`, in `database_schema`. `overrides` are eventsourcing environment keys
    that win over those (tests pass SQLITE_DBNAME=":memory:" or POSTGRES_SCHEMA=<fresh>).
    """
    from services.pathways import PathwaysApplication

    env = _event_store_env(settings, "events.sqlite3", overrides)
    if env["PERSISTENCE_MODULE"] == "eventsourcing.postgres":
        # The library's recorder, sending the rows in binary (services/pathways/recorder.py).
        env["APPLICATION_RECORDER_TOPIC"] = "services.pathways.recorder:PathwaysPostgresRecorder"
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
        personal = personal or personal_cipher(settings, schema=env["POSTGRES_SCHEMA"])
    else:
        memory = env.get("SQLITE_DBNAME") in (":memory:", "file::memory:")
        personal = personal or personal_cipher(
            settings, sqlite_path=":memory:" if memory else str(Path(env["SQLITE_DBNAME"]).with_name("keys.sqlite3")))
    return PathwaysApplication(env=env, personal=personal)


#: How stale the directory's read side may be about other processes' writes (services/directory/application.py).
DIRECTORY_READ_LAG_S = 1.0


def build_directory(settings: Settings, pathways: PathwaysHandler | None = None, **overrides: str) -> Directory:
    """The directory service (handler and read side) on its event store; with `pathways`, a
    service stopping intake declines the referrals in flight to it. An in-memory SQLite
    pathways store in `overrides` (tests) gives an in-memory directory too."""
    from services.directory import Directory, DirectoryHandler, DirectoryIndex

    keys = {k: v for k, v in overrides.items() if k in ("PERSISTENCE_MODULE", "POSTGRES_SCHEMA")}
    if "memory" in overrides.get("SQLITE_DBNAME", ""):
        keys["SQLITE_DBNAME"] = overrides["SQLITE_DBNAME"]
    app = build_directory_application(settings, **keys)
    # Other processes' changes reach a match within a second; this process's at once.
    return Directory(DirectoryHandler(app), DirectoryIndex(app, max_lag_s=DIRECTORY_READ_LAG_S), pathways=pathways)


def build_referral_links(settings: Settings, pathways: PathwaysHandler) -> ReferralLinks:
    """The signed referral links (services/directory/links.py), their key derived from the
    deployment's cipher key (no second secret to keep)."""
    from services.directory.links import ReferralLinks

    return ReferralLinks(cipher_key(settings).encode(), pathways)


def _event_store_env(settings: Settings, sqlite_file: str, overrides: dict[str, str]) -> dict[str, str]:
    """The eventsourcing persistence keys of an application on the settings' store: PostgreSQL
    (distributed, or asked by `overrides`) or the SQLite file `state_dir/<sqlite_file>`."""
    if settings.mode == "distributed" or overrides.get("PERSISTENCE_MODULE") == "eventsourcing.postgres":
        return postgres_env(settings.database_url, settings.database_schema)
    from infra.files import private_file

    # 0600 in a 0700 directory, made before SQLite opens it (which would make it 0644).
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(private_file(Path(settings.state_dir) / sqlite_file))}


def build_directory_application(settings: Settings, **overrides: str) -> DirectoryApplication:
    """The directory's event store (services/directory), beside the pathways' on the same store:
    its own tables (`directory_events` on PostgreSQL, `state_dir/directory.sqlite3` embedded).
    Not encrypted: a directory holds professionals' public offers, no personal data. No cache:
    a quota is decided on the stored state (a collision on the version decides again)."""
    from services.directory import DirectoryApplication

    env = _event_store_env(settings, "directory.sqlite3", overrides)
    # One connection held (the library opens `POOL_SIZE` at once), more on demand: a directory
    # is written rarely, and every distributed runtime opens one.
    env.update({"POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "14"})
    env.update(overrides)
    if env["PERSISTENCE_MODULE"] == "eventsourcing.postgres":
        _ensure_schema(settings.database_url, env["POSTGRES_SCHEMA"])
    return DirectoryApplication(env=env)


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
    #: The territory settings in force, versioned (`state_dir/territory_settings.sqlite3`).
    territory_settings: TerritorySettingsStore
    #: The read models' SQLite file, one connection per call.
    readmodels: ReadModels
    bus: InProcessBus
    #: The event store's log onto the bus (Kafka's stand-in).
    relay: Relay
    alerting: AlertingWorker
    #: The daily digests of alerts below the push line (a thread from `start`).
    digest: DigestSender
    #: None when built without them (gateway unit tests that read the event store only).
    projections: EmbeddedProjections | None
    risk: EmbeddedRisk | None
    #: The directory of services (its own event store beside the pathways').
    directory: Directory | None = None
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _threads: list[threading.Thread] = field(default_factory=list, repr=False)
    #: Alert changes waiting for the alerting thread (subscribed when built: none is missed).
    _alert_inbox: queue.Queue[CloudEvent] = field(default_factory=queue.Queue, repr=False)
    _risk_started: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        from services.relay.wire import TYPE_PREFIX

        alert_type = TYPE_PREFIX + "Alert"
        self.bus.subscribe(lambda e: self._alert_inbox.put(e) if e.type.startswith(alert_type) else None)
        if self.directory is not None:
            from services.directory.reactions import PlaceReturns

            self.bus.subscribe(PlaceReturns(self.directory).on_bus_event)

    @property
    def started(self) -> bool:
        return bool(self._threads)

    def start(self) -> bool:
        """Start the relay, the alerting worker and its digest, and the risk engine; False if already started."""
        from services.alerting.digest import DigestLoop

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
        if self.projections is not None:  # the digest reads the open alerts' read model
            self._threads.append(threading.Thread(target=DigestLoop(self.digest).run, args=(self._stop,),
                                                  name="embedded-digest", daemon=True))
        if self.directory is not None:
            from services.clock import SystemClock
            from services.directory.expiry import ExpiryLoop, ReferralExpiry

            from services.risk.territory_settings import SettingsSource

            # The delays of a territory from the engine's own source (one source per runtime).
            in_force = self.risk.engine.settings_for if self.risk is not None else SettingsSource(self.territory_settings)
            expiry = ExpiryLoop(ReferralExpiry(self.directory, self.pathways, in_force), SystemClock().now)
            self._threads.append(threading.Thread(target=expiry.run, args=(self._stop,), name="embedded-expiry",
                                                  daemon=True))
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
        if self.directory is not None:
            self.directory.handler.app.close()
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
            if self.directory is not None:  # after the pathways: the first screen does not wait for it
                from services.territory.directory import load_directory

                load_directory(self.directory)
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
    from services.alerting.digest import DigestSender, PushPolicy, SqliteDigestLedger
    from services.risk.territory_settings import SettingsSource, SqliteTerritorySettingsStore

    from infra.files import private_dir

    settings = settings or Settings(mode="embedded")
    state_dir = private_dir(settings.state_dir)
    pathways = build_pathways_handler(settings, build_pathways_application(settings, **store_overrides))
    bus = InProcessBus()
    webhooks = SqliteWebhookRegistry(state_dir / "webhooks.sqlite3", box=secret_box(settings))
    territory_settings = SqliteTerritorySettingsStore(state_dir / "territory_settings.sqlite3")
    read_models = state_dir / "read_models.sqlite3"

    # One connection per reading thread, kept (WAL: readers never block the projections' writer).
    readmodels = sqlite_readmodels(str(read_models))

    agencies = load_registry(settings.agencies_file)
    read = read_side(settings, readmodels)
    settings_source = SettingsSource(territory_settings)
    directory = build_directory(settings, pathways, **store_overrides)
    audit = SqliteAuditLog(state_dir / "audit.sqlite3")
    development = settings.environment == "development"
    return EmbeddedRuntime(
        settings=settings, agencies=agencies, pathways=pathways,
        audit=audit,
        webhooks=webhooks, territory_settings=territory_settings, readmodels=readmodels, bus=bus,
        # In memory: a restart republishes the whole log onto the fresh bus; its subscribers
        # skip what they already applied by their own stored positions.
        relay=Relay(pathways.app, bus, MemoryPositionStore(), is_published=is_pathway_event, name="embedded",
                    personal=pathways.app.personal),
        alerting=AlertingWorker(read, bus.publish, webhooks, should_push=PushPolicy(read, settings_source),
                                audit=audit, development=development),
        digest=DigestSender(read, bus.publish, SqliteDigestLedger(state_dir / "digests.sqlite3"), agencies,
                            settings_source, webhooks=webhooks, audit=audit, development=development),
        projections=build_embedded_projections(settings, bus, personal=pathways.app.personal) if projections else None,
        risk=build_embedded_risk(settings, bus, pathways, agencies=agencies, settings_store=territory_settings,
                                 directory=directory) if risk else None,
        directory=directory,
    )


def build_embedded_projections(settings: Settings, bus: InProcessBus | None = None, *,
                               personal: PersonalCipher | None = None) -> EmbeddedProjections:
    """Every projection in `state_dir/read_models.sqlite3`, subscribed to `bus` when given;
    `personal` opens the events' sealed parts (default: the key store of `state_dir`)."""
    from projections.embedded import EmbeddedProjections
    from services.privacy.sealing import body_opener

    state_dir = Path(settings.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    personal = personal or personal_cipher(settings)
    projections = EmbeddedProjections(state_dir / "read_models.sqlite3",
                                      opener=body_opener(personal) if personal is not None else None)
    if bus is not None:
        projections.attach(bus)
    return projections


def build_embedded_risk(settings: Settings, bus: InProcessBus, pathways: PathwaysHandler, *,
                        clock: Clock | None = None, interval: float = 5.0,
                        agencies: AgencyRegistry | None = None,
                        settings_store: TerritorySettingsStore | None = None,
                        directory: Directory | None = None) -> EmbeddedRisk:
    """The engine on the in-process bus, its SQLite index `state_dir/risk_deadlines.sqlite3`
    and a clock loop every `interval` s. Call `.start()` (and `.stop()`)."""
    from services.risk import SQLiteDeadlineIndex
    from services.risk.runner import EmbeddedRisk

    state_dir = Path(settings.state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    deadlines = SQLiteDeadlineIndex(str(state_dir / "risk_deadlines.sqlite3"))
    return EmbeddedRisk(build_risk_engine(settings, pathways, deadlines, clock=clock, agencies=agencies,
                                          settings_store=settings_store, directory=directory), bus,
                        interval=interval)


def build_risk_engine(settings: Settings, pathways: PathwaysHandler, deadlines: DeadlineIndex, *,
                      clock: Clock | None = None, territories=None,  # noqa: ANN001 - Mapping
                      agencies: AgencyRegistry | None = None,
                      settings_store: TerritorySettingsStore | None = None,
                      directory: Directory | None = None) -> RiskEngine:
    """The rupture-risk engine on `pathways` with its deadline index. `clock` defaults to the
    system clock; the settings of a territory are the version in force in `settings_store`,
    else `territories` (a territory -> TerritorySettings mapping), else the defaults;
    `agencies` is the runtime's registry (default: loaded from `settings.agencies_file`);
    `directory`, when given, is what the suggested actions name services from."""
    from services.clock import SystemClock
    from services.directory.finder import DirectoryFinder
    from services.risk import RiskEngine
    from services.risk.territory_settings import SettingsSource

    if agencies is None:
        from infra.agencies import load_registry

        agencies = load_registry(settings.agencies_file)
    # The rules' sentences and the resolution reasons name agencies by the registry's names.
    return RiskEngine(pathways, clock or SystemClock(), deadlines, territories=territories,
                      settings_source=SettingsSource(settings_store, fallback=territories),
                      agency_names=agencies.display_names(),
                      directory=DirectoryFinder(directory) if directory is not None else None)


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
    #: The territory settings in force, versioned (`territory_settings` in the schema).
    territory_settings: TerritorySettingsStore
    #: A pooled connection whose search_path is the read models' schema.
    readmodels: ReadModels
    #: The directory of services; None without the event store.
    directory: Directory | None = None
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
            is_published=is_pathway_event, personal=app.personal,
            # Woken by the event store's NOTIFY on each write (the 50 ms poll stays as a
            # fallback). LISTEN needs a connection of its own, outside any pool.
            waker=PostgresWaker(settings.database_url, app.recorder.channel_name),
        )

    def directory_relay(self) -> Relay:
        """The directory's outbox relay: its event store -> `<prefix>.directory-events`
        (CloudEvents `fr.relais.directory.<Event>.v1`, key = service id)."""
        import functools

        from infra.kafka.producer import EventProducer
        from infra.kafka.publisher import KafkaPublisher
        from services.relay.positions import PostgresPositionStore
        from services.relay.relay import PostgresWaker, ReconnectingPublisher
        from services.relay.relay import Relay as RelayClass
        from services.relay.wire import DIRECTORY_SOURCE, DIRECTORY_TYPE_PREFIX, to_cloud_event

        settings, app = self.settings, self.event_directory().handler.app

        def connect() -> tuple[KafkaPublisher, Callable[[], None]]:
            producer = EventProducer(settings.kafka_bootstrap, client_id=group_id(settings, "directory-relay"))
            return KafkaPublisher(producer, topic(settings, "directory-events")), lambda: producer.close(timeout=5)

        return RelayClass(
            app, ReconnectingPublisher(connect), PostgresPositionStore(self.pool, settings.database_schema),
            is_published=lambda stored_topic: True, name="directory-relay",
            waker=PostgresWaker(settings.database_url, app.recorder.channel_name),
            wire=functools.partial(to_cloud_event, source=DIRECTORY_SOURCE, type_prefix=DIRECTORY_TYPE_PREFIX),
        )

    def directory_places(self) -> ConsumerRunner:
        """`<prefix>.pathway-events` (group `<prefix>-directory`): a referral declined, cancelled,
        failed or expired gives its quota place back (services/directory/reactions.py)."""
        from infra.kafka.consumer import ConsumerRunner, RunnerConfig
        from services.directory.reactions import PlaceReturns

        settings = self.settings
        config = RunnerConfig(
            group_id=group_id(settings, "directory"), topics=[topic(settings, "pathway-events")],
            bootstrap_servers=settings.kafka_bootstrap, schema=settings.database_schema,
            deadletter_topic=topic(settings, "deadletter"),
        )
        return ConsumerRunner(PlaceReturns(self.event_directory()), config, pool=self.pool)

    def directory_expiry(self) -> Worker:
        """Referrals through the directory nobody answered, reminded after their territory's
        `referral_reminder_days` and cancelled after its `referral_expiry_days`
        (services/directory/expiry.py), swept every minute; the delays as the engine reads them."""
        from services.clock import SystemClock
        from services.directory.expiry import ExpiryLoop, ReferralExpiry
        from services.risk.territory_settings import SettingsSource

        return ExpiryLoop(ReferralExpiry(self.event_directory(), self.event_store(),
                                         SettingsSource(self.territory_settings)), SystemClock().now)

    def event_directory(self) -> Directory:
        if self.directory is None:
            raise RuntimeError("this runtime was built without the event store (build_distributed(event_store=False))")
        return self.directory

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
        return ConsumerRunner(IngestHandler(self.event_store(), topic_prefix=settings.topic_prefix,
                                            directory=self.directory), config, pool=self.pool)

    def risk_engine(self, *, clock: Clock | None = None, territories=None) -> RiskEngine:  # noqa: ANN001
        """The engine with its PostgreSQL deadline index (`risk_deadlines` in the schema)."""
        from services.risk import PostgresDeadlineIndex

        return build_risk_engine(self.settings, self.event_store(),
                                 PostgresDeadlineIndex(self.pool, self.settings.database_schema),
                                 clock=clock, territories=territories, agencies=self.agencies,
                                 settings_store=self.territory_settings, directory=self.directory)

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
        from services.alerting.digest import PushPolicy
        from services.alerting.worker import AlertingHandler, AlertingWorker
        from services.relay.relay import ReconnectingPublisher
        from services.risk.territory_settings import SettingsSource

        settings = self.settings

        def connect() -> tuple[KafkaPublisher, Callable[[], None]]:
            # On first publish, not here: alerting starts (and its runner retries) while Kafka is down.
            producer = EventProducer(settings.kafka_bootstrap, client_id=group_id(settings, "alerting"))
            return KafkaPublisher(producer, topic(settings, "alerts")), lambda: producer.close(timeout=5)

        publisher = ReconnectingPublisher(connect)
        # What each agency may see is decided on the read models (`relais projections run`).
        read = read_side(settings, self.readmodels)
        worker = AlertingWorker(read, publisher.publish, self.webhooks,
                                should_push=PushPolicy(read, SettingsSource(self.territory_settings)),
                                audit=self.audit, development=settings.environment == "development")
        config = RunnerConfig(
            group_id=group_id(settings, "alerting"), topics=[topic(settings, "pathway-events")],
            bootstrap_servers=settings.kafka_bootstrap, schema=settings.database_schema,
            deadletter_topic=topic(settings, "deadletter"),
        )
        return ConsumerRunner(AlertingHandler(worker), config, pool=self.pool)

    def digest(self, *, post: Callable[..., Any] | None = None) -> DigestSender:
        """The daily digests (`relais alerting` runs them in a DigestLoop; `--digest-now` once):
        published on `<prefix>.alerts`, recorded in `alerting_digests`."""
        from gateway.readside import ReadSide
        from infra.kafka.producer import EventProducer
        from infra.kafka.publisher import KafkaPublisher
        from services.alerting.digest import DigestSender, PostgresDigestLedger
        from services.relay.relay import ReconnectingPublisher
        from services.risk.territory_settings import SettingsSource

        settings = self.settings

        def connect() -> tuple[KafkaPublisher, Callable[[], None]]:
            producer = EventProducer(settings.kafka_bootstrap, client_id=group_id(settings, "digest"))
            return KafkaPublisher(producer, topic(settings, "alerts")), lambda: producer.close(timeout=5)

        return DigestSender(read_side(settings, self.readmodels),
                            ReconnectingPublisher(connect).publish,
                            PostgresDigestLedger(self.pool, settings.database_schema), self.agencies,
                            SettingsSource(self.territory_settings), webhooks=self.webhooks, post=post,
                            audit=self.audit, development=settings.environment == "development")

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
        if self.directory is not None:
            self.directory.handler.app.close()
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
    from services.risk.territory_settings import PostgresTerritorySettingsStore

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
        territory_settings=PostgresTerritorySettingsStore(pool, schema), readmodels=readmodels,
        directory=build_directory(settings, pathways) if pathways is not None else None,
    )


def projection_target(settings: Settings, pool: ConnectionPool | None = None) -> Target:
    """Where the distributed projections read (`<prefix>.pathway-events`) and write (PostgreSQL)."""
    from projections.postgres import Target
    from services.privacy.sealing import body_opener

    personal = personal_cipher(settings, pool=pool, schema=settings.database_schema)
    if personal is None:
        log.warning("no master key nor cipher key: the personal parts of the events stay sealed in the read models")
    return Target(
        conninfo=settings.database_url, schema=settings.database_schema, bootstrap=settings.kafka_bootstrap,
        topic=topic(settings, "pathway-events"), deadletter_topic=topic(settings, "deadletter"),
        group_prefix=settings.topic_prefix, pool=pool, opener=body_opener(personal) if personal is not None else None,
        opener_factory=functools.partial(worker_opener, settings) if personal is not None else None,
    )


def worker_opener(settings: Settings) -> Callable[[str, Any], Any]:
    """The opener of a rebuild worker process (its own small pool on the key store)."""
    from services.privacy.sealing import body_opener

    personal = personal_cipher(settings, schema=settings.database_schema)
    assert personal is not None  # the parent had one from the same settings
    return body_opener(personal)


Runtime: TypeAlias = "EmbeddedRuntime | DistributedRuntime"


def bootstrap(settings: Settings | None = None) -> EmbeddedRuntime | DistributedRuntime:
    """The runtime the settings' mode names, with everything a user runs."""
    settings = settings or Settings()
    return build_distributed(settings) if settings.mode == "distributed" else build_embedded(settings)
