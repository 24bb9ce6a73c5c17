"""The checksum projection: what the read side saw of each pathway, to audit it against the
event store.

One row per pathway in ``pathway_checksums`` (defined by infra/postgres/migrations/):

``events``         how many of the pathway's events were applied;
``last_version``   the version of the last event applied;
``chain``          a running hash of the applied ``ce_id`` values, in the order applied:
                   ``chain = sha256_hex(previous_chain || ce_id)``, starting from ``''``;
``out_of_order``   how many events arrived with a version other than ``last_version + 1``
                   (a gap, a repeat or a reordering), and ``first_disorder`` says which.

A read model that saw the event store exactly once and in order has, for every pathway,
``events == last_version == `` the store's version, ``out_of_order == 0`` and ``chain`` equal
to the fold of ``event_id(pathway, 1..version)`` (:func:`expected_chain`). :func:`audit`
checks exactly that against the store; ``python -m projections.checksum audit`` prints it.

The projection is a pure :func:`apply` (one CloudEvent -> SQL statements, no reads) and
:class:`ChecksumProjection`, the handler the :class:`~infra.kafka.consumer.ConsumerRunner`
calls inside its transaction (which also deduplicates by position and ``ce_id``).

    python -m projections.checksum run      # consume <prefix>.pathway-events until SIGTERM
    python -m projections.checksum audit    # compare with the event store; exit 1 on a difference

Both read the ``RELAIS_*`` settings (distributed mode): database URL and schema, Kafka
bootstrap, topic prefix.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

    from infra.kafka.cloudevents import CloudEvent
    from infra.kafka.consumer import ConsumedMessage, ConsumerRunner
    from services.settings import Settings

TABLE = "pathway_checksums"
#: Its consumer group, after the deployment's topic prefix (infra.kafka.topics.group_id).
GROUP_NAME = "projection-checksum"
#: Prefix of the CloudEvents types the relay gives pathway events (services.relay.wire).
PATHWAY_TYPE_PREFIX = "fr.relais.pathway."

# The running hash is computed by PostgreSQL, so that applying an event needs no read.
_UPSERT = f"""
INSERT INTO {TABLE} AS c (pathway_id, events, last_version, chain, out_of_order, first_disorder, updated_at)
VALUES (%(pathway)s, 1, %(version)s::bigint,
        encode(sha256(convert_to(%(ce_id)s::text, 'UTF8')), 'hex'),
        CASE WHEN %(version)s::bigint = 1 THEN 0 ELSE 1 END,
        CASE WHEN %(version)s::bigint = 1 THEN NULL ELSE format('v%%s first', %(version)s::bigint) END,
        clock_timestamp())
ON CONFLICT (pathway_id) DO UPDATE SET
    events = c.events + 1,
    last_version = EXCLUDED.last_version,
    chain = encode(sha256(convert_to(c.chain || %(ce_id)s::text, 'UTF8')), 'hex'),
    out_of_order = c.out_of_order
        + CASE WHEN EXCLUDED.last_version = c.last_version + 1 THEN 0 ELSE 1 END,
    first_disorder = COALESCE(c.first_disorder,
        CASE WHEN EXCLUDED.last_version = c.last_version + 1 THEN NULL
             ELSE format('v%%s after v%%s', EXCLUDED.last_version, c.last_version) END),
    updated_at = clock_timestamp()
"""

Statement = tuple[str, dict[str, Any]]


class NotAPathwayEvent(ValueError):
    """The record is not a pathway event the projection can count (dead-lettered)."""


def chain_step(chain: str, ce_id: str) -> str:
    """One step of the running hash (the same as the SQL of :func:`apply`)."""
    return hashlib.sha256((chain + ce_id).encode("utf-8")).hexdigest()


def expected_chain(ce_ids: Iterable[str]) -> str:
    chain = ""
    for ce_id in ce_ids:
        chain = chain_step(chain, ce_id)
    return chain


def apply(event: CloudEvent) -> list[Statement]:
    """The SQL statements that apply one pathway event (pure: no I/O).

    Raises :class:`NotAPathwayEvent` for a CloudEvent that is not one (no pathway subject, no
    integer ``originator_version``, or a body naming another pathway)."""
    pathway, version, ce_id = checked(event)
    return [(_UPSERT, {"pathway": pathway, "version": version, "ce_id": ce_id})]


def checked(event: CloudEvent) -> tuple[str, int, str]:
    """``(pathway id, version, ce_id)`` of a pathway event; :class:`NotAPathwayEvent` otherwise."""
    if not event.type.startswith(PATHWAY_TYPE_PREFIX):
        raise NotAPathwayEvent(f"type {event.type!r} is not a pathway event")
    data = event.data
    if not isinstance(data, dict):
        raise NotAPathwayEvent("data is not a JSON object")
    version = data.get("originator_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise NotAPathwayEvent(f"data.originator_version {version!r} is not a version (integer >= 1)")
    pathway = event.subject
    if not pathway:
        raise NotAPathwayEvent("no subject (pathway id)")
    if str(data.get("originator_id")) != pathway:
        raise NotAPathwayEvent(f"data.originator_id {data.get('originator_id')!r} is not the subject {pathway!r}")
    return pathway, version, event.id


@dataclass(frozen=True)
class ChecksumRow:
    """A pathway's row of ``pathway_checksums`` (without ``updated_at``)."""

    events: int
    last_version: int
    chain: str
    out_of_order: int
    first_disorder: str | None


