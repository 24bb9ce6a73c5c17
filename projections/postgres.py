"""The distributed-mode runners: projections in PostgreSQL, fed from ``relais.pathway-events``.

* :class:`ProjectionHandler` — the :class:`~infra.kafka.consumer.Handler` a
  :class:`~infra.kafka.consumer.ConsumerRunner` calls: the projection's statements run in the
  runner's transaction, with the Kafka position (exactly once in effect; duplicates on the
  wire are skipped by the runner's ``ce_id`` table). One consumer group per projection and
  version: ``relais-proj-<name>-v<N>``.
* :class:`LiveProjection` — runs the handler of the CURRENT version until stopped, and moves
  to the new version by itself when a rebuild swapped it in (it checks the registry every
  second and after any failed batch).
* :func:`rebuild` — builds version N+1 from the start of the topic under the group of N+1:
  the pure ``apply`` runs against a local SQLite staging file (same portable SQL, no round
  trip per statement), the finished tables are COPYed into PostgreSQL in the same
  transaction as the group's positions and applied ids (so the live runner of N+1 resumes
  exactly where the rebuild stopped); progress bar on stderr; then the views are repointed
  in one transaction and the tables of N dropped.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from infra.kafka.consumer import ConsumedMessage, ConsumerRunner, RejectMessage, RunnerConfig
from infra.postgres import positions as pos
from projections.base import TYPE_PREFIX, NotAPathwayEvent, PathwayEvent, Projection
from projections.progress import Progress
from projections.schema import Db, create_tables, current_version, drop_version, ensure_current, ensure_registry, swap

log = logging.getLogger("relais.projections")


def _set_path(conn: psycopg.Connection, schema: str) -> None:
    conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))


class ProjectionHandler:
    """Applies one projection at one version inside the consumer runner's transaction."""

    def __init__(self, projection: Projection) -> None:
        self.projection = projection
        self.group_id = projection.group_id

    def setup(self, conn: psycopg.Connection) -> None:
        db = Db(conn, "postgres")
        current = ensure_current(db, type(self.projection))
        if current.version != self.projection.version:
            create_tables(db, self.projection)  # a rebuild's version: tables only, no view

    def handle(self, conn: psycopg.Connection, message: ConsumedMessage) -> None:
        ce = message.event
        if ce is None:
            raise RejectMessage(f"not a CloudEvent: {message.decode_error}")
        if not ce.type.startswith(TYPE_PREFIX):
            return  # another kind of event on the topic: not ours to read
        try:
            event = PathwayEvent.from_cloud_event(ce)
        except NotAPathwayEvent as exc:
            raise RejectMessage(f"projection {self.projection.name}: {exc}") from None
        execute = conn.execute
        for statement in self.projection.apply(event):
            execute(statement.sql, statement.params)


@dataclass
class Target:
    """Where a projection runner reads and writes."""

    conninfo: str
    schema: str
    bootstrap: str
    topic: str
    deadletter_topic: str
    runner_options: dict[str, Any] = field(default_factory=dict)


def read_version(target: Target, name: str) -> int | None:
    with psycopg.connect(target.conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(target.schema)))
        _set_path(conn, target.schema)
        return current_version(Db(conn, "postgres"), name)


def build_runner(target: Target, projection: Projection) -> ConsumerRunner:
    options = {"max_batch": 1000, **target.runner_options}
    config = RunnerConfig(
        group_id=projection.group_id, topics=[target.topic], bootstrap_servers=target.bootstrap,
        schema=target.schema, deadletter_topic=target.deadletter_topic,
        client_id=projection.group_id, **options,
    )
    return ConsumerRunner(ProjectionHandler(projection), config, conninfo=target.conninfo)


