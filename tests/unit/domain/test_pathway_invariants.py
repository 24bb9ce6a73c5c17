"""Invariants shared by every pathway kind."""

from __future__ import annotations

import inspect
from uuid import uuid4

import pytest

from domain import PATHWAY_CLASSES, errors
from domain.pathway import Pathway
from domain.values import (
    AlertSeverity,
    AlertStatus,
    ClosureOutcome,
    CoverageScheme,
    InformationCategory,
    NeedCategory,
    NeedStatus,
    ParticipantRole,
    PhoneStatus,
    ReferralOutcome,
    ReferralStatus,
)
from tests.unit.domain.conftest import CASO, DAC, PASS, RISK, SIAO, at, on


def _raise(pathway, alert_id=None, rule_id="contact-lost", subject="pathway") -> None:
    pathway.raise_alert(
        alert_id=alert_id or uuid4(), rule_id=rule_id, subject=subject, triggering_event_ids=["e-1", "e-2"],
        owner_agency=CASO.agency, suggested_action="Relancer par un autre canal (maraude, CADA).",
        severity=AlertSeverity.MEDIUM, actor=RISK, occurred_at=at(3),
    )


def test_a_closed_pathway_accepts_nothing_but_reopening(pass_gp) -> None:
    pass_gp.close(outcome=ClosureOutcome.LOST_TO_FOLLOW_UP, reason="plus de nouvelles", actor=CASO, occurred_at=at(5))
    with pytest.raises(errors.PathwayClosed):
        pass_gp.record_need(need_id=uuid4(), category=NeedCategory.CARE, description="x", actor=CASO, occurred_at=at(6))
    with pytest.raises(errors.PathwayClosed):
        _raise(pass_gp)
    pass_gp.reopen(reason="la personne revient au CASO", actor=CASO, occurred_at=at(30))
    assert not pass_gp.is_closed and pass_gp.closure_outcome is None
    pass_gp.record_need(need_id=uuid4(), category=NeedCategory.CARE, description="x", actor=CASO, occurred_at=at(31))


def test_reopening_a_pathway_that_is_not_closed_is_refused(pass_gp) -> None:
    with pytest.raises(errors.PathwayNotClosed):
        pass_gp.reopen(reason="?", actor=CASO, occurred_at=at(1))


def test_closing_needs_a_reason(pass_gp) -> None:
    with pytest.raises(errors.ReasonRequired):
        pass_gp.close(outcome=ClosureOutcome.OTHER, reason=" ", actor=CASO, occurred_at=at(1))


def test_an_agency_not_on_the_pathway_cannot_write_to_it(pass_gp) -> None:
    with pytest.raises(errors.AgencyNotParticipating) as refused:
        pass_gp.record_phone_status(status=PhoneStatus.LOST, actor=SIAO, occurred_at=at(1))
    assert refused.value.field == "actor.agency"
    pass_gp.add_agency(agency=SIAO.agency, role=ParticipantRole.HOUSING, actor=CASO, occurred_at=at(1))
    pass_gp.record_phone_status(status=PhoneStatus.LOST, actor=SIAO, occurred_at=at(2))
    assert pass_gp.contact.phone is PhoneStatus.LOST


def test_the_lead_agency_cannot_leave_and_others_leave_with_a_reason(pass_gp) -> None:
    with pytest.raises(errors.LeadAgencyCannotLeave):
        pass_gp.remove_agency(agency=CASO.agency, reason="x", actor=CASO, occurred_at=at(1))
    pass_gp.remove_agency(agency=DAC.agency, reason="situation simplifiée", actor=CASO, occurred_at=at(1))
    assert DAC.agency not in pass_gp.participants


def test_consent_is_granted_and_withdrawn_by_agency_and_category(pass_gp) -> None:
    pass_gp.grant_consent(agency=SIAO.agency, categories=[InformationCategory.SOCIAL, InformationCategory.IDENTITY], collected_by="p-recueil", informed_by="oral",
                          actor=CASO, occurred_at=at(1))
    assert pass_gp.consent_covers(SIAO.agency, InformationCategory.SOCIAL)
    assert not pass_gp.consent_covers(SIAO.agency, InformationCategory.MEDICAL)
    pass_gp.withdraw_consent(agency=SIAO.agency, categories=[InformationCategory.SOCIAL], collected_by="p-recueil", informed_by="oral", actor=CASO, occurred_at=at(2))
    assert pass_gp.consents[SIAO.agency] == [InformationCategory.IDENTITY]
    with pytest.raises(errors.ConsentNotGranted):
        pass_gp.withdraw_consent(agency=SIAO.agency, categories=[InformationCategory.MEDICAL], collected_by="p-recueil", informed_by="oral", actor=CASO, occurred_at=at(3))


