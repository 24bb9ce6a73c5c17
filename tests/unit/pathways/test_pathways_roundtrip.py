"""Property: whatever valid commands an agency sends, the aggregate they built is the one
rebuilt from the stored events (SQLite here; PostgreSQL in tests/integration)."""

from __future__ import annotations

from uuid import uuid4

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.pathways import PathwaysApplication
from tests.unit.pathways.strategies import KINDS, command_sequences, play, rebuild


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), kind=st.sampled_from(KINDS))
def test_any_sequence_of_commands_gives_the_aggregate_rebuilt_from_stored_events_on_sqlite(
    app: PathwaysApplication, data: st.DataObject, kind: str
) -> None:
    pathway_id = uuid4()
    sequence = data.draw(command_sequences(kind, pathway_id))
    live, _ = play(app, kind, pathway_id, sequence)
    rebuilt = rebuild(app, pathway_id)
    assert rebuilt == live
    assert rebuilt.version == live.version
