"""Property: for any history, rebuilding every projection from scratch in one pass gives the
same rows as the live projection, which saw the events one at a time as they were relayed,
interleaved across pathways, with some of them delivered again (a relay restarted)."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.registry import PROJECTIONS
from projections.schema import table_rows
from services.pathways import commands as c
from tests.unit.pathways.strategies import AGENCIES, BASE_TIME, KINDS, actor, command_sequences, open_command
from tests.unit.projections.conftest import World


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[c.Command], list[int]]:
    """Commands over 1-3 pathways of any kinds, interleaved; and which steps re-deliver."""
    streams = []
    for _ in range(draw(st.integers(1, 3))):
        kind, pid = draw(st.sampled_from(KINDS)), uuid4()
        opening: list[c.Command] = [open_command(kind, pid)]
        opening += [c.AddAgency(command_id=uuid4(), pathway_id=pid, actor=actor(), occurred_at=BASE_TIME,
                                agency=agency, role="coordination") for agency in AGENCIES[1:]]
        streams.append(opening + draw(command_sequences(kind, pid, max_size=25)))
    order = draw(st.permutations([i for i, s in enumerate(streams) for _ in s]))
    cursors = [0] * len(streams)
    history = []
    for i in order:
        history.append(streams[i][cursors[i]])
        cursors[i] += 1
    redeliver = draw(st.lists(st.integers(0, 10_000), max_size=15))
    return history, redeliver


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=histories())
def test_rebuilding_every_projection_from_scratch_gives_the_rows_of_the_live_projection(
    tmp_path_factory, data: tuple[list[c.Command], list[int]]
) -> None:
    history, redeliver = data
    world = World(Path(tmp_path_factory.mktemp("w")))
    try:
        for step, command in enumerate(history):
            world.handler.handle(command)
            world.flush()  # live: the projections get each event as it is relayed
            log = world.bus.events()
            for r in redeliver:
                if log and r % len(history) == step:
                    world.projections.handle(log[r % len(log)])  # a duplicate on the wire
        live = {name: table_rows(world.projections.db, p) for name, p in world.projections.projections.items()}
        for name in PROJECTIONS:
            rebuilt = world.projections.rebuild(name, world.bus.events())
            assert table_rows(world.projections.db, rebuilt) == live[name], name
    finally:
        world.close()


def test_the_property_histories_do_produce_events_for_every_projection(tmp_path: Path) -> None:
    """A guard on the generator: a plain history touches every read model."""
    world = World(tmp_path)
    pid = uuid4()
    world.handler.handle(open_command("pass_gp", pid))
    world.flush()
    for name, projection in world.projections.projections.items():
        rows = table_rows(world.projections.db, projection)
        if name != "consents":
            assert any(rows.values()), name
    world.close()