def test_needs_are_recorded_open_and_met_once(pass_gp) -> None:
    need = uuid4()
    pass_gp.record_need(need_id=need, category=NeedCategory.HOUSING, description="à la rue", actor=CASO, occurred_at=at(1))
    assert [n.need_id for n in pass_gp.open_needs] == [need]
    pass_gp.mark_need_met(need_id=need, actor=CASO, occurred_at=at(2))
    assert pass_gp.needs[need].status is NeedStatus.MET
    with pytest.raises(errors.NeedAlreadyMet):
        pass_gp.mark_need_met(need_id=need, actor=CASO, occurred_at=at(3))
    with pytest.raises(errors.DuplicateIdentifier) as refused:
        pass_gp.record_need(need_id=need, category=NeedCategory.CARE, description="x", actor=CASO, occurred_at=at(3))
    assert refused.value.field == "need_id"


def test_a_referral_follows_fhir_task_statuses_and_a_rejection_needs_a_reason(pass_gp) -> None:
    referral = uuid4()
    pass_gp.make_referral(referral_id=referral, to_agency="csapa-rouen", service="addictologie", need_id=None,
                          actor=CASO, occurred_at=at(1))
    assert pass_gp.referrals[referral].status is ReferralStatus.REQUESTED
    with pytest.raises(errors.ReasonRequired):
        pass_gp.update_referral_status(referral_id=referral, status=ReferralStatus.REJECTED, reason=None, actor=CASO, occurred_at=at(2))
    pass_gp.update_referral_status(referral_id=referral, status=ReferralStatus.ACCEPTED, reason=None, actor=CASO, occurred_at=at(2))
    pass_gp.update_referral_status(referral_id=referral, status=ReferralStatus.ON_HOLD, reason=None, actor=CASO, occurred_at=at(3))
    pass_gp.record_referral_outcome(referral_id=referral, outcome=ReferralOutcome.HONOURED, reason=None, actor=CASO, occurred_at=at(4))
    assert pass_gp.referrals[referral].status is ReferralStatus.COMPLETED
    with pytest.raises(errors.ReferralTransitionNotAllowed):
        pass_gp.update_referral_status(referral_id=referral, status=ReferralStatus.IN_PROGRESS, reason=None, actor=CASO, occurred_at=at(5))


def test_a_referral_not_honoured_needs_a_reason(pass_gp) -> None:
    referral = uuid4()
    pass_gp.make_referral(referral_id=referral, to_agency="cmp", service="psychiatrie", need_id=None, actor=CASO, occurred_at=at(1))
    with pytest.raises(errors.ReasonRequired):
        pass_gp.record_referral_outcome(referral_id=referral, outcome=ReferralOutcome.NOT_HONOURED, reason=None, actor=CASO, occurred_at=at(2))


def test_an_appointment_cannot_be_attended_before_it_is_scheduled(pass_gp) -> None:
    appointment = uuid4()
    with pytest.raises(errors.AppointmentNotScheduled):
        pass_gp.mark_appointment_seen(appointment_id=appointment, actor=PASS, occurred_at=at(2))
    pass_gp.book_appointment(appointment_id=appointment, with_agency="chu", service="bilan", scheduled_at=at(5),
                             interpreter_needed=False, language=None, actor=PASS, occurred_at=at(1))
    with pytest.raises(errors.AppointmentNotYetDue):
        pass_gp.mark_appointment_missed(appointment_id=appointment, actor=PASS, occurred_at=at(4))
    pass_gp.mark_appointment_missed(appointment_id=appointment, actor=PASS, occurred_at=at(5, 1))
    with pytest.raises(errors.AppointmentAlreadyConcluded):
        pass_gp.mark_appointment_seen(appointment_id=appointment, actor=PASS, occurred_at=at(6))


def test_housing_must_be_offered_before_it_is_confirmed(pass_gp) -> None:
    pass_gp.add_agency(agency=SIAO.agency, role=ParticipantRole.HOUSING, actor=CASO, occurred_at=at(0))
    request = uuid4()
    pass_gp.request_housing(request_id=request, via_agency=SIAO.agency, needed_from=None, actor=CASO, occurred_at=at(1))
    with pytest.raises(errors.HousingNotOffered):
        pass_gp.confirm_housing(request_id=request, actor=SIAO, occurred_at=at(2))
    with pytest.raises(errors.UnknownHousingRequest):
        pass_gp.confirm_housing(request_id=uuid4(), actor=SIAO, occurred_at=at(2))


def test_renewing_coverage_needs_open_rights_and_is_recorded(pass_gp) -> None:
    with pytest.raises(errors.CoverageNotOpen):
        pass_gp.file_coverage_renewal(scheme=CoverageScheme.AME, filed_on=on(1), actor=PASS, occurred_at=at(1))
    pass_gp.apply_for_coverage(scheme=CoverageScheme.AME, applied_on=on(0), actor=PASS, occurred_at=at(0))
    assert not pass_gp.has_open_coverage
    pass_gp.open_coverage(scheme=CoverageScheme.AME, opened_on=on(10), expires_on=on(375), actor=PASS, occurred_at=at(10))
    pass_gp.file_coverage_renewal(scheme=CoverageScheme.AME, filed_on=on(350), actor=PASS, occurred_at=at(350))
    assert pass_gp.coverage[CoverageScheme.AME].renewal_filed_on == on(350)
    with pytest.raises(errors.InvalidCoveragePeriod):
        pass_gp.open_coverage(scheme=CoverageScheme.CSS, opened_on=on(10), expires_on=on(5), actor=PASS, occurred_at=at(10))


