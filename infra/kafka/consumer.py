"""The consumer runner: exactly-once *in effect* on top of at-least-once Kafka delivery.

Every projection and the ingest service run their handler inside a :class:`ConsumerRunner`.

How a batch is applied
----------------------
1. Poll up to ``max_batch`` records (waiting at most ``max_wait_ms`` to fill the batch once
   the first record is there); decode each one as a CloudEvent (binary mode).
2. Open ONE PostgreSQL transaction and lock the position rows of the batch's partitions
   (``SELECT ... FOR UPDATE``, fixed order). A record whose offset is below the stored
   position was already applied: skipped.
3. Record the batch's ``ce_id`` values in the applied-events table; a record whose ``ce_id``
   the group has already applied is a duplicate on the wire: skipped, counted and logged
   (``on_duplicate="deadletter"`` dead-letters it instead; no runner of Relais asks for it).
4. Call ``handler.handle_batch(conn, messages)`` once with the remaining records, in partition
   order, when the handler has that method (a projection then sends its statements together,
   e.g. one pipelined ``executemany``, instead of one round trip per event); otherwise
   ``handler.handle(conn, message)`` for each remaining record. Same connection, same
   transaction either way.
5. A record that does not decode, or whose handler raises :class:`RejectMessage`, goes to the
   dead-letter topic. (``handle_batch`` names the record in ``RejectMessage(reason,
   message=m)``; if it does not, the batch is replayed through ``handle`` one record at a
   time to find it.) The handler's writes for the batch are rolled back and the batch is
   replayed without that record (handlers are deterministic, so the replay does the same
   writes); dead-letter publications are made only once the batch went through, and the
   broker must acknowledge them before the PostgreSQL commit (at-least-once into the DLQ).
6. Advance the positions (last offset + 1 per partition) and COMMIT.
7. Only then commit the offsets to Kafka (asynchronously; an optimisation only).

Any other exception (database down, a bug in a handler, the broker refusing the DLQ copy)
rolls the transaction back, moves the consumer back to the first record of the failed batch
and is raised by :meth:`ConsumerRunner.run_once`; :meth:`ConsumerRunner.run` backs off
(infra/retry.py: exponentially with jitter, up to ``backoff_max_s``, logged once per outage)
and tries again. Nothing advances until the
batch commits.

On every partition assignment the runner seeks each partition to the position stored in
PostgreSQL (a ``ConsumerRebalanceListener``), so the Kafka committed offset never decides what
is applied. Two consumers that briefly both hold a partition (a rebalance race) serialise on
the position row lock and the second skips what the first applied.

``run(stop_event)`` loops until the event is set; :func:`install_signal_handlers` sets it on
SIGTERM/SIGINT, so the current transaction finishes before the consumer leaves the group.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal, Protocol, runtime_checkable

import psycopg
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.structs import OffsetAndMetadata
from psycopg import sql
from psycopg_pool import ConnectionPool

from infra.kafka.cloudevents import (
    DEFAULT_MAX_BODY_BYTES,
    RELAIS_REQUIRED,
    CloudEvent,
    MalformedMessage,
    decode,
)
from infra.kafka.deadletter import DEFAULT_DEADLETTER_TOPIC, DeadLetterPublisher
from infra.kafka.producer import EventProducer
from infra.logs import JsonLogFormatter, configure_json_logging
from infra.metrics import CONSUMER_APPLIED, CONSUMER_LAG
from infra.postgres import positions as pos
from infra.retry import Backoff
from infra.postgres.migrations import require

log = logging.getLogger("relais.kafka.consumer")

TP = tuple[str, int]


# --------------------------------------------------------------------------- handler API


class RejectMessage(Exception):
    """Raised by a handler for a record it must never apply (invalid content, unknown
    pathway, a fact the aggregate refuses). The record goes to the dead-letter topic with
    ``reason`` and ``code`` (the code a GraphQL caller making the same mistake gets, when the
    handler knows it); the consumer moves on."""

    def __init__(self, reason: str, message: ConsumedMessage | None = None, *, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        #: The rejected record, when raised by ``handle_batch`` (which applies several).
        self.message = message


@dataclass(frozen=True)
class ConsumedMessage:
    """One Kafka record as the handler sees it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    timestamp_ms: int
    event: CloudEvent | None = None
    decode_error: MalformedMessage | None = None

    @property
    def ce_id(self) -> str | None:
        return self.event.id if self.event is not None else None

    @property
    def topic_partition(self) -> TP:
        return (self.topic, self.partition)


