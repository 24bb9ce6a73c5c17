"""InterpreterNeedRecorded v2 names the appointments the need changed; a v1 event (stored before)
is read back as having changed none."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.persistence import StoredEvent

from services.pathways import PathwaysApplication, PathwaysHandler
from tests.unit.pathways.strategies import BASE_TIME, actor, open_command


def test_a_v1_interpreter_need_event_is_read_back_with_no_appointment_changed(
    app: PathwaysApplication, handler: PathwaysHandler
) -> None:
    pathway_id = UUID("6f0c7a57-3b5e-4a51-9a57-0c1d2e3f4a5b")
    assert handler.handle(open_command("pass_gp", pathway_id)).accepted
    state = {"timestamp": BASE_TIME, "actor": actor().to_domain(), "occurred_at": BASE_TIME, "language": "sq"}
    raw = app.mapper.transcoder.encode(state)  # no "class_version" key: how v1 was stored (topic as then)
    app.recorder.insert_events([StoredEvent(
        originator_id=pathway_id, originator_version=2,
        topic="domain.pathway:Pathway.InterpreterNeedRecorded", state=app.mapper.cipher.encrypt(raw),
    )])

    pathway = app.get_pathway(pathway_id)

    assert pathway.interpreter_language == "sq"
    upcast = list(app.events.get(pathway_id))[-1]
    assert upcast.appointment_ids == [] and upcast.language == "sq"
    pathway.record_interpreter_need(language=None, actor=actor().to_domain(), occurred_at=BASE_TIME)
    written = app.mapper.to_stored_event(pathway.pending_events[0])
    new_state = app.mapper.transcoder.decode(app.mapper.cipher.decrypt(written.state))
    assert new_state["class_version"] == 2 and new_state["appointment_ids"] == []
