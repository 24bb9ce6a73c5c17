"""The situations of the seed documents, played on the aggregates."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain import errors
from domain.values import (
    AdministrativeStatus,
    AlertSeverity,
    AppointmentStatus,
    ClosureOutcome,
    CoverageScheme,
    GpVisitOutcome,
    NotWentReason,
    PhoneStatus,
    ReferralOutcome,
    ReferralStatus,
    TreatmentKind,
)
from tests.unit.domain.conftest import (
    ADOMA, CADA, CASO, CLAT, CSAPA, DAC, MATERNITY, PASS, PMI, RISK, SIAO, SPIP, USMP, at, join, on,
)


# --- Médecins du Monde, Rouen: PASS -> médecine de ville ---------------------------------

def test_mdm_rouen_orientation_fails_because_the_phone_number_changed(pass_gp) -> None:
    pass_gp.open_coverage(scheme=CoverageScheme.AME, opened_on=on(0), expires_on=on(365), actor=PASS, occurred_at=at(0))
    pass_gp.start_gp_search(commune="Rouen", languages=["ar"], needs_phone_interpreting=True, actor=CASO, occurred_at=at(1))
    orientation = uuid4()
    pass_gp.orient_to_gp(
        orientation_id=orientation, gp_ref="mg-rouen-msp-3", gp_commune="Rouen",
        accepts_phone_interpreting=True, actor=CASO, occurred_at=at(2),
    )
    # Phone follow-up: nobody answers, twice; then the number turns out to be gone.
    pass_gp.record_follow_up_call(orientation_id=orientation, reached=False, actor=CASO, occurred_at=at(9))
    pass_gp.record_follow_up_call(orientation_id=orientation, reached=False, actor=CASO, occurred_at=at(12))
    assert pass_gp.contact.failed_attempts == 2
    pass_gp.record_gp_visit_outcome(
        orientation_id=orientation, outcome=GpVisitOutcome.DID_NOT_GO, reason=NotWentReason.PHONE_CHANGED,
        detail="revu en maraude, nouveau numéro", actor=CASO, occurred_at=at(20),
    )
    referral = pass_gp.referrals[orientation]
    assert referral.status is ReferralStatus.FAILED
    assert referral.outcome is ReferralOutcome.NOT_HONOURED
    assert referral.outcome_reason == "phone_changed"
    assert pass_gp.contact.phone is PhoneStatus.CHANGED
    assert not pass_gp.went_to_gp
    with pytest.raises(errors.GpVisitNotConfirmed):
        pass_gp.close(outcome=ClosureOutcome.HANDED_OVER, reason="relais fait", actor=CASO, occurred_at=at(21))


def test_orientation_to_a_gp_needs_open_rights(pass_gp) -> None:
    with pytest.raises(errors.RightsNotOpen):
        pass_gp.orient_to_gp(orientation_id=uuid4(), gp_ref="mg-1", gp_commune="Rouen",
                             accepts_phone_interpreting=False, actor=CASO, occurred_at=at(1))
    pass_gp.open_coverage(scheme=CoverageScheme.URGENT_CARE, opened_on=on(0), expires_on=None, actor=PASS, occurred_at=at(1))
    with pytest.raises(errors.RightsNotOpen):  # soins urgents do not pay a GP
        pass_gp.orient_to_gp(orientation_id=uuid4(), gp_ref="mg-1", gp_commune="Rouen",
                             accepts_phone_interpreting=False, actor=CASO, occurred_at=at(1))


def test_a_person_who_went_to_the_gp_closes_the_loop_and_the_pathway(pass_gp) -> None:
    pass_gp.open_coverage(scheme=CoverageScheme.CSS, opened_on=on(0), expires_on=on(365), actor=PASS, occurred_at=at(0))
    orientation = uuid4()
    pass_gp.orient_to_gp(orientation_id=orientation, gp_ref="mg-2", gp_commune="Rouen",
                         accepts_phone_interpreting=False, actor=PASS, occurred_at=at(1))
    pass_gp.record_follow_up_call(orientation_id=orientation, reached=True, actor=PASS, occurred_at=at(10))
    pass_gp.record_gp_visit_outcome(orientation_id=orientation, outcome=GpVisitOutcome.WENT, reason=None,
                                    detail=None, actor=PASS, occurred_at=at(10))
    assert pass_gp.referrals[orientation].status is ReferralStatus.COMPLETED
    pass_gp.close(outcome=ClosureOutcome.HANDED_OVER, reason="MG déclaré", actor=CASO, occurred_at=at(11))
    assert pass_gp.is_closed


def test_not_going_to_the_gp_needs_a_reason(pass_gp) -> None:
    pass_gp.open_coverage(scheme=CoverageScheme.AME, opened_on=on(0), expires_on=on(365), actor=PASS, occurred_at=at(0))
    orientation = uuid4()
    pass_gp.orient_to_gp(orientation_id=orientation, gp_ref="mg-3", gp_commune="Rouen",
                         accepts_phone_interpreting=False, actor=PASS, occurred_at=at(1))
    with pytest.raises(errors.ReasonRequired) as refused:
        pass_gp.record_gp_visit_outcome(orientation_id=orientation, outcome=GpVisitOutcome.DID_NOT_GO,
                                        reason=None, detail=None, actor=PASS, occurred_at=at(5))
    assert refused.value.field == "reason"


# --- APPASSRA: Mr M., 75, Albanian asylum seeker in a CADA, cardiology without interpreter --

def test_cardiology_appointment_for_mr_m_is_refused_without_an_interpreter(pass_gp) -> None:
    join(pass_gp, CADA)
    pass_gp.record_interpreter_need(language="sq", actor=CADA, occurred_at=at(0))
    appointment = uuid4()
    pass_gp.book_appointment(
        appointment_id=appointment, with_agency="chu-rouen-cardiologie", service="consultation de cardiologie",
        scheduled_at=at(7, 5), interpreter_needed=True, language=None, actor=PASS, occurred_at=at(0, 2),
    )
    booked = pass_gp.appointments[appointment]
    assert booked.language == "sq" and booked.interpreter_needed and not booked.interpreter_booked
    # Nobody booked ISM: the cardiologist does not hold the consultation.
    pass_gp.cancel_appointment(appointment_id=appointment, reason="pas d'interprète : consultation non réalisée",
                               actor=CADA, occurred_at=at(7, 6))
    assert pass_gp.appointments[appointment].status is AppointmentStatus.CANCELLED
    # The next one is booked with ISM, and then held.
    second = uuid4()
    pass_gp.book_appointment(appointment_id=second, with_agency="chu-rouen-cardiologie", service="cardiologie",
                             scheduled_at=at(14, 5), interpreter_needed=True, language="sq", actor=PASS, occurred_at=at(8))
    pass_gp.book_interpreter(appointment_id=second, provider="ISM", actor=PASS, occurred_at=at(8))
    pass_gp.mark_appointment_seen(appointment_id=second, actor=PASS, occurred_at=at(14, 6))
    assert pass_gp.appointments[second].interpreter_booked
    assert pass_gp.appointments[second].status is AppointmentStatus.SEEN


def test_an_interpreter_cannot_be_booked_for_an_appointment_that_does_not_need_one(pass_gp) -> None:
    appointment = uuid4()
    pass_gp.book_appointment(appointment_id=appointment, with_agency="x", service="y", scheduled_at=at(3),
                             interpreter_needed=False, language=None, actor=PASS, occurred_at=at(0))
    with pytest.raises(errors.InterpreterNotNeeded):
        pass_gp.book_interpreter(appointment_id=appointment, provider="ISM", actor=PASS, occurred_at=at(1))


# --- SAS régional: three weeks at most --------------------------------------------------

def test_sas_stay_reaches_day_21_and_orientation_must_be_decided_by_then(sas) -> None:
    assert sas.exit_date == on(21) == sas.day_21
    assert sas.tb_screening_needed  # arrived from a high-endemicity country
    sas.assess_administrative_situation(status=AdministrativeStatus.ASYLUM_SEEKER, assessed_on=on(1), actor=ADOMA, occurred_at=at(1))
    sas.record_clat_screening(screened_on=on(6), follow_up_needed=False, actor=CLAT, occurred_at=at(6))
    assert sas.day_of_stay(on(21)) == 21
    # Day 21 comes with no orientation: the exit cannot be called a hand-over.
    with pytest.raises(errors.OrientationNotDecided):
        sas.close(outcome=ClosureOutcome.HANDED_OVER, reason="fin de séjour", actor=ADOMA, occurred_at=at(21))
    sas.decide_orientation(destination="HUDA Elbeuf", decided_on=on(22), actor=SIAO, occurred_at=at(22))
    assert not sas.orientation_decided_in_time
    sas.record_sas_exit(left_on=on(22), destination="HUDA Elbeuf", actor=ADOMA, occurred_at=at(22))
    sas.close(outcome=ClosureOutcome.HANDED_OVER, reason="orienté en HUDA", actor=ADOMA, occurred_at=at(22))
    assert sas.closure_outcome is ClosureOutcome.HANDED_OVER


def test_sas_orientation_decided_before_day_21_is_in_time(sas) -> None:
    sas.decide_orientation(destination="CADA Évreux", decided_on=on(15), actor=SIAO, occurred_at=at(15))
    assert sas.orientation_decided_in_time


def test_a_sas_screening_cannot_be_dated_before_arrival(sas) -> None:
    with pytest.raises(errors.DateBeforeStart) as refused:
        sas.record_clat_screening(screened_on=on(-3), follow_up_needed=False, actor=CLAT, occurred_at=at(1))
    assert refused.value.field == "screened_on"


# --- Sortie de détention ---------------------------------------------------------------

def test_release_from_prison_with_substitution_treatment_is_followed_after_release(detention) -> None:
    treatment = uuid4()
    detention.record_treatment_to_continue(treatment_id=treatment, kind=TreatmentKind.SUBSTITUTION,
                                           name="buprénorphine", prescribed_by=USMP.agency, actor=USMP, occurred_at=at(1))
    assert [t.treatment_id for t in detention.treatments_without_follow_up] == [treatment]
    before_release = uuid4()
    detention.book_appointment(appointment_id=before_release, with_agency=CSAPA.agency, service="CSAPA",
                               scheduled_at=at(10), interpreter_needed=False, language=None, actor=USMP, occurred_at=at(2))
    with pytest.raises(errors.FollowUpNotAfterExit):
        detention.plan_treatment_follow_up(treatment_id=treatment, appointment_id=before_release, actor=USMP, occurred_at=at(2))
    after_release = uuid4()
    detention.book_appointment(appointment_id=after_release, with_agency=CSAPA.agency, service="CSAPA - TSO",
                               scheduled_at=at(21), interpreter_needed=False, language=None, actor=USMP, occurred_at=at(2))
    detention.plan_treatment_follow_up(treatment_id=treatment, appointment_id=after_release, actor=USMP, occurred_at=at(2))
    detention.hand_over_treatment(treatment_id=treatment, to_agency=CSAPA.agency, actor=USMP, occurred_at=at(19))
    assert detention.treatments_without_follow_up == []
    detention.record_release(released_on=on(20), actor=SPIP, occurred_at=at(20))
    detention.mark_appointment_seen(appointment_id=after_release, actor=CSAPA, occurred_at=at(21, 1))
    assert detention.exited_on == on(20)
    assert detention.treatments[treatment].handed_over_to == CSAPA.agency


def test_release_without_housing_cannot_be_closed_as_housed(detention) -> None:
    request = uuid4()
    detention.request_housing(request_id=request, via_agency=SIAO.agency, needed_from=on(20), actor=SPIP, occurred_at=at(1))
    detention.offer_housing(request_id=request, place="CHRS Rouen", available_on=on(20), actor=SIAO, occurred_at=at(15))
    detention.decline_housing(request_id=request, reason="trop loin du CSAPA", actor=SPIP, occurred_at=at(16))
    detention.record_release(released_on=on(20), actor=SPIP, occurred_at=at(20))
    with pytest.raises(errors.HousingNotConfirmed):
        detention.close(outcome=ClosureOutcome.HOUSED, reason="sortie", actor=SPIP, occurred_at=at(20))
    detention.offer_housing(request_id=request, place="CHRS Le Havre", available_on=on(21), actor=SIAO, occurred_at=at(21))
    detention.confirm_housing(request_id=request, actor=SIAO, occurred_at=at(21))
    detention.close(outcome=ClosureOutcome.HOUSED, reason="hébergé en CHRS", actor=SPIP, occurred_at=at(22))
    assert detention.has_confirmed_housing and detention.is_closed


def test_a_release_date_cannot_move_after_the_release(detention) -> None:
    detention.schedule_release(release_date=on(18), actor=SPIP, occurred_at=at(3))
    assert detention.exit_date == on(18)
    detention.record_release(released_on=on(18), actor=SPIP, occurred_at=at(18))
    with pytest.raises(errors.ExitAlreadyRecorded):
        detention.schedule_release(release_date=on(25), actor=SPIP, occurred_at=at(19))


# --- Sortie de maternité ---------------------------------------------------------------

def test_maternity_discharge_with_a_newborn_is_handed_over_only_once_the_pmi_is_linked(maternity) -> None:
    maternity.register_newborn(newborn_ref="NN-0019", born_on=on(0), actor=MATERNITY, occurred_at=at(0, 3))
    request = uuid4()
    maternity.request_housing(request_id=request, via_agency=SIAO.agency, needed_from=on(4), actor=MATERNITY, occurred_at=at(1))
    maternity.offer_housing(request_id=request, place="CHRS mère-enfant", available_on=on(4), actor=SIAO, occurred_at=at(3))
    maternity.confirm_housing(request_id=request, actor=MATERNITY, occurred_at=at(3))
    maternity.record_discharge(discharged_on=on(4), actor=MATERNITY, occurred_at=at(4))
    with pytest.raises(errors.PmiNotLinked):
        maternity.close(outcome=ClosureOutcome.HANDED_OVER, reason="sortie", actor=MATERNITY, occurred_at=at(4))
    maternity.link_pmi(pmi_agency=PMI.agency, first_visit_on=on(8), actor=MATERNITY, occurred_at=at(4))
    assert PMI.agency in maternity.participants  # the PMI can now write to the pathway
    maternity.close(outcome=ClosureOutcome.HANDED_OVER, reason="PMI et CHRS en place", actor=PMI, occurred_at=at(8))
    assert maternity.is_closed


# --- Alerts (the risk engine acts as the "relais" system actor) ------------------------

def test_an_alert_for_exit_without_housing_is_raised_escalated_and_resolved(detention) -> None:
    alert = uuid4()
    detention.raise_alert(
        alert_id=alert, rule_id="exit-without-housing", subject="pathway", triggering_event_ids=["e-12"],
        owner_agency=SIAO.agency, suggested_action="Sortie dans 5 jours sans hébergement : contacter le SIAO.",
        severity=AlertSeverity.HIGH, actor=RISK, occurred_at=at(15),
    )
    detention.acknowledge_alert(alert_id=alert, actor=SIAO, occurred_at=at(15, 2))
    detention.escalate_alert(alert_id=alert, to_agency=DAC.agency, reason="aucune place", actor=SIAO, occurred_at=at(17))
    assert detention.open_alerts[0].escalated_to == DAC.agency
    detention.resolve_alert(alert_id=alert, reason="hébergement confirmé", actor=RISK, occurred_at=at(19))
    assert detention.open_alerts == []
