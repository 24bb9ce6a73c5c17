"""care-refused: the person refuses a proposed care — escalate to a case conference (EMPP/DAC).

The fact is CareRefused (`record_care_refusal`); the reasons of cancelled appointments and
referrals are read only as a fallback."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain import errors
from domain.rules import check_care_refused, evaluate, next_deadline_care_refused, resolved_findings
from domain.rules.refusal import is_person_refusal
from domain.values import ReferralStatus
from tests.unit.rules.builders import (
    CARDIO, CASO, DAC, EMPP, PASS, ROUEN, at, mdm_rouen, on, paris, raise_alert_for,
)


def _hospitalisation_refused(pathway, day: float = 5):
    referral = uuid4()
    pathway.make_referral(referral_id=referral, to_agency="chu-rouen-psychiatrie", service="hospitalisation",
                          need_id=None, actor=PASS, occurred_at=at(day - 1))
    pathway.update_referral_status(referral_id=referral, status=ReferralStatus.CANCELLED,
                                   reason="La personne refuse l'hospitalisation", actor=PASS, occurred_at=at(day))
    return referral


def _refusal_recorded(pathway, day: float = 5, *, related_id=None, by=EMPP, care="hospitalisation en psychiatrie"):
    refusal = uuid4()
    pathway.record_care_refusal(refusal_id=refusal, care=care, proposed_by=by.agency,
                                reason="« Je ne veux pas être enfermé »", related_id=related_id,
                                actor=by, occurred_at=at(day))
    return refusal


def test_a_recorded_refusal_of_hospitalisation_raises_care_refused_owned_by_the_dac() -> None:
    pathway = mdm_rouen(PASS, DAC, EMPP)
    refusal = _refusal_recorded(pathway)

    [finding] = check_care_refused(pathway, at(5), ROUEN)

    assert finding.subject == f"refusal:{refusal}"
    assert finding.owner_agency == DAC.agency
    assert finding.suggested_action.startswith(
        f"La personne a refusé le {on(5):%d/%m} une prise en charge proposée : organiser une synthèse"
    )
    # The care, its agency and the person's words stay in the (medical) refusal: the DAC
    # coordinator reads the (social) alert and convenes the conference.
    assert "enfermé" not in finding.suggested_action
    assert "psychiatrie" not in finding.suggested_action and EMPP.agency not in finding.suggested_action
    assert [(f.fact, f.events) for f in finding.triggering_facts] == [("care_refused", ("CareRefused",))]
    assert next_deadline_care_refused(pathway, at(5), ROUEN) is None


def test_a_refusal_of_an_appointment_still_booked_raises_it_and_the_appointment_itself_does_not_count_as_taken_up() -> None:
    pathway = mdm_rouen(PASS, DAC, EMPP)
    appointment = uuid4()
    pathway.book_appointment(appointment_id=appointment, with_agency=EMPP.agency, service="hospitalisation",
                             scheduled_at=paris(on(10), 9), interpreter_needed=False, language=None,
                             actor=EMPP, occurred_at=at(1))
    _refusal_recorded(pathway, 3, related_id=appointment)
    assert len(check_care_refused(pathway, at(3), ROUEN)) == 1


def test_one_refusal_recorded_and_written_in_the_cancellation_raises_one_alert_only() -> None:
    pathway = mdm_rouen(PASS, DAC, EMPP)
    appointment = uuid4()
    pathway.book_appointment(appointment_id=appointment, with_agency=EMPP.agency, service="hospitalisation",
                             scheduled_at=paris(on(10), 9), interpreter_needed=False, language=None,
                             actor=EMPP, occurred_at=at(1))
    pathway.cancel_appointment(appointment_id=appointment, reason="La personne refuse l'hospitalisation",
                               actor=EMPP, occurred_at=at(3))
    refusal = _refusal_recorded(pathway, 3, related_id=appointment)

    assert [f.subject for f in evaluate(pathway, at(3), ROUEN) if f.rule_id == "care-refused"] == [f"refusal:{refusal}"]


def test_a_refusal_recorded_without_naming_the_appointment_still_covers_that_agency_s_cancellation() -> None:
    pathway = mdm_rouen(PASS, DAC, EMPP)
    _hospitalisation_refused(pathway)  # referral to chu-rouen-psychiatrie, cancelled: the person refuses
    refusal = _refusal_recorded(pathway, 5, by=EMPP)
    pathway_subjects = {f.subject for f in check_care_refused(pathway, at(5), ROUEN)}
    assert f"refusal:{refusal}" in pathway_subjects and len(pathway_subjects) == 2  # two agencies, two refusals

    other = mdm_rouen(PASS, DAC, EMPP)
    _hospitalisation_refused(other)
    covering = uuid4()
    other.record_care_refusal(refusal_id=covering, care="hospitalisation", proposed_by="chu-rouen-psychiatrie",
                              reason="refuse", related_id=None, actor=EMPP, occurred_at=at(5))
    assert [f.subject for f in check_care_refused(other, at(5), ROUEN)] == [f"refusal:{covering}"]


def test_a_case_conference_after_a_recorded_refusal_resolves_it() -> None:
    pathway = mdm_rouen(PASS, DAC, EMPP)
    _refusal_recorded(pathway, 5)
    [finding] = check_care_refused(pathway, at(5), ROUEN)
    raise_alert_for(pathway, finding, at(5))

    pathway.hold_case_conference(conference_id=uuid4(), agencies=[DAC.agency, EMPP.agency],
                                 decisions=["EMPP en maraude"], actor=DAC, occurred_at=at(8))

    [resolution] = resolved_findings(pathway.open_alerts, check_care_refused(pathway, at(8), ROUEN), pathway)
    assert resolution.reason == "Synthèse tenue."


def test_a_refusal_is_refused_without_the_person_s_words_or_with_an_unknown_appointment() -> None:
    pathway = mdm_rouen(PASS, DAC, EMPP)
    with pytest.raises(errors.ReasonRequired):
        pathway.record_care_refusal(refusal_id=uuid4(), care="hospitalisation", proposed_by=EMPP.agency, reason=" ",
                                    related_id=None, actor=EMPP, occurred_at=at(5))
    with pytest.raises(errors.UnknownRefusalSubject) as refused:
        pathway.record_care_refusal(refusal_id=uuid4(), care="hospitalisation", proposed_by=EMPP.agency,
                                    reason="ne veut pas", related_id=uuid4(), actor=EMPP, occurred_at=at(5))
    assert refused.value.field == "related_id"
    assert pathway.care_refusals == {}


def test_fallback_hospitalisation_refused_by_the_person_raises_care_refused_owned_by_the_dac() -> None:
    pathway = mdm_rouen(PASS, DAC, EMPP)
    referral = _hospitalisation_refused(pathway)

    [finding] = check_care_refused(pathway, at(5), ROUEN)

    assert finding.subject == f"refusal:referral:{referral}"
    assert finding.owner_agency == DAC.agency
    assert "organiser une synthèse avec les soignants du parcours" in finding.suggested_action
    assert next_deadline_care_refused(pathway, at(5), ROUEN) is None


def test_without_a_dac_in_the_pathway_the_empp_owns_it_then_the_lead_never_an_outsider() -> None:
    with_empp = mdm_rouen(PASS, EMPP)
    _hospitalisation_refused(with_empp)
    assert check_care_refused(with_empp, at(5), ROUEN)[0].owner_agency == EMPP.agency
    alone = mdm_rouen(PASS)
    _hospitalisation_refused(alone)
    assert check_care_refused(alone, at(5), ROUEN)[0].owner_agency == CASO.agency  # the lead convenes it


def test_the_case_conference_resolves_it() -> None:
    pathway = mdm_rouen(PASS, DAC, EMPP)
    _hospitalisation_refused(pathway)
    [finding] = check_care_refused(pathway, at(5), ROUEN)
    raise_alert_for(pathway, finding, at(5))

    pathway.hold_case_conference(conference_id=uuid4(), agencies=[DAC.agency, EMPP.agency, CASO.agency],
                                 decisions=["EMPP en maraude la semaine prochaine"], actor=DAC, occurred_at=at(9))

    assert check_care_refused(pathway, at(9), ROUEN) == []
    [resolution] = resolved_findings(pathway.open_alerts, [], pathway)
    assert resolution.reason == "Synthèse tenue."


def test_a_consultation_cancelled_by_the_service_is_not_a_refusal_of_the_person() -> None:
    pathway = mdm_rouen(PASS, CARDIO)
    appointment = uuid4()
    pathway.book_appointment(appointment_id=appointment, with_agency=CARDIO.agency, service="cardiologie",
                             scheduled_at=paris(on(10), 14, 30), interpreter_needed=False, language=None,
                             actor=CASO, occurred_at=at(1))
    pathway.cancel_appointment(appointment_id=appointment, reason="refus du cardiologue sans interprète",
                               actor=CARDIO, occurred_at=at(10))
    assert check_care_refused(pathway, at(10), ROUEN) == []


def test_the_person_coming_back_to_the_care_before_any_conference_raises_nothing_more() -> None:
    pathway = mdm_rouen(PASS, CARDIO)
    appointment = uuid4()
    pathway.book_appointment(appointment_id=appointment, with_agency=CARDIO.agency, service="cardiologie",
                             scheduled_at=paris(on(10), 14, 30), interpreter_needed=False, language=None,
                             actor=CASO, occurred_at=at(1))
    pathway.cancel_appointment(appointment_id=appointment, reason="le patient a refusé l'examen",
                               actor=CARDIO, occurred_at=at(3))
    assert len(check_care_refused(pathway, at(3), ROUEN)) == 1
    pathway.book_appointment(appointment_id=uuid4(), with_agency=CARDIO.agency, service="cardiologie",
                             scheduled_at=paris(on(20), 9), interpreter_needed=False, language=None,
                             actor=CASO, occurred_at=at(4))
    assert check_care_refused(pathway, at(4), ROUEN) == []


@pytest.mark.parametrize(("reason", "refusal"), [
    ("La personne refuse l'hospitalisation", True),
    ("refus de la patiente", True),
    ("patient refused admission", True),
    ("person_refused", True),
    ("refus de soins (AME) du cabinet", False),
    ("refus du cardiologue sans interprète", False),
    ("horaire ne convient pas", False),
    (None, False),
])
def test_only_a_refusal_by_the_person_counts(reason: str | None, refusal: bool) -> None:
    assert is_person_refusal(reason) is refusal
