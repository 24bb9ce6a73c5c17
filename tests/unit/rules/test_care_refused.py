"""care-refused: the person refuses a proposed care — escalate to a case conference (EMPP/DAC)."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.rules import check_care_refused, next_deadline_care_refused, resolved_findings
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


def test_hospitalisation_refused_by_the_person_raises_care_refused_owned_by_the_dac() -> None:
    pathway = mdm_rouen(PASS, DAC, EMPP)
    referral = _hospitalisation_refused(pathway)

    [finding] = check_care_refused(pathway, at(5), ROUEN)

    assert finding.subject == f"refusal:referral:{referral}"
    assert finding.owner_agency == DAC.agency
    assert "organiser une synthèse (DAC/EMPP)" in finding.suggested_action
    assert next_deadline_care_refused(pathway, at(5), ROUEN) is None


def test_without_a_dac_in_the_pathway_the_empp_owns_it_then_the_territory_s_dac() -> None:
    with_empp = mdm_rouen(PASS, EMPP)
    _hospitalisation_refused(with_empp)
    assert check_care_refused(with_empp, at(5), ROUEN)[0].owner_agency == EMPP.agency
    alone = mdm_rouen(PASS)
    _hospitalisation_refused(alone)
    assert check_care_refused(alone, at(5), ROUEN)[0].owner_agency == "dac-rouen"


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
