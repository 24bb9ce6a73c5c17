"""Property: whatever valid commands an agency sends, the aggregate they built is the one
rebuilt from the stored events (SQLite here; PostgreSQL in tests/integration)."""

from __future__ import annotations

from uuid import uuid4

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.pathways import PathwaysApplication, PathwaysHandler
from tests.unit.pathways.strategies import KINDS, command_sequences, open_command, play, rebuild


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


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), kind=st.sampled_from(KINDS), batch=st.integers(min_value=1, max_value=6))
def test_commands_through_the_handler_in_any_batching_give_the_rebuilt_aggregate_and_resending_changes_nothing(
    app: PathwaysApplication, data: st.DataObject, kind: str, batch: int
) -> None:
    handler = PathwaysHandler(app)
    pathway_id = uuid4()
    sequence = [open_command(kind, pathway_id), *data.draw(command_sequences(kind, pathway_id, max_size=20))]
    chunks = [sequence[i:i + batch] for i in range(0, len(sequence), batch)]
    answers = [result for chunk in chunks for result in handler.handle_batch(chunk)]
    assert len(answers) == len(sequence) and answers[0].accepted
    # The instance the commands ran on (kept in the application's cache) is the replayed one.
    assert app.get_pathway_to_command(pathway_id) == rebuild(app, pathway_id)
    stored = list(app.events.get(pathway_id))
    assert [a.version for a in answers if a.accepted][-1] == len(stored)
    # At-least-once delivery: everything again, in other batches: same answers, same stream.
    again = [handler.handle(command) for command in sequence]
    assert again == answers and all(result.duplicate for result in again)
    assert list(app.events.get(pathway_id)) == stored
