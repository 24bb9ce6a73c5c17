"""The one exactly-once step on PostgreSQL, where a batch's statements run together and each
pathway's position is written once: the same rows as event by event, and a batch that fails
half-way leaves nothing of itself (rows and positions roll back together); applied again, it
lands once."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from projections.apply import apply_once
from projections.base import PathwayEvent, Statement
from projections.registry import PROJECTIONS
from projections.schema import Db, ensure_current, table_rows
from tests.unit.projections.conftest import World, open_pass_gp


@pytest.fixture
def events(tmp_path: Path) -> list[PathwayEvent]:
    world = World(tmp_path)
    try:
        first, second = open_pass_gp(world), open_pass_gp(world)
        world.send("AddAgency", first, "pass", 1, agency="siao", role="housing")
        world.send("AddAgency", second, "pass", 1, agency="dac", role="coordination")
        world.send("AddAgency", first, "pass", 2, agency="dac", role="coordination")
        return [PathwayEvent.from_cloud_event(ce) for ce in world.bus.events()]
    finally:
        world.close()


def connect(pg_url: str, schema: str) -> psycopg.Connection:
    conn = psycopg.connect(pg_url)
    conn.execute(f'SET search_path TO "{schema}", public')
    conn.commit()
    return conn


def test_a_batch_writes_the_rows_of_the_same_events_applied_one_at_a_time(pg_url, pg_schema, events):
    with connect(pg_url, pg_schema) as conn:
        db = Db(conn, "postgres")
        for cls in PROJECTIONS.values():
            one_at_a_time, batched = ensure_current(db, cls), cls(2)
            for table in batched.ddl():
                db.execute(table)
            for event in events:
                apply_once(db, one_at_a_time, [event])
            assert apply_once(db, batched, events).applied == len(events)
            conn.commit()
            assert table_rows(db, batched) == table_rows(db, one_at_a_time), cls.name


def test_a_batch_failing_half_way_leaves_no_row_and_no_position_and_lands_once_when_applied_again(
        pg_url, pg_schema, events):
    caseload = PROJECTIONS["caseload"]
    broken_at = events[2].id

    class FailsOnce(caseload):  # the third event's statements end with one the server refuses
        failing = True

        def apply(self, event: PathwayEvent) -> list[Statement]:
            extra = [Statement("SELECT 1 / 0")] if self.failing and event.id == broken_at else []
            return [*super().apply(event), *extra]

    with connect(pg_url, pg_schema) as conn:
        db = Db(conn, "postgres")
        projection = FailsOnce(ensure_current(db, caseload).version)
        conn.commit()
        empty = table_rows(db, projection)
        with pytest.raises(psycopg.errors.DivisionByZero), conn.transaction():
            apply_once(db, projection, events)
        assert table_rows(db, projection) == empty
        projection.failing = False
        with conn.transaction():
            assert apply_once(db, projection, events).applied == len(events)
        with conn.transaction():
            assert apply_once(db, projection, events).skipped == len(events)
        applied = projection.t["caseload_applied"]
        assert sorted(db.fetchall(f"SELECT pathway_id, seq FROM {applied}")) == sorted(
            {e.pathway_id: e.seq for e in events}.items())
