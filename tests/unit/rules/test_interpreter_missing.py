"""interpreter-missing: Mr M., 75, CADA — the cardiologist refused the consultation without an interpreter."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from domain.rules import check_interpreter_missing, next_deadline_interpreter_missing, resolved_findings
from domain.values import AlertSeverity
from tests.unit.rules.builders import CADA, CARDIO, CPAM, MICRO, PASS, ROUEN, TerritorySettings, at, mr_m, on, paris, raise_alert_for

RULE = "interpreter-missing"


def _cardiology(pathway, interpreter_needed: bool = True):
    appointment = uuid4()
    pathway.book_appointment(
        appointment_id=appointment, with_agency=CARDIO.agency, service="consultation de cardiologie",
        scheduled_at=paris(on(10), 14, 30), interpreter_needed=interpreter_needed, language=None,
        actor=CADA, occurred_at=at(1),
    )
    return appointment


def test_mr_m_cardiology_in_48_hours_without_interpreter_raises_interpreter_missing_owned_by_the_cada_that_booked_it() -> None:
    pathway = mr_m()
    appointment = _cardiology(pathway)
    consultation = paris(on(10), 14, 30)

    assert check_interpreter_missing(pathway, consultation - timedelta(hours=48) - MICRO, ROUEN) == []
    assert next_deadline_interpreter_missing(pathway, at(1), ROUEN) == consultation - timedelta(hours=48)
    [finding] = check_interpreter_missing(pathway, consultation - timedelta(hours=48), ROUEN)

    assert finding.subject == f"appointment:{appointment}"
    assert finding.owner_agency == CADA.agency  # it booked the appointment: it books the interpreter
    assert finding.severity is AlertSeverity.HIGH
    # The day and time, not the service: the alert is social, the CADA's social worker reads it.
    assert finding.suggested_action.startswith("Réserver un interprète (arabe) pour le rendez-vous du ")
    assert "cardiologie" not in finding.suggested_action
    assert f"{on(10):%d/%m} à 14h30" in finding.suggested_action  # local time of Rouen
    assert finding.deadline == consultation


def test_booking_the_interpreter_resolves_the_alert() -> None:
    pathway = mr_m()
    appointment = _cardiology(pathway)
    [finding] = check_interpreter_missing(pathway, at(9), ROUEN)
    raise_alert_for(pathway, finding, at(9))

    pathway.book_interpreter(appointment_id=appointment, provider="ISM Interprétariat", actor=CADA, occurred_at=at(9, 2))

    assert check_interpreter_missing(pathway, at(9, 2), ROUEN) == []
    [resolution] = resolved_findings(pathway.open_alerts, [], pathway)
    assert resolution.subject == f"appointment:{appointment}"
    assert resolution.reason == "Interprète réservé (ISM Interprétariat)."


def test_interpreter_booked_with_the_appointment_raises_nothing() -> None:
    pathway = mr_m()
    appointment = _cardiology(pathway)
    pathway.book_interpreter(appointment_id=appointment, provider="ISM Interprétariat", actor=CADA, occurred_at=at(1))
    assert check_interpreter_missing(pathway, at(9, 20), ROUEN) == []
    assert next_deadline_interpreter_missing(pathway, at(1), ROUEN) is None


def test_mr_m_s_need_is_inherited_by_an_appointment_booked_without_the_flag() -> None:
    """The seed case: the booking tool left the flag at False; Mr M. still needs an interpreter."""
    pathway = mr_m()
    appointment = _cardiology(pathway, interpreter_needed=False)
    consultation = paris(on(10), 14, 30)

    assert pathway.appointments[appointment].interpreter_needed
    assert next_deadline_interpreter_missing(pathway, at(1), ROUEN) == consultation - timedelta(hours=48)
    [finding] = check_interpreter_missing(pathway, consultation - timedelta(hours=48), ROUEN)
    assert finding.subject == f"appointment:{appointment}"
    assert finding.owner_agency == CADA.agency
    assert finding.suggested_action.startswith("Réserver un interprète (arabe)")


def test_an_appointment_of_a_person_who_needs_no_interpreter_raises_nothing() -> None:
    pathway = mr_m()
    pathway.record_interpreter_need(language=None, actor=CADA, occurred_at=at(0, 1))
    _cardiology(pathway, interpreter_needed=False)
    assert check_interpreter_missing(pathway, at(10), ROUEN) == []


def test_an_appointment_booked_by_an_agency_outside_the_pathway_is_owned_by_the_lead() -> None:
    pathway = mr_m(PASS, CPAM)  # the cardiology service does not take part
    appointment = uuid4()
    pathway.book_appointment(appointment_id=appointment, with_agency=CARDIO.agency, service="cardiologie",
                             scheduled_at=paris(on(10), 14, 30), interpreter_needed=False, language=None,
                             actor=PASS, occurred_at=at(1))
    pathway.remove_agency(agency=PASS.agency, reason="relais terminé", actor=CADA, occurred_at=at(2))
    [finding] = check_interpreter_missing(pathway, at(9), ROUEN)
    assert finding.owner_agency == CADA.agency  # PASS booked it but left: the lead, never an outsider


def test_a_cancelled_appointment_no_longer_needs_an_interpreter() -> None:
    pathway = mr_m()
    appointment = _cardiology(pathway)
    [finding] = check_interpreter_missing(pathway, at(9), ROUEN)
    pathway.cancel_appointment(appointment_id=appointment, reason="reporté par le service", actor=CARDIO, occurred_at=at(9, 1))
    assert check_interpreter_missing(pathway, at(9, 1), ROUEN) == []
    [resolution] = resolved_findings([finding], [], pathway)
    assert resolution.reason == "Rendez-vous annulé."


def test_the_interpreter_delay_is_a_territory_setting() -> None:
    pathway = mr_m()
    _cardiology(pathway)
    consultation = paris(on(10), 14, 30)
    three_days = TerritorySettings(territory="69", interpreter_hours=72)
    assert len(check_interpreter_missing(pathway, consultation - timedelta(hours=60), three_days)) == 1
    assert check_interpreter_missing(pathway, consultation - timedelta(hours=60), ROUEN) == []