def fold(row: ChecksumRow | None, version: int, ce_id: str) -> ChecksumRow:
    """One event applied to a pathway's row (``None``: no row yet): what ``_UPSERT`` computes
    in SQL, in Python, so that a batch writes each pathway's row once."""
    if row is None:
        return ChecksumRow(1, version, chain_step("", ce_id), 0 if version == 1 else 1,
                           None if version == 1 else f"v{version} first")
    in_order = version == row.last_version + 1
    return ChecksumRow(
        row.events + 1, version, chain_step(row.chain, ce_id), row.out_of_order + (0 if in_order else 1),
        row.first_disorder if row.first_disorder is not None or in_order
        else f"v{version} after v{row.last_version}",
    )


_LOCK_ROWS = f"""
SELECT pathway_id, events, last_version, chain, out_of_order, first_disorder FROM {TABLE}
WHERE pathway_id = ANY(%s::text[]) ORDER BY pathway_id FOR UPDATE
"""
# Absolute values: the rows were read and locked by _LOCK_ROWS in the same transaction (and
# a pathway's events are on one partition, whose position row the runner holds locked).
_WRITE_ROWS = f"""
INSERT INTO {TABLE} AS c (pathway_id, events, last_version, chain, out_of_order, first_disorder, updated_at)
SELECT p, e, v, h, o, f, clock_timestamp()
FROM unnest(%s::text[], %s::bigint[], %s::bigint[], %s::text[], %s::bigint[], %s::text[]) AS u(p, e, v, h, o, f)
ON CONFLICT (pathway_id) DO UPDATE SET
    events = EXCLUDED.events, last_version = EXCLUDED.last_version, chain = EXCLUDED.chain,
    out_of_order = EXCLUDED.out_of_order, first_disorder = EXCLUDED.first_disorder,
    updated_at = EXCLUDED.updated_at
"""


class ChecksumProjection:
    """The runner's handler: creates the table, applies each event in the runner's transaction."""


    def handle(self, conn: psycopg.Connection, message: ConsumedMessage) -> None:
        from infra.kafka.consumer import RejectMessage

        if message.event is None:
            raise RejectMessage(f"not a CloudEvent: {message.decode_error}")
        try:
            statements = apply(message.event)
        except NotAPathwayEvent as exc:
            raise RejectMessage(f"checksum projection: {exc}") from None
        for statement, params in statements:
            conn.execute(statement, params)

    def handle_batch(self, conn: psycopg.Connection, messages: Sequence[ConsumedMessage]) -> None:
        """The batch entry point the runner prefers: every event checked first (a record that
        is not a pathway event is rejected by name, before any write), then each pathway's
        events folded onto its row in order (:func:`fold`, the same arithmetic as the SQL of
        :meth:`handle`): two statements per batch, one locking read of the batch's rows and
        one write of each row, instead of one upsert per event. Same rows as :meth:`handle`
        applied to the same records in the same order (tested against PostgreSQL)."""
        from infra.kafka.consumer import RejectMessage

        events: dict[str, list[tuple[int, str]]] = {}
        for message in messages:
            if message.event is None:
                raise RejectMessage(f"not a CloudEvent: {message.decode_error}", message=message)
            try:
                pathway, version, ce_id = checked(message.event)
            except NotAPathwayEvent as exc:
                raise RejectMessage(f"checksum projection: {exc}", message=message) from None
            events.setdefault(pathway, []).append((version, ce_id))
        if not events:
            return
        pathways = sorted(events)
        stored = {
            r[0]: ChecksumRow(*r[1:]) for r in conn.execute(_LOCK_ROWS, (pathways,)).fetchall()
        }
        rows: list[ChecksumRow] = []
        for pathway in pathways:
            row = stored.get(pathway)
            for version, ce_id in events[pathway]:
                row = fold(row, version, ce_id)
            assert row is not None
            rows.append(row)
        conn.execute(_WRITE_ROWS, (
            pathways, [r.events for r in rows], [r.last_version for r in rows], [r.chain for r in rows],
            [r.out_of_order for r in rows], [r.first_disorder for r in rows],
        ))


