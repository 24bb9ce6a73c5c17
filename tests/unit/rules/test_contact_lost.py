"""contact-lost: MdM Rouen — "changement ou absence de numéro de portable"."""

from __future__ import annotations

from uuid import uuid4

from domain.rules import check_contact_lost, next_deadline_contact_lost, resolved_findings
from domain.values import CoverageScheme, GpVisitOutcome, NotWentReason, PhoneStatus
from tests.unit.rules.builders import CASO, PASS, ROUEN, TerritorySettings, at, mdm_rouen, on, raise_alert_for


def _orientation(pathway):
    pathway.open_coverage(scheme=CoverageScheme.AME, opened_on=on(0), expires_on=on(365), actor=PASS, occurred_at=at(0))
    orientation = uuid4()
    pathway.orient_to_gp(orientation_id=orientation, gp_ref="mg-rouen-msp-3", gp_commune="Rouen",
                         accepts_phone_interpreting=True, actor=CASO, occurred_at=at(2))
    return orientation


def test_three_unanswered_follow_up_calls_raise_contact_lost_owned_by_the_caso() -> None:
    pathway = mdm_rouen()
    orientation = _orientation(pathway)
    for day in (9, 12):
        pathway.record_follow_up_call(orientation_id=orientation, reached=False, actor=CASO, occurred_at=at(day))
    assert check_contact_lost(pathway, at(12), ROUEN) == []

    pathway.record_follow_up_call(orientation_id=orientation, reached=False, actor=CASO, occurred_at=at(15))
    [finding] = check_contact_lost(pathway, at(15), ROUEN)

    assert finding.subject == "contact"
    assert finding.owner_agency == CASO.agency
    assert "3 tentatives de contact sans réponse" in finding.suggested_action
    assert finding.since == at(15)
    assert next_deadline_contact_lost(pathway, at(15), ROUEN) is None


def test_the_phone_number_known_to_have_changed_raises_contact_lost_at_once() -> None:
    pathway = mdm_rouen()
    orientation = _orientation(pathway)
    pathway.record_gp_visit_outcome(orientation_id=orientation, outcome=GpVisitOutcome.DID_NOT_GO,
                                    reason=NotWentReason.PHONE_CHANGED, detail=None, actor=CASO, occurred_at=at(20))
    [finding] = check_contact_lost(pathway, at(20), ROUEN)
    assert "le numéro de téléphone a changé" in finding.suggested_action


def test_recording_the_new_number_resolves_contact_lost() -> None:
    pathway = mdm_rouen()
    pathway.record_phone_status(status=PhoneStatus.CHANGED, actor=CASO, occurred_at=at(5))
    [finding] = check_contact_lost(pathway, at(5), ROUEN)
    raise_alert_for(pathway, finding, at(5))

    pathway.record_phone_status(status=PhoneStatus.VALID, actor=CASO, occurred_at=at(8))

    assert check_contact_lost(pathway, at(8), ROUEN) == []
    [resolution] = resolved_findings(pathway.open_alerts, [], pathway)
    assert resolution.reason == "Nouveau numéro de téléphone enregistré."


def test_reaching_the_person_another_way_after_the_number_changed_resolves_it() -> None:
    pathway = mdm_rouen()
    pathway.record_phone_status(status=PhoneStatus.LOST, actor=CASO, occurred_at=at(5))
    assert len(check_contact_lost(pathway, at(5), ROUEN)) == 1
    pathway.record_contact_attempt(reached=True, channel="maraude", actor=CASO, occurred_at=at(7))
    assert check_contact_lost(pathway, at(7), ROUEN) == []


def test_two_missed_calls_then_an_answer_raise_nothing() -> None:
    pathway = mdm_rouen()
    orientation = _orientation(pathway)
    for day, reached in ((9, False), (12, False), (14, True), (20, False)):
        pathway.record_follow_up_call(orientation_id=orientation, reached=reached, actor=CASO, occurred_at=at(day))
    assert check_contact_lost(pathway, at(30), ROUEN) == []
    assert len(check_contact_lost(pathway, at(30), TerritorySettings(contact_failed_attempts=1))) == 1
