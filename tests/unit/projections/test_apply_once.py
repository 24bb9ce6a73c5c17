"""The one exactly-once step (projections.apply.apply_once), as every runner calls it."""

from __future__ import annotations

from pathlib import Path

from projections.apply import apply_once
from projections.base import PathwayEvent
from projections.embedded import connect
from projections.registry import PROJECTIONS
from projections.schema import Db, ensure_current, table_rows
from tests.unit.projections.conftest import World, open_pass_gp


def _events(world: World) -> list[PathwayEvent]:
    return [PathwayEvent.from_cloud_event(ce) for ce in world.bus.events()]


def test_events_applied_again_under_a_new_transport_position_leave_every_read_model_unchanged(
        world: World, tmp_path: Path) -> None:
    pid = open_pass_gp(world)
    world.send("AddAgency", pid, "pass", 1, agency="siao", role="housing")
    events = _events(world)
    db = Db(connect(":memory:"), "sqlite")
    for cls in PROJECTIONS.values():
        projection = ensure_current(db, cls)
        first = apply_once(db, projection, events)
        rows = table_rows(db, projection)
        # what a transport that lost its own position re-delivers: the whole log, twice over
        again = apply_once(db, projection, [*events, *events])
        assert (first.applied, again.applied, again.skipped) == (len(events), 0, 2 * len(events))
        assert table_rows(db, projection) == rows


def test_the_events_after_a_pathways_position_are_applied_and_the_ones_before_are_skipped(world: World) -> None:
    pid = open_pass_gp(world)
    world.send("AddAgency", pid, "pass", 1, agency="siao", role="housing")
    events = _events(world)
    db = Db(connect(":memory:"), "sqlite")
    projection = ensure_current(db, PROJECTIONS["caseload"])
    apply_once(db, projection, events[:1])
    result = apply_once(db, projection, events)  # the opening again, then what came after it
    assert (result.skipped, result.applied) == (1, len(events) - 1)
    assert db.fetchall("SELECT agency FROM caseload_participants ORDER BY agency") == [("pass",), ("siao",)]


def test_a_batch_of_several_pathways_leaves_every_read_model_as_the_same_events_applied_one_at_a_time(
        world: World) -> None:
    first, second = open_pass_gp(world), open_pass_gp(world)
    world.send("AddAgency", first, "pass", 1, agency="siao", role="housing")
    world.send("AddAgency", second, "pass", 1, agency="dac", role="coordination")
    world.send("AddAgency", first, "pass", 2, agency="dac", role="coordination")
    events = _events(world)
    for cls in PROJECTIONS.values():
        one_at_a_time, batched = Db(connect(":memory:"), "sqlite"), Db(connect(":memory:"), "sqlite")
        projection = ensure_current(one_at_a_time, cls)
        ensure_current(batched, cls)
        for event in events:
            apply_once(one_at_a_time, projection, [event])
        assert apply_once(batched, projection, events).applied == len(events)
        assert table_rows(batched, projection) == table_rows(one_at_a_time, projection), cls.name
        applied = projection.t[f"{cls.name}_applied"]
        assert sorted(batched.fetchall(f"SELECT pathway_id, seq FROM {applied}")) == sorted(
            (e.pathway_id, e.seq) for e in events if e.seq == max(x.seq for x in events if x.pathway_id == e.pathway_id))
