"""Consumer positions and applied-event ids, kept in PostgreSQL beside the read models.

Two tables per schema, defined by infra/postgres/migrations/002_service_tables.sql:

``kafka_consumer_positions(consumer_group, topic, partition, next_offset, updated_at)``
    the next offset to apply, per consumer group and partition. It is the *truth* about what a
    consumer has applied: it is written in the same transaction as the consumer's own writes,
    and the Kafka committed offset is only a hint.
``kafka_applied_events(consumer_group, ce_id, topic, partition, offset, applied_at)``
    the CloudEvents ids a group has applied, so that the same event written twice on the wire
    (a relay restarted between publishing and recording its position) is applied once.

Every function takes an open psycopg connection and works in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import timedelta

import psycopg
from psycopg import sql

POSITIONS = "kafka_consumer_positions"
APPLIED = "kafka_applied_events"

TP = tuple[str, int]


def _t(schema: str, table: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(schema), sql.Identifier(table))


def load_positions(
    conn: psycopg.Connection, schema: str, group: str, partitions: Iterable[TP]
) -> dict[TP, int]:
    """Stored next offsets for ``partitions`` (absent = nothing applied yet)."""
    tps = sorted(set(partitions))
    if not tps:
        return {}
    rows = conn.execute(
        sql.SQL(
            "SELECT topic, partition, next_offset FROM {} WHERE consumer_group = %s"
            " AND (topic, partition) IN (SELECT * FROM unnest(%s::text[], %s::int[]))"
        ).format(_t(schema, POSITIONS)),
        (group, [t for t, _ in tps], [p for _, p in tps]),
    ).fetchall()
    return {(t, p): o for t, p, o in rows}


def lock_positions(
    conn: psycopg.Connection, schema: str, group: str, partitions: Iterable[TP]
) -> dict[TP, int]:
    """Create missing rows (next_offset 0) and lock the rows of ``partitions`` FOR UPDATE,
    in a fixed order; returns their next offsets. Must run inside a transaction: a second
    consumer working on the same partition (a rebalance race) waits here, then sees the
    position the first one committed."""
    tps = sorted(set(partitions))
    if not tps:
        return {}
    topics, parts = [t for t, _ in tps], [p for _, p in tps]
    conn.execute(
        sql.SQL(
            "INSERT INTO {} (consumer_group, topic, partition, next_offset)"
            " SELECT %s, t, p, 0 FROM unnest(%s::text[], %s::int[]) AS u(t, p)"
            " ORDER BY t, p ON CONFLICT DO NOTHING"
        ).format(_t(schema, POSITIONS)),
        (group, topics, parts),
    )
    rows = conn.execute(
        sql.SQL(
            "SELECT topic, partition, next_offset FROM {} WHERE consumer_group = %s"
            " AND (topic, partition) IN (SELECT * FROM unnest(%s::text[], %s::int[]))"
            " ORDER BY topic, partition FOR UPDATE"
        ).format(_t(schema, POSITIONS)),
        (group, topics, parts),
    ).fetchall()
    return {(t, p): o for t, p, o in rows}


def advance_positions(
    conn: psycopg.Connection, schema: str, group: str, next_offsets: dict[TP, int]
) -> None:
    """Set next offsets (never moves a position backwards)."""
    if not next_offsets:
        return
    items = sorted(next_offsets.items())
    conn.execute(
        sql.SQL(
            "INSERT INTO {t} AS p (consumer_group, topic, partition, next_offset)"
            " SELECT %s, t, pa, o FROM unnest(%s::text[], %s::int[], %s::bigint[]) AS u(t, pa, o)"
            " ON CONFLICT (consumer_group, topic, partition) DO UPDATE"
            " SET next_offset = GREATEST(p.next_offset, EXCLUDED.next_offset), updated_at = now()"
        ).format(t=_t(schema, POSITIONS)),
        (group, [tp[0] for tp, _ in items], [tp[1] for tp, _ in items], [o for _, o in items]),
    )


def mark_applied(
    conn: psycopg.Connection,
    schema: str,
    group: str,
    entries: Sequence[tuple[str, str, int, int]],
) -> set[tuple[str, int, int]]:
    """Record ``(ce_id, topic, partition, offset)`` entries as applied by ``group``; returns the
    ``(topic, partition, offset)`` of those that were new. An entry whose ce_id was already
    recorded (earlier, or earlier in the same call) is not new."""
    if not entries:
        return set()
    rows = conn.execute(
        sql.SQL(
            'INSERT INTO {} (consumer_group, ce_id, topic, partition, "offset")'
            " SELECT %s, i, t, p, o FROM unnest(%s::text[], %s::text[], %s::int[], %s::bigint[])"
            " WITH ORDINALITY AS u(i, t, p, o, n) ORDER BY n"
            ' ON CONFLICT DO NOTHING RETURNING topic, partition, "offset"'
        ).format(_t(schema, APPLIED)),
        (
            group,
            [e[0] for e in entries],
            [e[1] for e in entries],
            [e[2] for e in entries],
            [e[3] for e in entries],
        ),
    ).fetchall()
    return {(t, p, o) for t, p, o in rows}


def applied_at(
    conn: psycopg.Connection, schema: str, group: str, ce_ids: Iterable[str]
) -> dict[str, tuple[str, int, int]]:
    """Where each of ``ce_ids`` was first applied: ce_id -> (topic, partition, offset)."""
    ids = sorted(set(ce_ids))
    if not ids:
        return {}
    rows = conn.execute(
        sql.SQL(
            'SELECT ce_id, topic, partition, "offset" FROM {}'
            " WHERE consumer_group = %s AND ce_id = ANY(%s::text[])"
        ).format(_t(schema, APPLIED)),
        (group, ids),
    ).fetchall()
    return {i: (t, p, o) for i, t, p, o in rows}


def prune_applied(
    conn: psycopg.Connection, schema: str, group: str, *, keep_offsets: int, older_than: timedelta
) -> int:
    """Forget the applied ids of ``group`` that no redelivery can still match; returns how many
    rows went. A row goes only when BOTH hold: its offset is more than ``keep_offsets`` below
    the group's stored position on its partition, and it was applied more than ``older_than``
    ago. A duplicate on the wire is a re-publication by the relay of a batch it could not
    record as sent (at most one relay batch, 500 events) on the same partition (key = pathway
    id), moments later: both bounds are kept far beyond that. A record below the position is
    skipped by the position itself, whatever this table holds."""
    cur = conn.execute(
        sql.SQL(
            "DELETE FROM {a} AS a USING {p} AS p"
            " WHERE a.consumer_group = %s AND p.consumer_group = a.consumer_group"
            " AND p.topic = a.topic AND p.partition = a.partition"
            ' AND a."offset" < p.next_offset - %s AND a.applied_at < now() - %s'
        ).format(a=_t(schema, APPLIED), p=_t(schema, POSITIONS)),
        (group, keep_offsets, older_than),
    )
    return cur.rowcount


def reset_group(conn: psycopg.Connection, schema: str, group: str) -> None:
    """Forget everything about ``group`` (a projection rebuilt from the start)."""
    conn.execute(sql.SQL("DELETE FROM {} WHERE consumer_group = %s").format(_t(schema, POSITIONS)), (group,))
    conn.execute(sql.SQL("DELETE FROM {} WHERE consumer_group = %s").format(_t(schema, APPLIED)), (group,))


__all__ = [
    "load_positions",
    "lock_positions",
    "advance_positions",
    "mark_applied",
    "applied_at",
    "prune_applied",
    "reset_group",
    "POSITIONS",
    "APPLIED",
]