class LiveProjection:
    """Keeps one projection up to date; follows the version swapped in by a rebuild."""

    def __init__(self, target: Target, projection_class: type[Projection], *, check_every_s: float = 1.0) -> None:
        self.target = target
        self.projection_class = projection_class
        self.check_every_s = check_every_s
        self.runner: ConsumerRunner | None = None
        self.version: int | None = None

    def _open(self) -> ConsumerRunner:
        version = read_version(self.target, self.projection_class.name) or 1
        runner = build_runner(self.target, self.projection_class(version))
        runner.start()
        self.runner, self.version = runner, version
        log.info("projection running", extra={"projection": self.projection_class.name, "version": version})
        return runner

    def _close(self) -> None:
        if self.runner is not None:
            self.runner.close()
            self.runner = None

    def run_once(self, timeout_ms: int = 500) -> int:
        """One batch on the current version (opening or switching the runner as needed)."""
        if self.runner is None:
            self._open()
        assert self.runner is not None
        return self.runner.run_once(timeout_ms=timeout_ms).applied

    def switch_if_swapped(self) -> bool:
        version = read_version(self.target, self.projection_class.name)
        if version is not None and version != self.version:
            log.info("projection swapped: moving to the new version",
                     extra={"projection": self.projection_class.name, "from": self.version, "to": version})
            self._close()
            self._open()
            return True
        return False

    def run(self, stop: threading.Event) -> None:
        backoff, checked = 0.2, time.monotonic()
        try:
            while not stop.is_set():
                try:
                    self.run_once()
                    backoff = 0.2
                    if time.monotonic() - checked >= self.check_every_s:
                        checked = time.monotonic()
                        self.switch_if_swapped()
                except Exception as exc:  # noqa: BLE001 - retried (a swap drops the old tables)
                    log.warning("projection batch failed; will retry",
                                extra={"projection": self.projection_class.name, "error": repr(exc)})
                    stop.wait(backoff)
                    backoff = min(backoff * 2, 10.0)
                    try:
                        self.switch_if_swapped()
                    except Exception:  # noqa: BLE001 - database down: next round
                        pass
        finally:
            self._close()

    def close(self) -> None:
        self._close()


# --------------------------------------------------------------------------- rebuild


class _Wire:
    """The few CloudEvent attributes a projection reads, straight from the record headers
    (the rebuild skips the full validation the live runner does: the topic is ours)."""

    __slots__ = ("id", "type", "subject", "data", "extensions")

    def __init__(self, record: Any) -> None:
        h = {k: v for k, v in (record.headers or ()) if v is not None}
        self.id = h["ce_id"].decode()
        self.type = h["ce_type"].decode()
        self.subject = h["ce_subject"].decode() if "ce_subject" in h else None
        kind = h.get("ce_pathwaykind")
        self.extensions = {"pathwaykind": kind.decode()} if kind else {}
        self.data = json.loads(record.value) if record.value else None


class RebuildRunning(RuntimeError):
    """Another rebuild of the same projection holds the lock (one at a time per schema)."""


@dataclass
class RebuildResult:
    name: str
    old_version: int
    new_version: int
    events: int
    skipped: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def _end_offsets(consumer: Any, parts: list[Any]) -> dict[Any, int]:
    return dict(consumer.end_offsets(parts))


