"""The command side: idempotency, refusals that name the field, dispatch, versioning."""

from __future__ import annotations

import inspect
from datetime import date
from typing import Any
from uuid import UUID, uuid4

import pytest

from domain import PATHWAY_CLASSES
from domain.detention import DetentionPathway
from eventsourcing.persistence import StoredEvent
from services.bootstrap import build_pathways_application
from services.pathways import CommandRejected, PathwaysApplication, PathwaysHandler, parse_command
from services.pathways import commands as c
from services.pathways.commands import COMMANDS, ENVELOPE, OpenPathway
from tests.unit.pathways.strategies import BASE_TIME, LEAD, actor, open_command


def envelope(pathway_id: UUID, agency: str = LEAD) -> dict[str, Any]:
    return dict(command_id=uuid4(), pathway_id=pathway_id, actor=actor(agency), occurred_at=BASE_TIME)


def stream(app: PathwaysApplication, pathway_id: UUID) -> list[Any]:
    return list(app.events.get(pathway_id))


@pytest.fixture
def pathway_id(handler: PathwaysHandler) -> UUID:
    pathway_id = uuid4()
    assert handler.handle(open_command("detention", pathway_id)).accepted
    return pathway_id


def test_every_command_matches_the_signature_of_the_aggregate_method_it_calls() -> None:
    for name, command_class in COMMANDS.items():
        fields = set(command_class.model_fields) - ENVELOPE
        if issubclass(command_class, OpenPathway):
            method = command_class.aggregate_class.__init__
        else:
            owners = [cls for cls in PATHWAY_CLASSES.values() if hasattr(cls, command_class.verb)]
            assert owners, f"{name}: no aggregate has {command_class.verb}()"
            method = getattr(owners[0], command_class.verb)
        wrapped = getattr(method, "event_decorator", None)
        target = wrapped.decorated_func if wrapped else method
        params = set(inspect.signature(target).parameters) - {"self", "id", "actor", "occurred_at"}
        assert fields == params, f"{name}: command fields {sorted(fields)} != method params {sorted(params)}"


def test_sending_the_same_command_twice_changes_nothing_and_returns_the_same_answer(
    app: PathwaysApplication, handler: PathwaysHandler, pathway_id: UUID
) -> None:
    command = c.ScheduleRelease(**envelope(pathway_id), release_date=date(2026, 4, 1))
    first = handler.handle(command)
    events_after_first = stream(app, pathway_id)
    second = handler.handle(command)
    assert second == first and second.duplicate and not first.duplicate
    assert stream(app, pathway_id) == events_after_first
    assert first.accepted and first.version == 2 and first.new_events == 1


def test_a_refused_command_sent_twice_gets_the_same_refusal(handler: PathwaysHandler, pathway_id: UUID) -> None:
    command = c.ConfirmHousing(**envelope(pathway_id), request_id=uuid4())
    first = handler.handle(command)
    assert not first.accepted and first.rejection is not None
    assert (first.rejection.field, first.rejection.code) == ("request_id", "UNKNOWN_HOUSING_REQUEST")
    assert handler.handle(command) == first


def test_a_command_id_reused_for_different_content_is_refused(handler: PathwaysHandler, pathway_id: UUID) -> None:
    command = c.ScheduleRelease(**envelope(pathway_id), release_date=date(2026, 4, 1))
    handler.handle(command)
    other = command.model_copy(update={"release_date": date(2026, 5, 1)})
    result = handler.handle(other)
    assert not result.accepted and result.rejection.field == "command_id"
    assert result.rejection.code == "COMMAND_ID_REUSED"


def _payload(pathway_id: UUID, **fields: Any) -> dict[str, Any]:
    return {
        "command_id": str(uuid4()), "pathway_id": str(pathway_id),
        "actor": {"agency": LEAD, "professional": "pro-1", "role": "medecin"},
        "occurred_at": "2026-03-03T10:00:00+01:00", **fields,
    }


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"release_date": None}, "release_date", "INVALID_DATE"),
        ({"release_date": "2026-02-30"}, "release_date", "INVALID_DATE"),
        ({"surprise": 1}, "surprise", "UNKNOWN_FIELD"),
        ({"occurred_at": "2026-03-03T10:00:00"}, "occurred_at", "INVALID_DATE"),
        ({"pathway_id": "not-a-uuid"}, "pathway_id", "INVALID_UUID"),
        ({"actor": {"agency": "", "professional": "p", "role": "r"}}, "actor.agency", "INVALID_VALUE"),
    ],
)
def test_a_malformed_command_is_refused_naming_the_field_and_the_reason(
    handler: PathwaysHandler, pathway_id: UUID, change: dict[str, Any], field: str, code: str
) -> None:
    payload = _payload(pathway_id, release_date="2026-04-01") | change
    with pytest.raises(CommandRejected) as refused:
        parse_command("ScheduleRelease", payload)
    assert refused.value.field == field and refused.value.code == code and refused.value.reason
    result = handler.handle_payload("ScheduleRelease", payload)
    assert not result.accepted and result.rejection == refused.value