# --------------------------------------------------------------------------- audit


@dataclass(frozen=True)
class Difference:
    pathway_id: str
    what: str

    def __str__(self) -> str:
        return f"{self.pathway_id}: {self.what}"


def audit(conn: psycopg.Connection, schema: str, *, events_table: str = "pathways_events") -> list[Difference]:
    """Compare ``schema.pathway_checksums`` with the event store ``schema.events_table``
    (pathway events only: stored topics ``domain.*``). Empty list = the read model saw every
    stored event exactly once, in order. Meaningful once the relay and the projection have
    caught up (a lagging projection shows as missing events)."""
    from psycopg import sql

    from services.relay.wire import event_id

    stored: dict[str, list[int]] = {
        str(pid): list(versions)
        for pid, versions in conn.execute(
            sql.SQL(
                "SELECT originator_id::text, array_agg(originator_version ORDER BY originator_version)"
                " FROM {}.{} WHERE topic LIKE %s GROUP BY 1"
            ).format(sql.Identifier(schema), sql.Identifier(events_table)),
            ("domain.%",),
        ).fetchall()
    }
    seen = {
        row[0]: row[1:]
        for row in conn.execute(
            sql.SQL(
                "SELECT pathway_id, events, last_version, chain, out_of_order, first_disorder FROM {}.{}"
            ).format(sql.Identifier(schema), sql.Identifier(TABLE))
        ).fetchall()
    }
    out: list[Difference] = []
    for pid in sorted(set(stored) | set(seen)):
        versions = stored.get(pid, [])
        if pid not in seen:
            out.append(Difference(pid, f"{len(versions)} stored events, none applied"))
            continue
        events, last_version, chain, out_of_order, first_disorder = seen[pid]
        if not versions:
            out.append(Difference(pid, f"{events} events applied, none stored"))
            continue
        if out_of_order:
            out.append(Difference(pid, f"{out_of_order} events applied out of order (first: {first_disorder})"))
        if events != len(versions):
            out.append(Difference(pid, f"{events} events applied, {len(versions)} stored"))
        if last_version != versions[-1]:
            out.append(Difference(pid, f"last version applied {last_version}, stored {versions[-1]}"))
        if chain != expected_chain(event_id(pid, v) for v in versions):
            out.append(Difference(pid, "running hash of ce_ids differs from the store's"))
    return out


# --------------------------------------------------------------------------- process


def build_runner(settings: Settings, *, max_batch: int = 500, session_timeout_ms: int = 10_000) -> ConsumerRunner:
    """The projection's consumer over ``<prefix>.pathway-events``, read model in
    ``settings.database_schema``."""
    from infra.kafka.consumer import ConsumerRunner, RunnerConfig
    from infra.kafka.topics import group_id
    from services.bootstrap import topic

    config = RunnerConfig(
        group_id=group_id(settings.topic_prefix, GROUP_NAME),
        topics=[topic(settings, "pathway-events")],
        bootstrap_servers=settings.kafka_bootstrap,
        schema=settings.database_schema,
        deadletter_topic=topic(settings, "deadletter"),
        max_batch=max_batch,
        client_id=group_id(settings.topic_prefix, GROUP_NAME),
        session_timeout_ms=session_timeout_ms,
        heartbeat_interval_ms=max(100, session_timeout_ms // 10),
    )
    return ConsumerRunner(ChecksumProjection(), config, conninfo=settings.database_url)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m projections.checksum",
        description="The checksum projection (per pathway: events, last version, order, running "
        "hash of ce_ids). Settings from RELAIS_* variables.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="consume <prefix>.pathway-events into pathway_checksums until SIGTERM")
    run.add_argument("--max-batch", type=int, default=500)
    run.add_argument("--session-timeout-ms", type=int, default=10_000)
    sub.add_parser("audit", help="compare pathway_checksums with the event store; exit 1 on a difference")
    args = parser.parse_args(argv)

    from services.settings import Settings

    settings = Settings(mode="distributed")
    if args.command == "audit":
        import psycopg

        with psycopg.connect(settings.database_url) as conn:
            differences = audit(conn, settings.database_schema)
        for d in differences[:200]:
            print(f"checksum audit: {d}")
        print(f"checksum audit: {len(differences)} difference(s)")
        return 1 if differences else 0

    import threading

    from infra.kafka.consumer import configure_json_logging, install_signal_handlers

    configure_json_logging()
    stop = threading.Event()
    install_signal_handlers(stop)
    build_runner(settings, max_batch=args.max_batch, session_timeout_ms=args.session_timeout_ms).run(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
