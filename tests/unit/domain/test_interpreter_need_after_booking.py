"""An interpreter need learned after the appointments were booked (the CADA social worker finds
out Mr M. speaks only Albanian once the cardiology appointment is taken): the appointments still
to come need an interpreter from then on, so booking one is accepted and interpreter-missing
watches them."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from eventsourcing.application import project_aggregate

from domain import PassGpPathway
from domain.rules import check_interpreter_missing
from domain.values import AppointmentStatus
from tests.unit.domain.conftest import CASO, PASS, at
from tests.unit.rules.builders import ROUEN

CARDIOLOGY = "chu-rouen-cardiologie"


def _book(pathway: PassGpPathway, day: float, *, interpreter_needed: bool = False, language: str | None = None):
    appointment_id = uuid4()
    pathway.book_appointment(appointment_id=appointment_id, with_agency=CARDIOLOGY, service="cardiologie",
                             scheduled_at=at(day), interpreter_needed=interpreter_needed, language=language,
                             actor=CASO, occurred_at=at(1))
    return appointment_id


def test_a_need_recorded_after_booking_marks_the_appointments_still_to_come(pass_gp: PassGpPathway) -> None:
    past = _book(pass_gp, 2)
    seen = _book(pass_gp, 3)
    coming = _book(pass_gp, 10)
    pass_gp.mark_appointment_seen(appointment_id=seen, actor=PASS, occurred_at=at(3))

    pass_gp.record_interpreter_need(language="sq", actor=CASO, occurred_at=at(4))

    assert pass_gp.appointments[coming].interpreter_needed and pass_gp.appointments[coming].language == "sq"
    assert not pass_gp.appointments[past].interpreter_needed  # it was before the need was known
    assert not pass_gp.appointments[seen].interpreter_needed


def test_then_booking_the_interpreter_is_accepted_and_interpreter_missing_fires_until_it_is(
    pass_gp: PassGpPathway,
) -> None:
    coming = _book(pass_gp, 10)
    assert check_interpreter_missing(pass_gp, at(9), ROUEN) == []

    pass_gp.record_interpreter_need(language="sq", actor=CASO, occurred_at=at(4))

    [finding] = check_interpreter_missing(pass_gp, at(9), ROUEN)
    assert finding.subject == f"appointment:{coming}" and "(sq)" in finding.suggested_action
    pass_gp.book_interpreter(appointment_id=coming, provider="ISM", actor=CASO, occurred_at=at(5))
    assert check_interpreter_missing(pass_gp, at(9), ROUEN) == []


def test_the_event_names_the_appointments_it_changed_and_replay_gives_the_same_state(pass_gp: PassGpPathway) -> None:
    coming = _book(pass_gp, 10)
    later = _book(pass_gp, 20, interpreter_needed=True, language="ar")  # already needs one: unchanged
    pass_gp.record_interpreter_need(language="sq", actor=CASO, occurred_at=at(4))

    events = pass_gp.collect_events()
    recorded = events[-1]
    assert type(recorded).__name__ == "InterpreterNeedRecorded" and recorded.appointment_ids == [coming]
    replayed = project_aggregate(None, events)
    assert replayed.appointments == pass_gp.appointments
    assert replayed.appointments[later].language == "ar"


def test_no_longer_needing_one_unmarks_the_appointments_with_no_interpreter_booked_yet(pass_gp: PassGpPathway) -> None:
    booked = _book(pass_gp, 10, interpreter_needed=True, language="sq")
    unbooked = _book(pass_gp, 12, interpreter_needed=True, language="sq")
    pass_gp.book_interpreter(appointment_id=booked, provider="ISM", actor=CASO, occurred_at=at(2))

    pass_gp.record_interpreter_need(language=None, actor=CASO, occurred_at=at(3))

    assert not pass_gp.appointments[unbooked].interpreter_needed
    assert pass_gp.appointments[booked].interpreter_needed  # the interpreter booked stays booked
    assert check_interpreter_missing(pass_gp, at(12) - timedelta(hours=1), ROUEN) == []


def test_a_cancelled_appointment_is_left_as_it_was(pass_gp: PassGpPathway) -> None:
    cancelled = _book(pass_gp, 10)
    pass_gp.cancel_appointment(appointment_id=cancelled, reason="report", actor=CASO, occurred_at=at(2))
    pass_gp.record_interpreter_need(language="sq", actor=CASO, occurred_at=at(3))
    appointment = pass_gp.appointments[cancelled]
    assert appointment.status is AppointmentStatus.CANCELLED and not appointment.interpreter_needed