def test_a_missing_field_and_an_unknown_enum_value_are_explained_in_french(pathway_id: UUID) -> None:
    with pytest.raises(CommandRejected) as missing:
        parse_command("ScheduleRelease", _payload(pathway_id))
    assert (missing.value.field, missing.value.reason) == ("release_date", "champ obligatoire")
    with pytest.raises(CommandRejected) as bad_enum:
        parse_command("RecordPhoneStatus", _payload(pathway_id, status="broken"))
    assert bad_enum.value.field == "status" and bad_enum.value.reason.startswith("valeur non reconnue")
    with pytest.raises(CommandRejected) as unknown:
        parse_command("DoSomething", {})
    assert unknown.value.field == "type"


def test_a_domain_refusal_names_the_field_where_it_applies(handler: PathwaysHandler, pathway_id: UUID) -> None:
    result = handler.handle(c.CancelAppointment(**envelope(pathway_id), appointment_id=uuid4(), reason="x"))
    assert result.rejection.field == "appointment_id" and result.rejection.code == "APPOINTMENT_NOT_SCHEDULED"
    result = handler.handle(c.RecordPhoneStatus(**envelope(pathway_id, agency="unknown-agency"), status="lost"))
    # Membership first: a non-member hears what it would hear of a pathway that does not exist.
    assert result.rejection.field == "pathway_id" and result.rejection.code == "UNKNOWN_PATHWAY"
    assert "participe pas" in result.rejection.reason


def test_commands_for_an_unknown_pathway_or_another_kind_are_refused(handler: PathwaysHandler, pathway_id: UUID) -> None:
    unknown = handler.handle(c.RecordPhoneStatus(**envelope(uuid4()), status="lost"))
    assert unknown.rejection.code == "UNKNOWN_PATHWAY" and unknown.rejection.field == "pathway_id"
    wrong_kind = handler.handle(c.RegisterNewborn(**envelope(pathway_id), newborn_ref="NN", born_on=date(2026, 3, 3)))
    assert wrong_kind.rejection.code == "WRONG_PATHWAY_KIND"
    again = handler.handle(open_command("detention", pathway_id))
    assert again.rejection.code == "PATHWAY_ALREADY_EXISTS"


def test_a_v1_release_date_event_is_read_back_with_its_renamed_field(app: PathwaysApplication, pathway_id: UUID) -> None:
    """v1 of ReleaseDateSet called the field `new_date`; v2 calls it `release_date`."""
    state = {
        "timestamp": BASE_TIME, "actor": actor().to_domain(), "occurred_at": BASE_TIME,
        "new_date": date(2026, 5, 9),  # no "class_version" key: that is how v1 was stored
    }
    raw = app.mapper.transcoder.encode(state)
    stored = StoredEvent(
        originator_id=pathway_id, originator_version=2,
        topic="domain.detention:DetentionPathway.ReleaseDateSet", state=app.mapper.cipher.encrypt(raw),
    )
    app.recorder.insert_events([stored])
    pathway = app.get_pathway(pathway_id)
    assert isinstance(pathway, DetentionPathway)
    assert pathway.release_date == date(2026, 5, 9) == pathway.exit_date
    upcast = list(app.events.get(pathway_id))[-1]
    assert upcast.release_date == date(2026, 5, 9) and not hasattr(upcast, "new_date")
    # New events are written as v2.
    pathway.schedule_release(release_date=date(2026, 6, 1), actor=actor().to_domain(), occurred_at=BASE_TIME)
    written = app.mapper.to_stored_event(pathway.pending_events[0])
    new_state = app.mapper.transcoder.decode(app.mapper.cipher.decrypt(written.state))
    assert new_state["class_version"] == 2 and "release_date" in new_state


def test_payloads_are_encrypted_at_rest_on_sqlite(app: PathwaysApplication, handler: PathwaysHandler) -> None:
    pathway_id = uuid4()
    marker = "PLAINTEXT-MARKER-7f3a"
    handler.handle(open_command("pass_gp", pathway_id))
    handler.handle(c.RecordNeed(**envelope(pathway_id), need_id=uuid4(), category="care", description=marker))
    stored = app.recorder.select_events(pathway_id)
    assert stored and all(marker.encode() not in s.state for s in stored)
    assert app.get_pathway(pathway_id).open_needs[0].description == marker