def rebuild(target: Target, projection_class: type[Projection], *, progress: Progress | None = None,
            batch: int = 5000, on_swapped: Callable[[], None] | None = None,
            staging_dir: str | None = None) -> RebuildResult:
    """Build the next version of ``projection_class`` from the start of the topic and swap it in.

    The events are applied (the same pure ``apply``, the same portable SQL) to a staging SQLite
    file next to the process, which costs no network round trip per statement; the finished
    tables are then copied into PostgreSQL with ``COPY``, in ONE transaction together with the
    new consumer group's positions and applied ids. Then the views swap (another transaction)
    and the old version is dropped. Readers keep reading the old version until the swap."""
    import sqlite3
    import tempfile

    from kafka import KafkaConsumer, TopicPartition

    name = projection_class.name
    started = time.monotonic()
    conn = psycopg.connect(target.conninfo, autocommit=True)  # every block below is its own transaction
    workdir = tempfile.TemporaryDirectory(prefix=f"relais-rebuild-{name}-", dir=staging_dir)
    staging = sqlite3.connect(f"{workdir.name}/staging.sqlite3", isolation_level=None)
    try:
        staging.execute("PRAGMA journal_mode=OFF")
        staging.execute("PRAGMA synchronous=OFF")
        staging.execute("PRAGMA cache_size=-262144")
        _set_path(conn, target.schema)
        db = Db(conn, "postgres")
        lock = zlib.crc32(f"relais.rebuild.{target.schema}.{name}".encode())
        if not conn.execute("SELECT pg_try_advisory_lock(%s)", (lock,)).fetchone()[0]:  # released on close
            raise RebuildRunning(f"une reconstruction de « {name} » est déjà en cours sur ce schéma")
        with conn.transaction():
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(target.schema)))
            ensure_registry(db)
            old_version = current_version(db, name)
            if old_version is None:  # never run: an empty version 1 and its views, swapped out below
                old_version = ensure_current(db, projection_class).version
        pos.ensure_tables(conn, target.schema)
        new = projection_class(old_version + 1)
        local = Db(staging, "sqlite")
        create_tables(local, new)

        consumer = KafkaConsumer(bootstrap_servers=target.bootstrap, group_id=new.group_id,
                                 enable_auto_commit=False, auto_offset_reset="earliest",
                                 isolation_level="read_committed", client_id=f"{new.group_id}-rebuild",
                                 max_poll_records=batch, fetch_max_bytes=64 * 1024 * 1024,
                                 max_partition_fetch_bytes=16 * 1024 * 1024)
        seen: set[str] = set()
        entries: list[tuple[str, str, int, int]] = []
        applied = skipped = 0
        try:
            parts = [TopicPartition(target.topic, p) for p in sorted(consumer.partitions_for_topic(target.topic) or [])]
            consumer.assign(parts)
            consumer.seek_to_beginning(*parts)
            begin = dict(consumer.beginning_offsets(parts))
            end = _end_offsets(consumer, parts)
            if progress is not None:
                progress.start(sum(end[tp] - begin[tp] for tp in parts))
            done = 0
            next_offsets: dict[Any, int] = {tp: begin[tp] for tp in parts}
            rounds = 0
            while True:
                while not all(next_offsets[tp] >= end[tp] for tp in parts):
                    polled = consumer.poll(timeout_ms=1000, max_records=batch)
                    records = [r for recs in polled.values() for r in recs]
                    if not records:
                        continue
                    staging.execute("BEGIN")
                    for r in records:
                        next_offsets[TopicPartition(r.topic, r.partition)] = r.offset + 1
                        try:
                            wire = _Wire(r)
                            if not wire.type.startswith(TYPE_PREFIX) or wire.id in seen:
                                skipped += 1
                                continue
                            event = PathwayEvent.from_cloud_event(wire)
                        except (KeyError, ValueError, NotAPathwayEvent):
                            skipped += 1  # the live runner dead-letters these; nothing to build
                            continue
                        seen.add(wire.id)
                        entries.append((wire.id, r.topic, r.partition, r.offset))
                        local.run(new.apply(event))
                        applied += 1
                    staging.execute("COMMIT")
                    done += len(records)
                    if progress is not None:
                        progress.update(done)
                rounds += 1
                fresh = _end_offsets(consumer, parts)
                if rounds >= 3 or all(fresh[tp] <= next_offsets[tp] for tp in parts):
                    break
                end = fresh  # live traffic meanwhile: one more catch-up round
                if progress is not None:
                    progress.set_total(sum(end[tp] - begin[tp] for tp in parts))

            # the built tables, the group's positions and applied ids: one PostgreSQL transaction
            with conn.transaction():
                drop_version(db, new)  # leftovers of an interrupted rebuild
                pos.reset_group(conn, target.schema, new.group_id)
                create_tables(db, new)
                for table in new.tables:
                    phys = new.t[table.name]
                    cur = staging.execute(f"SELECT * FROM {phys}")
                    columns = [d[0] for d in cur.description]
                    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
                        sql.Identifier(phys), sql.SQL(", ").join(sql.Identifier(c) for c in columns))
                    with conn.cursor().copy(copy_sql) as copy:
                        for row in cur:
                            copy.write_row(row)
                for i in range(0, len(entries), 20_000):
                    pos.mark_applied(conn, target.schema, new.group_id, entries[i:i + 20_000])
                pos.advance_positions(conn, target.schema, new.group_id,
                                      {(tp.topic, tp.partition): o for tp, o in next_offsets.items()})
            try:
                from kafka.structs import OffsetAndMetadata

                consumer.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in next_offsets.items()})
            except Exception:  # noqa: BLE001 - the PostgreSQL position is the truth
                pass
        finally:
            consumer.close()

        with conn.transaction():  # the swap: readers see the old version or the new, never neither
            swap(db, new)
        if on_swapped is not None:
            on_swapped()
        if old_version != new.version:
            old = projection_class(old_version)
            with conn.transaction():
                drop_version(db, old)
                pos.reset_group(conn, target.schema, old.group_id)
        seconds = time.monotonic() - started
        return RebuildResult(name, old_version, new.version, applied, skipped, seconds)
    finally:
        if progress is not None:
            progress.finish()
        staging.close()
        workdir.cleanup()
        conn.close()
