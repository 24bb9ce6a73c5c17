"""screening-overdue: SAS arrival from a high-TB-endemicity country; health needs without a PASS appointment."""

from __future__ import annotations

from uuid import uuid4

from domain import texts
from domain.rules import check_screening_overdue, next_deadline_screening_overdue, resolved_findings
from domain.values import AlertSeverity, InformationCategory, NeedCategory
from tests.unit.rules.builders import (
    ADOMA, CLAT, MICRO, PASS, ROUEN, SIAO, TerritorySettings, at, keys, on, paris, paris_midnight, raise_alert_for,
    release, sas_arrival,
)

RULE = "screening-overdue"


def test_sas_arrival_from_high_tb_endemicity_without_clat_screening_by_day_ten_raises_owned_by_the_clat() -> None:
    pathway = sas_arrival(True)
    threshold = paris_midnight(on(10))

    assert check_screening_overdue(pathway, threshold - MICRO, ROUEN) == []
    assert next_deadline_screening_overdue(pathway, at(0), ROUEN) == threshold
    [finding] = check_screening_overdue(pathway, threshold, ROUEN)

    assert finding.subject == "screening:tb"
    assert finding.owner_agency == CLAT.agency
    assert finding.severity is AlertSeverity.HIGH
    assert "dépistage de la tuberculose" in finding.suggested_action
    assert finding.deadline == paris_midnight(on(21))


def test_when_the_clat_is_not_yet_involved_the_sas_operator_relays() -> None:
    pathway = sas_arrival(False, SIAO)
    pathway.flag_tb_screening_need(actor=ADOMA, occurred_at=at(1))
    [finding] = check_screening_overdue(pathway, at(11), ROUEN)
    assert finding.owner_agency == ADOMA.agency


def test_the_clat_screening_resolves_it() -> None:
    pathway = sas_arrival(True)
    [finding] = check_screening_overdue(pathway, at(11), ROUEN)
    raise_alert_for(pathway, finding, at(11))

    pathway.record_clat_screening(screened_on=on(12), follow_up_needed=False, actor=CLAT, occurred_at=at(12))

    assert check_screening_overdue(pathway, at(12), ROUEN) == []
    [resolution] = resolved_findings(pathway.open_alerts, [], pathway)
    assert texts.full(resolution.reason) == f"Dépistage CLAT réalisé le {on(12):%d/%m}."
    assert texts.render(resolution.reason, {InformationCategory.SOCIAL}, "social") == "Dépistage réalisé."


def test_a_clat_appointment_booked_on_day_three_for_day_eight_raises_nothing() -> None:
    pathway = sas_arrival(True)
    pathway.book_appointment(appointment_id=uuid4(), with_agency=CLAT.agency, service="radio pulmonaire",
                             scheduled_at=paris(on(8), 9), interpreter_needed=False, language=None,
                             actor=ADOMA, occurred_at=at(3))
    assert check_screening_overdue(pathway, at(11), ROUEN) == []
    assert next_deadline_screening_overdue(pathway, at(3), ROUEN) is None


def test_a_clat_appointment_after_the_ten_days_does_not_count_as_screening_in_time() -> None:
    pathway = sas_arrival(True)
    pathway.book_appointment(appointment_id=uuid4(), with_agency=CLAT.agency, service="radio pulmonaire",
                             scheduled_at=paris(on(19), 9), interpreter_needed=False, language=None,
                             actor=ADOMA, occurred_at=at(3))
    [finding] = check_screening_overdue(pathway, at(11), ROUEN)
    assert finding.subject == "screening:tb" and finding.owner_agency == CLAT.agency


def test_mental_health_and_addiction_needs_call_for_a_pass_appointment() -> None:
    pathway = sas_arrival(False, SIAO)
    for category in (NeedCategory.MENTAL_HEALTH, NeedCategory.ADDICTION):
        pathway.record_need(need_id=uuid4(), category=category, description="repéré à l'accueil",
                            actor=ADOMA, occurred_at=at(1))
    [finding] = check_screening_overdue(pathway, at(8, 1), ROUEN)
    assert finding.subject == "screening:pass"
    assert finding.owner_agency == ADOMA.agency  # the PASS does not take part yet: the SAS relays
    assert finding.suggested_action.startswith("Obtenir un rendez-vous à la PASS pour 2 besoins de santé signalés le")
    pathway.book_appointment(appointment_id=uuid4(), with_agency=PASS.agency, service="consultation PASS",
                             scheduled_at=paris(on(12), 9), interpreter_needed=False, language=None,
                             actor=ADOMA, occurred_at=at(9))
    assert check_screening_overdue(pathway, at(9), ROUEN) == []


def test_no_tb_risk_no_screening_alert() -> None:
    pathway = sas_arrival(False)
    assert check_screening_overdue(pathway, at(20), ROUEN) == []


def test_health_needs_flagged_without_a_pass_appointment_raise_screening_overdue_until_one_is_booked() -> None:
    pathway = sas_arrival(False)
    pathway.record_need(need_id=uuid4(), category=NeedCategory.CARE, description="douleurs thoraciques",
                        actor=ADOMA, occurred_at=at(1))
    assert check_screening_overdue(pathway, at(8) - MICRO, ROUEN) == []
    [finding] = check_screening_overdue(pathway, at(8), ROUEN)
    assert finding.subject == "screening:pass"
    assert finding.owner_agency == PASS.agency
    assert "douleurs" not in finding.suggested_action  # the alert says what to do, not the medical detail

    pathway.book_appointment(appointment_id=uuid4(), with_agency=PASS.agency, service="consultation PASS",
                             scheduled_at=at(9), interpreter_needed=False, language=None, actor=ADOMA, occurred_at=at(8, 1))
    assert check_screening_overdue(pathway, at(9), ROUEN) == []


def test_the_screening_delay_is_a_territory_setting() -> None:
    pathway = sas_arrival(True)
    assert keys(check_screening_overdue(pathway, at(5), TerritorySettings(tb_screening_days=3))) == {(RULE, "screening:tb")}
    assert check_screening_overdue(pathway, at(5), ROUEN) == []


def test_other_pathways_are_not_screened_by_this_rule() -> None:
    assert check_screening_overdue(release(25), at(30), ROUEN) == []