def test_a_batch_of_commands_for_one_pathway_is_written_in_one_save_with_each_answer(
    app: PathwaysApplication, handler: PathwaysHandler
) -> None:
    pathway_id = uuid4()
    batch = [
        open_command("pass_gp", pathway_id),
        c.RecordPhoneStatus(**envelope(pathway_id), status="valid"),
        c.ConfirmHousing(**envelope(pathway_id), request_id=uuid4()),  # refused: unknown request
        c.RecordContactAttempt(**envelope(pathway_id), reached=False),
    ]
    notifications_before = app.recorder.max_notification_id() or 0
    results = handler.handle_batch(batch)
    assert [r.accepted for r in results] == [True, True, False, True]
    assert [r.version for r in results] == [1, 2, None, 3]
    assert results[2].rejection.code == "UNKNOWN_HOUSING_REQUEST"
    # One write: 3 pathway events and 4 answers, with consecutive notification ids.
    assert (app.recorder.max_notification_id() or 0) - notifications_before == 7
    # Delivered again (whole batch): nothing changes, the same answers come back.
    again = handler.handle_batch(batch)
    assert again == results and all(r.duplicate for r in again)
    assert len(list(app.events.get(pathway_id))) == 3


def test_a_batch_that_collides_falls_back_to_one_command_at_a_time(handler: PathwaysHandler, pathway_id: UUID) -> None:
    first = c.ScheduleRelease(**envelope(pathway_id), release_date=date(2026, 4, 1))
    assert handler.handle(first).accepted
    second = c.ScheduleRelease(**envelope(pathway_id), release_date=date(2026, 4, 2))
    results = handler.handle_batch([first, second])  # `first` was already recorded
    assert results[0].duplicate and results[0].version == 2
    assert results[1].accepted and results[1].version == 3 and not results[1].duplicate


def test_a_stale_cached_pathway_is_forgotten_and_the_command_decided_again_on_fresh_state(settings) -> None:
    """Two applications on one store file stand for two processes on one PostgreSQL."""
    app, other = build_pathways_application(settings), build_pathways_application(settings)
    handler, other_handler = PathwaysHandler(app), PathwaysHandler(other)
    pathway_id, request = uuid4(), uuid4()
    assert handler.handle(open_command("detention", pathway_id)).accepted
    app.get_pathway_to_command(pathway_id)  # this process now holds the pathway in its cache
    assert other_handler.handle(c.RequestHousing(**envelope(pathway_id), request_id=request, via_agency="siao-76")).accepted
    # Decided on the stale copy, this would be refused ("unknown request"): it must not be.
    offer = handler.handle(c.OfferHousing(**envelope(pathway_id), request_id=request, place="CHRS", available_on=date(2026, 4, 1)))
    assert offer.accepted and offer.version == 3
    # An accepted command on a stale copy collides on the version and is run again.
    assert other_handler.handle(c.RecordPhoneStatus(**envelope(pathway_id), status="lost")).accepted
    confirm = handler.handle(c.ConfirmHousing(**envelope(pathway_id), request_id=request))
    assert confirm.accepted and confirm.version == 5
    assert app.get_pathway(pathway_id).has_confirmed_housing
    app.close()
    other.close()


def test_a_command_cannot_carry_its_own_recording_time_it_is_recorded_now(handler: PathwaysHandler,
                                                                         pathway_id: UUID) -> None:
    from datetime import datetime, timezone

    backdated = _payload(pathway_id, release_date="2026-04-01", recorded_at="2020-01-01T10:00:00+01:00")
    refused = handler.handle_payload("ScheduleRelease", backdated)
    assert not refused.accepted and refused.rejection.field == "recorded_at"
    assert refused.rejection.code == "UNKNOWN_FIELD"
    before = datetime.now(timezone.utc)
    assert handler.handle_payload("ScheduleRelease", _payload(pathway_id, release_date="2026-04-01")).accepted
    assert stream(handler.app, pathway_id)[-1].timestamp >= before


def test_an_in_process_load_of_past_history_records_each_fact_when_it_was_entered(handler: PathwaysHandler) -> None:
    from datetime import datetime, timedelta, timezone

    pathway_id = uuid4()
    entered = datetime(2026, 3, 3, 9, 30, tzinfo=timezone.utc)
    commands = [open_command("detention", pathway_id),
                parse_command("ScheduleRelease", _payload(pathway_id, release_date="2026-04-01"))]
    moments = [entered, entered + timedelta(days=3)]
    assert all(r.accepted for r in handler.handle_batch(commands, recorded_at=moments))
    assert [e.timestamp for e in stream(handler.app, pathway_id)] == moments
