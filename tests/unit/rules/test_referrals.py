"""referral-unverified and referral-declined: the closed loop of the MdM Rouen orientations."""

from __future__ import annotations

from uuid import uuid4

from domain.rules import (
    check_referral_declined,
    check_referral_unverified,
    next_deadline_referral_declined,
    next_deadline_referral_unverified,
    resolved_findings,
)
from domain.values import AlertSeverity, CoverageScheme, GpVisitOutcome, NeedCategory, NotWentReason, ReferralStatus
from tests.unit.rules.builders import (
    CASO, CSAPA, MICRO, PASS, ROUEN, SPIP, TerritorySettings, at, mdm_rouen, on, raise_alert_for, release,
)


def _oriented(pathway, day: float = 2, gp: str = "mg-rouen-msp-3"):
    if not pathway.rights_open:
        pathway.open_coverage(scheme=CoverageScheme.AME, opened_on=on(0), expires_on=on(365), actor=PASS, occurred_at=at(0))
    orientation = uuid4()
    pathway.orient_to_gp(orientation_id=orientation, gp_ref=gp, gp_commune="Rouen",
                         accepts_phone_interpreting=True, actor=CASO, occurred_at=at(day))
    return orientation


# --- referral-unverified -------------------------------------------------------------------

def test_gp_orientation_without_outcome_after_fourteen_days_raises_referral_unverified_owned_by_the_caso() -> None:
    pathway = mdm_rouen()
    orientation = _oriented(pathway, day=2)

    assert check_referral_unverified(pathway, at(16) - MICRO, ROUEN) == []
    assert next_deadline_referral_unverified(pathway, at(2), ROUEN) == at(16)
    [finding] = check_referral_unverified(pathway, at(16), ROUEN)

    assert finding.subject == f"referral:{orientation}"
    assert finding.owner_agency == CASO.agency
    assert finding.severity is AlertSeverity.MEDIUM
    assert "mg-rouen-msp-3" in finding.suggested_action and "orientation du 04/03" in finding.suggested_action


def test_recording_that_the_person_went_resolves_the_unverified_referral() -> None:
    pathway = mdm_rouen()
    orientation = _oriented(pathway)
    [finding] = check_referral_unverified(pathway, at(17), ROUEN)
    raise_alert_for(pathway, finding, at(17))

    pathway.record_follow_up_call(orientation_id=orientation, reached=True, actor=CASO, occurred_at=at(18))
    pathway.record_gp_visit_outcome(orientation_id=orientation, outcome=GpVisitOutcome.WENT, reason=None,
                                    detail=None, actor=CASO, occurred_at=at(18))

    assert check_referral_unverified(pathway, at(18), ROUEN) == []
    [resolution] = resolved_findings(pathway.open_alerts, [], pathway)
    assert resolution.reason == "Orientation honorée."


def test_outcome_recorded_within_the_delay_raises_nothing() -> None:
    pathway = mdm_rouen()
    orientation = _oriented(pathway)
    pathway.record_gp_visit_outcome(orientation_id=orientation, outcome=GpVisitOutcome.WENT, reason=None,
                                    detail=None, actor=CASO, occurred_at=at(9))
    assert check_referral_unverified(pathway, at(30), ROUEN) == []
    assert next_deadline_referral_unverified(pathway, at(9), ROUEN) is None


def test_an_accepted_referral_is_still_unverified_until_its_outcome_is_recorded() -> None:
    pathway = release(25)
    referral = uuid4()
    pathway.make_referral(referral_id=referral, to_agency=CSAPA.agency, service="suivi addictologie",
                          need_id=None, actor=SPIP, occurred_at=at(1))
    pathway.update_referral_status(referral_id=referral, status=ReferralStatus.ACCEPTED, reason=None,
                                   actor=CSAPA, occurred_at=at(3))
    [finding] = check_referral_unverified(pathway, at(15), ROUEN)
    assert finding.owner_agency == SPIP.agency
    assert check_referral_unverified(pathway, at(15), TerritorySettings(referral_unverified_days=21)) == []


# --- referral-declined ---------------------------------------------------------------------

def test_gp_no_longer_taking_patients_raises_referral_declined_owned_by_the_caso() -> None:
    pathway = mdm_rouen()
    orientation = _oriented(pathway)
    pathway.record_gp_visit_outcome(orientation_id=orientation, outcome=GpVisitOutcome.DID_NOT_GO,
                                    reason=NotWentReason.GP_NOT_TAKING_PATIENTS, detail=None,
                                    actor=CASO, occurred_at=at(10))

    [finding] = check_referral_declined(pathway, at(10), ROUEN)

    assert finding.subject == f"referral:{orientation}"
    assert finding.owner_agency == CASO.agency
    assert finding.severity is AlertSeverity.HIGH
    assert finding.suggested_action.startswith("Nouvelle orientation nécessaire")
    assert "ne prend plus de nouveaux patients" in finding.suggested_action
    assert next_deadline_referral_declined(pathway, at(10), ROUEN) is None


def test_a_new_orientation_to_another_gp_resolves_the_declined_referral() -> None:
    pathway = mdm_rouen()
    orientation = _oriented(pathway)
    pathway.record_gp_visit_outcome(orientation_id=orientation, outcome=GpVisitOutcome.DID_NOT_GO,
                                    reason=NotWentReason.GP_NOT_TAKING_PATIENTS, detail=None,
                                    actor=CASO, occurred_at=at(10))
    [finding] = check_referral_declined(pathway, at(10), ROUEN)
    raise_alert_for(pathway, finding, at(10))

    _oriented(pathway, day=11, gp="mg-sotteville-2")

    assert check_referral_declined(pathway, at(11), ROUEN) == []
    [resolution] = resolved_findings(pathway.open_alerts, [], pathway)
    assert resolution.reason == "Nouvelle orientation faite ou besoin couvert."


def test_a_service_rejecting_a_referral_needs_a_new_orientation_until_the_need_is_met() -> None:
    pathway = release(25)
    need = uuid4()
    pathway.record_need(need_id=need, category=NeedCategory.ADDICTION, description="TSO", actor=SPIP, occurred_at=at(0))
    referral = uuid4()
    pathway.make_referral(referral_id=referral, to_agency=CSAPA.agency, service="suivi addictologie",
                          need_id=need, actor=SPIP, occurred_at=at(1))
    pathway.update_referral_status(referral_id=referral, status=ReferralStatus.REJECTED, reason="file active saturée",
                                   actor=CSAPA, occurred_at=at(2))
    [finding] = check_referral_declined(pathway, at(2), ROUEN)
    assert "file active saturée" in finding.suggested_action and finding.owner_agency == SPIP.agency

    pathway.mark_need_met(need_id=need, actor=SPIP, occurred_at=at(5))
    assert check_referral_declined(pathway, at(5), ROUEN) == []


def test_a_person_who_did_not_find_the_address_is_not_a_declined_referral() -> None:
    pathway = mdm_rouen()
    orientation = _oriented(pathway)
    pathway.update_referral_status(referral_id=orientation, status=ReferralStatus.ACCEPTED, reason=None,
                                   actor=CASO, occurred_at=at(3))
    assert check_referral_declined(pathway, at(3), ROUEN) == []
    pathway.record_gp_visit_outcome(orientation_id=orientation, outcome=GpVisitOutcome.DID_NOT_GO,
                                    reason=NotWentReason.ADDRESS_NOT_FOUND, detail="pas de GPS",
                                    actor=CASO, occurred_at=at(10))
    assert check_referral_declined(pathway, at(10), ROUEN) == []