@runtime_checkable
class Handler(Protocol):
    """What a projection or ingest gives the runner.

    ``handle`` runs inside the runner's transaction (do not commit or roll back ``conn``);
    raise :class:`RejectMessage` to dead-letter a record, anything else to stop and retry.
    An optional ``setup(conn)`` method is called once at start (create tables).
    """

    def handle(self, conn: psycopg.Connection, message: ConsumedMessage) -> None: ...


@runtime_checkable
class BatchHandler(Handler, Protocol):
    """A handler that can also apply a whole batch at once (the runner prefers it).

    ``handle_batch(conn, messages)`` must have the same effect as ``handle`` called on each
    message in order, in the runner's transaction (do not commit or roll back). To reject one
    record, raise ``RejectMessage(reason, message=m)``: the runner rolls the batch back,
    dead-letters ``m`` and replays the batch without it. A ``RejectMessage`` that names no
    record (or one of ``reject_exceptions``) makes the runner replay that batch through
    ``handle``, one record at a time, to find it. ``handle`` stays required."""

    def handle_batch(
        self, conn: psycopg.Connection, messages: Sequence[ConsumedMessage]
    ) -> None: ...


class FunctionHandler:
    """Adapts a plain function ``f(conn, message)`` to :class:`Handler`."""

    def __init__(
        self,
        handle: Callable[[psycopg.Connection, ConsumedMessage], None],
        setup: Callable[[psycopg.Connection], None] | None = None,
    ) -> None:
        self._handle = handle
        self._setup = setup

    def handle(self, conn: psycopg.Connection, message: ConsumedMessage) -> None:
        self._handle(conn, message)

    def setup(self, conn: psycopg.Connection) -> None:
        if self._setup is not None:
            self._setup(conn)


# --------------------------------------------------------------------------- configuration


@dataclass
class RunnerConfig:
    """Settings of one runner. ``group_id`` names the consumer group (one per projection)."""

    group_id: str
    topics: Sequence[str]
    bootstrap_servers: str | list[str]
    #: A regular expression of topic names to follow instead of ``topics`` (e.g.
    #: ``r"relais\.inbound\..*"`` for ingest); topics created later are picked up.
    topic_pattern: str | None = None
    #: PostgreSQL schema holding the position tables; the runner also sets ``search_path``
    #: to ``schema, public`` for the handler's transaction when ``set_search_path`` is true.
    schema: str = "public"
    set_search_path: bool = True
    deadletter_topic: str = DEFAULT_DEADLETTER_TOPIC
    max_batch: int = 500
    max_wait_ms: int = 50
    poll_timeout_ms: int = 500
    #: "deadletter": records that are not valid CloudEvents go to the DLQ without reaching the
    #: handler; "handler": the handler gets them with ``decode_error`` set (and may reject).
    on_malformed: Literal["deadletter", "handler"] = "deadletter"
    #: "skip": a ce_id already applied is silently skipped (projections: the relay may publish
    #: twice); "deadletter": it goes to the DLQ as a replay (ingest of partner messages).
    on_duplicate: Literal["skip", "deadletter"] = "skip"
    dedup_by_ce_id: bool = True
    #: Attributes a record must carry to decode (see ``cloudevents.decode``).
    required_attributes: Sequence[str] = RELAIS_REQUIRED
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    #: Exception types that mean "this record is invalid" (dead-letter), beside RejectMessage.
    reject_exceptions: tuple[type[BaseException], ...] = ()
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 10.0
    dlq_timeout_s: float = 30.0
    #: How long to wait for a PostgreSQL connection before the batch counts as failed.
    db_timeout_s: float = 10.0
    client_id: str | None = None
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    session_timeout_ms: int = 10_000
    heartbeat_interval_ms: int = 1_000
    max_poll_interval_ms: int = 300_000
    #: Upper bound of the reconnection backoff to a broker (kafka-python's default is 30 s,
    #: which delays recovery after a broker restart by as much).
    reconnect_backoff_max_ms: int = 2_000
    consumer_options: dict[str, Any] = field(default_factory=dict)
    producer_options: dict[str, Any] = field(default_factory=dict)
    #: The applied-ids table is pruned (in a batch's transaction) at most every this many
    #: seconds, of the rows more than ``applied_keep_offsets`` below the position AND older
    #: than ``applied_keep_s`` (positions.prune_applied says why both bounds are safe).
    prune_every_s: float = 600.0
    applied_keep_offsets: int = 100_000
    applied_keep_s: float = 24 * 3600.0


