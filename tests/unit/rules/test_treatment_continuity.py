"""treatment-continuity: release from prison with substitution treatment and no follow-up after release."""

from __future__ import annotations

from uuid import uuid4

from domain.rules import check_treatment_continuity, next_deadline_treatment_continuity, resolved_findings
from domain.values import AlertSeverity, TreatmentKind
from tests.unit.rules.builders import (
    CSAPA, MICRO, ROUEN, SPIP, USMP, at, mdm_rouen, on, paris, paris_midnight, raise_alert_for, release,
)


def _buprenorphine(pathway):
    treatment = uuid4()
    pathway.record_treatment_to_continue(treatment_id=treatment, kind=TreatmentKind.SUBSTITUTION,
                                         name="buprénorphine", prescribed_by=USMP.agency, actor=USMP, occurred_at=at(1))
    return treatment


def _csapa_after_release(pathway, day: int = 26):
    appointment = uuid4()
    pathway.book_appointment(appointment_id=appointment, with_agency=CSAPA.agency, service="consultation CSAPA",
                             scheduled_at=paris(on(day), 10), interpreter_needed=False, language=None,
                             actor=CSAPA, occurred_at=at(3))
    return appointment


def test_release_in_ten_days_with_substitution_treatment_and_no_follow_up_raises_critical_owned_by_the_csapa() -> None:
    pathway = release(25)
    treatment = _buprenorphine(pathway)
    pathway.hand_over_treatment(treatment_id=treatment, to_agency=CSAPA.agency, actor=USMP, occurred_at=at(2))
    threshold = paris_midnight(on(15))

    assert check_treatment_continuity(pathway, threshold - MICRO, ROUEN) == []
    assert next_deadline_treatment_continuity(pathway, at(2), ROUEN) == threshold
    [finding] = check_treatment_continuity(pathway, threshold, ROUEN)

    assert finding.subject == f"treatment:{treatment}"
    assert finding.owner_agency == CSAPA.agency
    assert finding.severity is AlertSeverity.CRITICAL
    assert "traitement de substitution (buprénorphine)" in finding.suggested_action
    assert finding.deadline == paris_midnight(on(25))


def test_without_a_hand_over_the_prison_health_unit_that_prescribed_owns_it() -> None:
    pathway = release(25)
    pathway.record_treatment_to_continue(treatment_id=uuid4(), kind=TreatmentKind.PSYCHIATRIC, name="olanzapine",
                                         prescribed_by=USMP.agency, actor=USMP, occurred_at=at(1))
    [finding] = check_treatment_continuity(pathway, at(20), ROUEN)
    assert finding.owner_agency == USMP.agency and finding.severity is AlertSeverity.HIGH


def test_planning_the_first_csapa_appointment_after_release_resolves_it() -> None:
    pathway = release(25)
    treatment = _buprenorphine(pathway)
    [finding] = check_treatment_continuity(pathway, at(16), ROUEN)
    raise_alert_for(pathway, finding, at(16))

    appointment = _csapa_after_release(pathway)
    pathway.plan_treatment_follow_up(treatment_id=treatment, appointment_id=appointment, actor=USMP, occurred_at=at(17))

    assert check_treatment_continuity(pathway, at(17), ROUEN) == []
    [resolution] = resolved_findings(pathway.open_alerts, [], pathway)
    assert resolution.reason == f"Rendez-vous de suivi après la sortie programmé le {on(26):%d/%m}."


def test_follow_up_planned_three_weeks_ahead_raises_nothing() -> None:
    pathway = release(25)
    treatment = _buprenorphine(pathway)
    appointment = _csapa_after_release(pathway)
    pathway.plan_treatment_follow_up(treatment_id=treatment, appointment_id=appointment, actor=USMP, occurred_at=at(4))
    for day in (15, 24, 26):
        assert check_treatment_continuity(pathway, at(day), ROUEN) == []
    assert next_deadline_treatment_continuity(pathway, at(4), ROUEN) is None


def test_a_cancelled_follow_up_breaks_the_continuity_again() -> None:
    pathway = release(25)
    treatment = _buprenorphine(pathway)
    appointment = _csapa_after_release(pathway)
    pathway.plan_treatment_follow_up(treatment_id=treatment, appointment_id=appointment, actor=USMP, occurred_at=at(4))
    pathway.cancel_appointment(appointment_id=appointment, reason="médecin absent", actor=CSAPA, occurred_at=at(20))
    assert len(check_treatment_continuity(pathway, at(20), ROUEN)) == 1


def test_other_pathways_have_no_treatment_to_continue() -> None:
    assert check_treatment_continuity(mdm_rouen(), at(30), ROUEN) == []
