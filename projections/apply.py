"""The one exactly-once step of every read model: apply a batch of events to a projection.

:func:`apply_once` is what every runner calls, on both dialects: the Kafka consumer runner's
:class:`~projections.postgres.ProjectionHandler` (PostgreSQL), the embedded runner
(:class:`~projections.embedded.EmbeddedProjections`, SQLite) and the one rebuild
(:mod:`projections.rebuild`, whatever its source). Inside the CALLER's transaction it

1. reads the projection's position for the batch's pathways: its ``<name>_applied`` table
   (per pathway, the last version ``seq`` applied; :func:`projections.base.applied_table`);
2. skips every event at or below that position (already applied: a re-delivery, a relay that
   published twice after a restart, a replayed log);
3. runs :meth:`Projection.apply` for the rest, then moves each pathway's position once, to
   its last event of the batch (:meth:`Projection.applied_statement`: what
   :meth:`Projection.statements` writes after every event), so rows and position commit or
   roll back together.

A pathway's events reach a projection in version order on every transport (one Kafka
partition per pathway; the event store's log order), so "seq at or below the position" is
exactly "already applied". Transports keep their own positions beside it (Kafka offsets and
``ce_id`` dedup in :class:`~infra.kafka.consumer.ConsumerRunner`; the notification id of the
embedded bus): those say what was DELIVERED and spare re-reading, this step says what was
APPLIED, and it is the same code everywhere.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass

from projections.base import NotAPathwayEvent, PathwayEvent, Projection, Statement, applied_table
from projections.schema import Db

#: Pathway ids per position query (well under SQLite's and PostgreSQL's parameter limits).
_CHUNK = 500

#: What a runner does with an event the projection refuses (a type the disclosure catalogue
#: does not know): raise to dead-letter it (Kafka), or log it and go on (embedded, rebuild).
OnRefused = Callable[[PathwayEvent, NotAPathwayEvent], None]


@dataclass
class Applied:
    """What one :func:`apply_once` did."""

    applied: int = 0
    skipped: int = 0
    refused: int = 0


def positions(db: Db, projection: Projection, pathway_ids: Sequence[str]) -> dict[str, int]:
    """The stored position (last ``seq`` applied) of each of ``pathway_ids`` that has one."""
    table = projection.t[applied_table(projection.name).name]
    ids = list(dict.fromkeys(pathway_ids))
    out: dict[str, int] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        rows = db.fetchall(f"SELECT pathway_id, seq FROM {table} WHERE pathway_id IN "
                           f"({', '.join(['%s'] * len(chunk))})", chunk)
        out.update((str(pid), int(seq)) for pid, seq in rows)
    return out


def apply_once(db: Db, projection: Projection, events: Sequence[PathwayEvent], *,
               on_refused: OnRefused | None = None,
               known: MutableMapping[str, int] | None = None) -> Applied:
    """Apply ``events`` (in log order) to ``projection`` exactly once, in the caller's
    transaction (the caller commits or rolls back; nothing here does).

    ``known``: positions the caller already holds for EVERY pathway (a rebuild that started
    from empty tables keeps them in memory across batches instead of reading them back); it is
    updated in place. Without it they are read from the projection's table, one query per
    :data:`_CHUNK` pathways. ``on_refused`` gets each event the projection refuses; it may
    raise (the caller's transaction then rolls back); without it the refusal is raised."""
    result = Applied()
    if not events:
        return result
    stored: MutableMapping[str, int] = known if known is not None else positions(
        db, projection, [e.pathway_id for e in events])
    # Every statement of the batch, run together at the end: the projection's statements are
    # pure (made from the event alone), so nothing needs the database between two events.
    pending: list[Statement] = []
    advanced: dict[str, int] = {}  # pathway -> last seq applied in this batch
    for event in events:
        if event.seq <= stored.get(event.pathway_id, 0):
            result.skipped += 1
            continue
        try:
            statements = projection.event_statements(event)
        except NotAPathwayEvent as exc:
            if on_refused is None:
                raise
            on_refused(event, exc)
            result.refused += 1
            continue
        pending.extend(statements)
        stored[event.pathway_id] = advanced[event.pathway_id] = event.seq
        result.applied += 1
    # Each pathway's position once, at its last event of the batch (what
    # Projection.statements writes after every event, same final value, same transaction).
    pending.extend(projection.applied_statement(pathway, seq) for pathway, seq in advanced.items())
    db.run(pending)
    return result