@dataclass
class BatchResult:
    """What one :meth:`ConsumerRunner.run_once` did."""

    polled: int = 0
    applied: int = 0
    skipped_position: int = 0
    skipped_duplicate: int = 0
    deadlettered: int = 0
    attempts: int = 0
    next_offsets: dict[TP, int] = field(default_factory=dict)


class _Rejected(Exception):
    def __init__(self, key: tuple[str, int, int], reason: str, code: str | None = None) -> None:
        super().__init__(reason)
        self.key = key
        self.reason = reason
        self.code = code


class _FindRejected(Exception):
    """``handle_batch`` rejected a record without naming it: replay one at a time."""


# --------------------------------------------------------------------------- runner


class ConsumerRunner:
    """Runs ``handler`` over ``config.topics`` exactly once in effect. See module docstring.

    Give it either a psycopg_pool ``ConnectionPool`` (``pool=``) or a ``conninfo`` string
    (the runner then owns a small pool). ``producer`` (for the DLQ) is created from
    ``config.bootstrap_servers`` when not given.
    """

    def __init__(
        self,
        handler: Handler,
        config: RunnerConfig,
        *,
        pool: ConnectionPool | None = None,
        conninfo: str | None = None,
        producer: EventProducer | None = None,
    ) -> None:
        if (pool is None) == (conninfo is None):
            raise ValueError("give exactly one of pool= or conninfo=")
        self.handler = handler
        self.config = config
        self._own_pool = pool is None
        self.pool = pool or ConnectionPool(
            conninfo, min_size=1, max_size=2, open=False, name=f"runner-{config.group_id}",
            kwargs={"autocommit": True},
        )
        self._own_producer = producer is None
        self._producer = producer
        self._deadletter: DeadLetterPublisher | None = None
        self.consumer: KafkaConsumer | None = None
        self._started = False
        self._closed = False
        #: partitions whose fetch position was reset (revoked, assigned, re-seeked) since the
        #: last poll: records of theirs buffered before that are stale and are dropped.
        self._reset: set[TP] = set()
        self._pending_seek: set[TopicPartition] = set()
        self._buffer: dict[TP, list[Any]] = {}
        self.backoff = Backoff(f"consumer {config.group_id}", log, initial=config.backoff_initial_s,
                               maximum=config.backoff_max_s)
        self.totals = BatchResult()
        #: When the next batch transaction prunes the applied-ids table (monotonic seconds).
        self._next_prune = 0.0
        #: Next offset to apply per partition, as last stored (for the lag metric).
        self._known_positions: dict[TP, int] = {}

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Open the pool, check the migrations are applied (they own the position tables),
        call ``handler.setup``, join the group."""
        if self._started:
            return
        cfg = self.config
        if self._own_pool:
            self.pool.open(wait=True, timeout=cfg.db_timeout_s)
        with self.pool.connection(timeout=cfg.db_timeout_s) as conn:
            require(conn, cfg.schema)
            setup = getattr(self.handler, "setup", None)
            if callable(setup):
                with conn.transaction():
                    self._set_search_path(conn)
                    setup(conn)
        if self._producer is None:
            self._producer = EventProducer(
                cfg.bootstrap_servers,
                client_id=f"{cfg.client_id or cfg.group_id}-dlq",
                **{"reconnect_backoff_max_ms": cfg.reconnect_backoff_max_ms,
                   **cfg.producer_options},
            )
        self._deadletter = DeadLetterPublisher(
            self._producer, topic=cfg.deadletter_topic, consumer_group=cfg.group_id
        )
        options: dict[str, Any] = dict(
            bootstrap_servers=cfg.bootstrap_servers,
            group_id=cfg.group_id,
            enable_auto_commit=False,
            auto_offset_reset=cfg.auto_offset_reset,
            max_poll_records=cfg.max_batch,
            session_timeout_ms=cfg.session_timeout_ms,
            heartbeat_interval_ms=cfg.heartbeat_interval_ms,
            max_poll_interval_ms=cfg.max_poll_interval_ms,
            reconnect_backoff_max_ms=cfg.reconnect_backoff_max_ms,
            isolation_level="read_committed",
        )
        if cfg.client_id:
            options["client_id"] = cfg.client_id
        options.update(cfg.consumer_options)
        self.consumer = KafkaConsumer(**options)
        if cfg.topic_pattern:
            self.consumer.subscribe(pattern=cfg.topic_pattern, listener=_Listener(self))
        else:
            self.consumer.subscribe(topics=list(cfg.topics), listener=_Listener(self))
        # Fetch the metadata now that the subscription is known, so that the first assignment
        # is made from the topics' real partitions (kafka-python otherwise assigns from an
        # empty snapshot and rebalances again as soon as the metadata arrives).
        self.consumer.topics()
        self._started = True
        self._log("info", "consumer started", event="start", topics=list(cfg.topics),
                  pattern=cfg.topic_pattern)

    def close(self) -> None:
        """Leave the group and release everything (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            if self.consumer is not None:
                self.consumer.close(autocommit=False)
        finally:
            try:
                if self._own_producer and self._producer is not None:
                    self._producer.close()
            finally:
                if self._own_pool:
                    self.pool.close()
        self._log("info", "consumer closed", event="close", applied=self.totals.applied,
                  deadlettered=self.totals.deadlettered)

    def __enter__(self) -> ConsumerRunner:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ loop

    def run(self, stop_event: threading.Event | None = None) -> None:
        """Apply batches until ``stop_event`` is set; then finish and close."""
        stop = stop_event or threading.Event()
        try:
            while not stop.is_set():
                try:
                    self.start()  # retried too: the database or the broker may be down
                    self.run_once()
                    self.backoff.succeeded()
                except Exception as exc:  # noqa: BLE001 - retried
                    self.backoff.wait(stop, exc, group=self.config.group_id)
        finally:
            self.close()

    def run_once(self, timeout_ms: int | None = None) -> BatchResult:
        """Poll one batch and apply it in one transaction. Raises on an unexpected error
        (after rolling back and rewinding the consumer to the batch's first record)."""
        self.start()
        assert self.consumer is not None
        if self._pending_seek:
            self._seek_to_stored(set(self._pending_seek))
        self._unstick_rebalance()
        records = self._poll_batch(self.config.poll_timeout_ms if timeout_ms is None else timeout_ms)
        result = BatchResult(polled=len(records))
        if not records:
            self._record_lag()
            return result
        messages = [self._message(r) for r in records]
        rejected: dict[tuple[str, int, int], tuple[str, str | None]] = {}
        one_by_one = False
        try:
            while True:
                result.attempts += 1
                try:
                    self._apply(messages, rejected, result, one_by_one=one_by_one)
                    break
                except _FindRejected:
                    one_by_one = True
                    self._log("info", "batch handler rejected a record without naming it; "
                              "replaying the batch one record at a time", event="reject")
                except _Rejected as r:
                    rejected[r.key] = (r.reason, r.code)
                    self._log("info", "record rejected by handler; replaying batch without it",
                              event="reject", topic=r.key[0], partition=r.key[1],
                              offset=r.key[2], reason=r.reason[:500])
        except BaseException:
            self._rewind(messages)
            raise
        self._commit_kafka(result.next_offsets)
        self._accumulate(result)
        self._known_positions.update(result.next_offsets)
        self._record_lag()
        self._log(
            "info" if result.deadlettered else "debug", "batch applied", event="batch",
            polled=result.polled, applied=result.applied, skipped_position=result.skipped_position,
            skipped_duplicate=result.skipped_duplicate, deadlettered=result.deadlettered,
            attempts=result.attempts,
        )
        return result

    # ------------------------------------------------------------------ internals

    def _poll_batch(self, timeout_ms: int) -> list[Any]:
        """Up to max_batch records: wait up to ``timeout_ms`` for the first, then up to
        ``max_wait_ms`` more to fill the batch. Records of partitions revoked meanwhile, or
        fetched before a re-seek, are dropped (they will be fetched again)."""
        assert self.consumer is not None
        cfg = self.config
        buffered: dict[TP, list[Any]] = {}
        count = 0
        deadline: float | None = None
        wait = timeout_ms
        while count < cfg.max_batch:
            try:
                polled = self.consumer.poll(
                    timeout_ms=max(0, int(wait)), max_records=cfg.max_batch - count
                )
            except BaseException:
                # The consumer's position is already past what we buffered: move it back, or
                # those records would be skipped.
                self._rewind_records(
                    [r for tp, lst in buffered.items() if tp not in self._reset for r in lst]
                )
                raise
            if self._reset:
                # Their position was reset (to PostgreSQL's, or Kafka's): the buffered records
                # will be fetched again; records of other partitions stay.
                for tp in self._reset:
                    count -= len(buffered.pop(tp, ()))
                self._reset.clear()
            for tp, recs in polled.items():
                lst = buffered.setdefault((tp.topic, tp.partition), [])
                last = lst[-1].offset if lst else -1
                for r in recs:
                    if r.offset > last:
                        lst.append(r)
                        last = r.offset
                        count += 1
            if count == 0:
                if not polled:
                    return []
                deadline, wait = None, timeout_ms
                continue
            now = time.monotonic()
            if deadline is None:
                deadline = now + cfg.max_wait_ms / 1000.0
            if now >= deadline:
                break
            wait = (deadline - now) * 1000.0
        assigned = {(tp.topic, tp.partition) for tp in self.consumer.assignment()}
        out: list[Any] = []
        for tp in sorted(buffered):
            if tp in assigned:
                out.extend(buffered[tp])
        return out

    def _unstick_rebalance(self) -> None:
        """Work around a kafka-python 3.0 coordinator race: when a rebalance that was not
        requested by the broker (metadata or subscription change) outlives a ``poll``
        timeout, the coordinator may stop asking to rejoin while its JoinGroup/SyncGroup task
        is still pending; the task's result is then never applied and the member keeps no
        partitions until the next metadata refresh (minutes). A pending join task with no
        rejoin requested is that state: ask to rejoin, so the next poll finishes the
        rebalance."""
        coordinator = getattr(self.consumer, "_coordinator", None)
        try:
            if (
                coordinator is not None
                and getattr(coordinator, "_join_task", None) is not None
                and not coordinator.need_rejoin()
            ):
                coordinator.request_rejoin()
                self._log("info", "finishing an interrupted rebalance", event="rejoin")
        except Exception as exc:  # noqa: BLE001 - best effort around a private API
            self._log("debug", "rebalance watchdog unavailable", event="rejoin", error=repr(exc))

    def _message(self, record: Any) -> ConsumedMessage:
        # kafka-python gives (str, bytes) tuples; `decode` checks each entry anyway.
        headers = tuple(record.headers) if record.headers else ()
        event: CloudEvent | None = None
        error: MalformedMessage | None = None
        try:
            event = decode(record.key, record.value, headers,
                           required=self.config.required_attributes,
                           max_body_bytes=self.config.max_body_bytes)
        except MalformedMessage as exc:
            error = exc
        return ConsumedMessage(
            topic=record.topic, partition=record.partition, offset=record.offset,
            key=record.key, value=record.value, headers=headers,
            timestamp_ms=record.timestamp, event=event, decode_error=error,
        )

    def _set_search_path(self, conn: psycopg.Connection) -> None:
        if self.config.set_search_path:
            conn.execute(
                sql.SQL("SET LOCAL search_path TO {}, public").format(
                    sql.Identifier(self.config.schema)
                )
            )

    def _apply(
        self,
        messages: list[ConsumedMessage],
        rejected: dict[tuple[str, int, int], str],
        result: BatchResult,
        *,
        one_by_one: bool = False,
    ) -> None:
        cfg = self.config
        assert self._deadletter is not None and self._producer is not None
        counts = BatchResult()
        dlq: list[tuple[ConsumedMessage, str, str | None]] = []
        with self.pool.connection(timeout=cfg.db_timeout_s) as conn:
            with conn.transaction():
                self._set_search_path(conn)
                stored = pos.lock_positions(
                    conn, cfg.schema, cfg.group_id, {m.topic_partition for m in messages}
                )
                fresh = [m for m in messages if m.offset >= stored.get(m.topic_partition, 0)]
                counts.skipped_position = len(messages) - len(fresh)

                new: set[tuple[str, int, int]] | None = None
                if cfg.dedup_by_ce_id:
                    entries = [
                        (m.ce_id, m.topic, m.partition, m.offset)
                        for m in fresh
                        if m.ce_id is not None and (m.topic, m.partition, m.offset) not in rejected
                    ]
                    new = pos.mark_applied(conn, cfg.schema, cfg.group_id, entries)  # type: ignore[arg-type]
                duplicates: list[ConsumedMessage] = []
                to_apply: list[ConsumedMessage] = []

                for m in fresh:
                    k = (m.topic, m.partition, m.offset)
                    if k in rejected:
                        dlq.append((m, *rejected[k]))
                        continue
                    if m.decode_error is not None and cfg.on_malformed == "deadletter":
                        dlq.append((m, f"malformed CloudEvent: {m.decode_error.reason}", m.decode_error.code))
                        continue
                    if new is not None and m.ce_id is not None and k not in new:
                        duplicates.append(m)
                        continue
                    to_apply.append(m)

                handle_batch = None if one_by_one else getattr(self.handler, "handle_batch", None)
                if to_apply and callable(handle_batch):
                    try:
                        handle_batch(conn, to_apply)
                    except RejectMessage as exc:
                        named = exc.message
                        key = None if named is None else (named.topic, named.partition, named.offset)
                        if key is None or not any(
                            (m.topic, m.partition, m.offset) == key for m in to_apply
                        ):
                            raise _FindRejected() from exc
                        raise _Rejected(key, exc.reason, exc.code) from exc
                    except cfg.reject_exceptions as exc:  # type: ignore[misc]
                        raise _FindRejected() from exc
                    counts.applied += len(to_apply)
                else:
                    for m in to_apply:
                        try:
                            self.handler.handle(conn, m)
                        except RejectMessage as exc:
                            raise _Rejected((m.topic, m.partition, m.offset), exc.reason, exc.code) from exc
                        except cfg.reject_exceptions as exc:  # type: ignore[misc]
                            raise _Rejected((m.topic, m.partition, m.offset),
                                            f"{type(exc).__name__}: {exc}") from exc
                        counts.applied += 1

                if duplicates:
                    if cfg.on_duplicate == "deadletter":
                        first = pos.applied_at(
                            conn, cfg.schema, cfg.group_id, [m.ce_id for m in duplicates if m.ce_id]
                        )
                        for m in duplicates:
                            where = first.get(m.ce_id or "")
                            at = f" (first at {where[0]}[{where[1]}]@{where[2]})" if where else ""
                            dlq.append((m, f"replayed message: ce_id {m.ce_id!r} already applied "
                                           f"by group {cfg.group_id}{at}", None))
                    else:
                        counts.skipped_duplicate = len(duplicates)
                        for m in duplicates:
                            self._log("info", "duplicate ce_id skipped", event="duplicate",
                                      topic=m.topic, partition=m.partition, offset=m.offset,
                                      ce_id=m.ce_id)

                next_offsets: dict[TP, int] = {}
                for m in messages:
                    tp = m.topic_partition
                    next_offsets[tp] = max(next_offsets.get(tp, 0), m.offset + 1)
                pos.advance_positions(conn, cfg.schema, cfg.group_id, next_offsets)
                if cfg.dedup_by_ce_id and time.monotonic() >= self._next_prune:
                    pruned = pos.prune_applied(conn, cfg.schema, cfg.group_id, keep_offsets=cfg.applied_keep_offsets,
                                               older_than=timedelta(seconds=cfg.applied_keep_s))
                    self._next_prune = time.monotonic() + cfg.prune_every_s
                    if pruned:
                        self._log("info", "applied ids pruned", event="prune", pruned=pruned)

                if dlq:
                    futures = [self._deadletter.publish(m, reason, code=code) for m, reason, code in dlq]
                    self._wait_deadletters(futures, dlq)
                counts.deadlettered = len(dlq)
            # committed
        result.applied = counts.applied
        result.skipped_position = counts.skipped_position
        result.skipped_duplicate = counts.skipped_duplicate
        result.deadlettered = counts.deadlettered
        result.next_offsets = next_offsets

    def _wait_deadletters(self, futures: list[Any], dlq: list[tuple[ConsumedMessage, str, str | None]]) -> None:
        from kafka.errors import MessageSizeTooLargeError

        assert self._producer is not None and self._deadletter is not None
        timeout = self.config.dlq_timeout_s
        self._producer.flush(timeout=timeout)
        retry = []
        for future, (m, reason, code) in zip(futures, dlq):
            try:
                future.get(timeout=timeout)
            except MessageSizeTooLargeError:
                retry.append(self._deadletter.publish_truncated(m, reason, code=code))
        if retry:
            self._producer.wait(retry, timeout=timeout)

    def _rewind(self, messages: list[ConsumedMessage]) -> None:
        """Seek back to the first record of a failed batch, so it is fetched again."""
        self._rewind_records(messages)

    def _rewind_records(self, records: Sequence[Any]) -> None:
        if self.consumer is None or not records:
            return
        first: dict[TP, int] = {}
        for m in records:
            tp = (m.topic, m.partition)
            first[tp] = min(first.get(tp, m.offset), m.offset)
        assigned = set(self.consumer.assignment())
        for (topic, partition), offset in first.items():
            tp = TopicPartition(topic, partition)
            if tp in assigned:
                try:
                    self.consumer.seek(tp, offset)
                except Exception:  # noqa: BLE001 - partition moved meanwhile
                    pass

    def _commit_kafka(self, next_offsets: dict[TP, int]) -> None:
        if not next_offsets or self.consumer is None:
            return
        offsets = {
            TopicPartition(t, p): OffsetAndMetadata(o, "", -1) for (t, p), o in next_offsets.items()
        }
        try:
            self.consumer.commit_async(offsets=offsets, callback=_log_commit)
        except Exception as exc:  # noqa: BLE001 - an optimisation only
            self._log("debug", "kafka offset commit not sent", event="kafka_commit", error=repr(exc))

    def _seek_to_stored(self, partitions: Iterable[TopicPartition]) -> None:
        """Seek ``partitions`` to the positions stored in PostgreSQL (called on assignment).
        Partitions without a stored position start from the Kafka committed offset or
        ``auto_offset_reset``; either is at or before what PostgreSQL says was applied."""
        assert self.consumer is not None
        tps = list(partitions)
        if not tps:
            return
        try:
            with self.pool.connection(timeout=5) as conn:
                stored = pos.load_positions(
                    conn, self.config.schema, self.config.group_id,
                    [(tp.topic, tp.partition) for tp in tps],
                )
        except Exception as exc:  # noqa: BLE001 - retried before the next poll
            self._pending_seek.update(tps)
            self._log("warning", "could not read stored positions; will retry", event="seek",
                      error=repr(exc))
            return
        assigned = set(self.consumer.assignment())
        for tp in tps:
            self._pending_seek.discard(tp)
            offset = stored.get((tp.topic, tp.partition))
            if offset is not None and tp in assigned:
                self.consumer.seek(tp, offset)
                self._known_positions[(tp.topic, tp.partition)] = offset
            self._reset.add((tp.topic, tp.partition))
        self._log("info", "partitions positioned from PostgreSQL", event="seek",
                  positions={f"{tp.topic}[{tp.partition}]": stored.get((tp.topic, tp.partition))
                             for tp in tps})

    def _record_lag(self) -> None:
        """The lag metric of each assigned partition whose position this runner knows: the
        high watermark of its last fetch minus the next offset to apply."""
        if self.consumer is None:
            return
        group = self.config.group_id
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            position = self._known_positions.get((tp.topic, tp.partition))
            if highwater is not None and position is not None:
                CONSUMER_LAG.labels(group, tp.topic, str(tp.partition)).set(max(0, highwater - position))

    def _accumulate(self, r: BatchResult) -> None:
        CONSUMER_APPLIED.labels(self.config.group_id).inc(r.applied)
        t = self.totals
        t.polled += r.polled
        t.applied += r.applied
        t.skipped_position += r.skipped_position
        t.skipped_duplicate += r.skipped_duplicate
        t.deadlettered += r.deadlettered
        t.attempts += r.attempts

    def _log(self, level: str, msg: str, **fields: Any) -> None:
        fields.setdefault("group", self.config.group_id)
        getattr(log, level)(msg, extra=fields)


class _Listener(ConsumerRebalanceListener):
    def __init__(self, runner: ConsumerRunner) -> None:
        self.runner = runner

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.runner._reset.update((tp.topic, tp.partition) for tp in revoked)
        self.runner._pending_seek.difference_update(set(revoked))
        self.runner._log("info", "partitions revoked", event="revoked",
                         partitions=sorted(f"{tp.topic}[{tp.partition}]" for tp in revoked))

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.runner._reset.update((tp.topic, tp.partition) for tp in assigned)
        self.runner._log("info", "partitions assigned", event="assigned",
                         partitions=sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned))
        self.runner._seek_to_stored(assigned)


def _log_commit(offsets: Any, response: Any) -> None:
    if isinstance(response, Exception):
        log.debug("kafka offset commit failed (harmless)", extra={"event": "kafka_commit",
                                                                  "error": repr(response)})


# --------------------------------------------------------------------------- process helpers


def install_signal_handlers(stop_event: threading.Event) -> None:
    """SIGTERM and SIGINT set ``stop_event`` (main thread only): the runner finishes the
    current transaction, leaves the group and returns from ``run``."""

    def _stop(signum: int, _frame: Any) -> None:
        log.info("stop requested", extra={"event": "signal", "signal": signal.Signals(signum).name})
        stop_event.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)


def run_until_signalled(runner: ConsumerRunner) -> None:
    """The body of a consumer process: run until SIGTERM/SIGINT, then finish and close."""
    stop = threading.Event()
    install_signal_handlers(stop)
    runner.run(stop)


__all__ = [
    "ConsumerRunner",
    "RunnerConfig",
    "Handler",
    "BatchHandler",
    "FunctionHandler",
    "ConsumedMessage",
    "RejectMessage",
    "BatchResult",
    "install_signal_handlers",
    "run_until_signalled",
    "JsonLogFormatter",
    "configure_json_logging",
]