def test_failed_contact_attempts_count_until_the_person_is_reached(pass_gp) -> None:
    for day in (1, 2, 3):
        pass_gp.record_contact_attempt(reached=False, channel="phone", actor=CASO, occurred_at=at(day))
    assert pass_gp.contact.failed_attempts == 3
    pass_gp.record_contact_attempt(reached=True, channel="maraude", actor=CASO, occurred_at=at(4))
    assert pass_gp.contact.failed_attempts == 0 and pass_gp.contact.last_reached_at == at(4)


def test_a_case_conference_assigns_actions_to_participating_agencies(pass_gp) -> None:
    conference, action = uuid4(), uuid4()
    pass_gp.hold_case_conference(conference_id=conference, agencies=[CASO.agency, DAC.agency, PASS.agency],
                                 decisions=["proposer une hospitalisation via l'EMPP"], actor=DAC, occurred_at=at(3))
    with pytest.raises(errors.AgencyNotParticipating) as refused:
        pass_gp.assign_action(conference_id=conference, action_id=action, owner_agency="empp-rouen",
                              description="visite", due_on=on(7), actor=DAC, occurred_at=at(3))
    assert refused.value.field == "owner_agency"
    pass_gp.assign_action(conference_id=conference, action_id=action, owner_agency=PASS.agency,
                          description="bilan médical", due_on=on(7), actor=DAC, occurred_at=at(3))
    pass_gp.complete_action(action_id=action, actor=PASS, occurred_at=at(6))
    assert pass_gp.actions[action].done
    assert pass_gp.case_conferences[conference].action_ids == [action]
    with pytest.raises(errors.ActionAlreadyDone):
        pass_gp.complete_action(action_id=action, actor=PASS, occurred_at=at(7))


def test_the_same_rule_and_subject_cannot_raise_two_open_alerts(pass_gp) -> None:
    _raise(pass_gp, subject="pathway")
    with pytest.raises(errors.AlertAlreadyOpen):
        _raise(pass_gp, subject="pathway")
    _raise(pass_gp, subject=f"appointment:{uuid4()}")  # another subject is another alert
    assert len(pass_gp.open_alerts) == 2


def test_an_alert_can_be_raised_again_once_resolved(pass_gp) -> None:
    first = uuid4()
    _raise(pass_gp, alert_id=first)
    pass_gp.resolve_alert(alert_id=first, reason="personne jointe", actor=CASO, occurred_at=at(4))
    assert pass_gp.alerts[first].status is AlertStatus.RESOLVED
    with pytest.raises(errors.AlertNotOpen):
        pass_gp.acknowledge_alert(alert_id=first, actor=CASO, occurred_at=at(5))
    _raise(pass_gp)
    assert len(pass_gp.open_alerts) == 1


def test_every_event_records_who_acted_and_when_the_fact_happened(pass_gp) -> None:
    pass_gp.record_contact_attempt(reached=False, channel="phone", actor=PASS, occurred_at=at(2))
    for recorded in pass_gp.pending_events:
        assert recorded.actor.agency and recorded.actor.professional and recorded.actor.role
        assert recorded.occurred_at.tzinfo is not None
        assert recorded.timestamp.tzinfo is not None  # when it was recorded (the library's)
    last = pass_gp.pending_events[-1]
    assert (last.actor, last.occurred_at) == (PASS, at(2))


def test_every_event_class_of_every_kind_declares_actor_and_occurred_at() -> None:
    for cls in PATHWAY_CLASSES.values():
        for name, member in inspect.getmembers(cls, inspect.isclass):
            if issubclass(member, Pathway.Event):
                fields = member.__dataclass_fields__
                assert "actor" in fields and "occurred_at" in fields, f"{cls.__name__}.{name}"


def test_a_late_entry_does_not_move_the_last_activity_back(pass_gp) -> None:
    pass_gp.record_contact_attempt(reached=True, channel="phone", actor=CASO, occurred_at=at(10))
    pass_gp.record_contact_attempt(reached=False, channel="phone", actor=CASO, occurred_at=at(4))  # entered late
    assert pass_gp.last_activity_at == at(10)


def test_alerts_are_activity_but_not_progress_on_the_pathway(pass_gp) -> None:
    pass_gp.record_contact_attempt(reached=False, channel="phone", actor=CASO, occurred_at=at(2))
    alert = uuid4()
    _raise(pass_gp, alert_id=alert)  # at(3)
    pass_gp.acknowledge_alert(alert_id=alert, actor=CASO, occurred_at=at(4))
    assert pass_gp.last_activity_at == at(4)
    assert pass_gp.last_progress_at == at(2)
    pass_gp.add_agency(agency=SIAO.agency, role=ParticipantRole.HOUSING, actor=CASO, occurred_at=at(5))
    assert pass_gp.last_progress_at == at(5)
