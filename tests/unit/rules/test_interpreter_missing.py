"""interpreter-missing: Mr M., 75, CADA — the cardiologist refused the consultation without an interpreter."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from domain.rules import check_interpreter_missing, next_deadline_interpreter_missing, resolved_findings
from domain.values import AlertSeverity
from tests.unit.rules.builders import CADA, CARDIO, MICRO, ROUEN, TerritorySettings, at, mr_m, on, paris, raise_alert_for

RULE = "interpreter-missing"


def _cardiology(pathway, interpreter_needed: bool = True):
    appointment = uuid4()
    pathway.book_appointment(
        appointment_id=appointment, with_agency=CARDIO.agency, service="consultation de cardiologie",
        scheduled_at=paris(on(10), 14, 30), interpreter_needed=interpreter_needed, language=None,
        actor=CADA, occurred_at=at(1),
    )
    return appointment


def test_mr_m_cardiology_in_48_hours_without_interpreter_raises_interpreter_missing_owned_by_the_cardiology_service() -> None:
    pathway = mr_m()
    appointment = _cardiology(pathway)
    consultation = paris(on(10), 14, 30)

    assert check_interpreter_missing(pathway, consultation - timedelta(hours=48) - MICRO, ROUEN) == []
    assert next_deadline_interpreter_missing(pathway, at(1), ROUEN) == consultation - timedelta(hours=48)
    [finding] = check_interpreter_missing(pathway, consultation - timedelta(hours=48), ROUEN)

    assert finding.subject == f"appointment:{appointment}"
    assert finding.owner_agency == CARDIO.agency
    assert finding.severity is AlertSeverity.HIGH
    assert finding.suggested_action.startswith("Réserver un interprète (arabe) pour le rendez-vous consultation de cardiologie")
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


def test_an_appointment_that_needs_no_interpreter_raises_nothing() -> None:
    pathway = mr_m()
    _cardiology(pathway, interpreter_needed=False)
    assert check_interpreter_missing(pathway, at(10), ROUEN) == []


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
