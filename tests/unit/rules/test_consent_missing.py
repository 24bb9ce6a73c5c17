"""consent-missing: an agency needed for the next step is not covered by the person's consent."""

from __future__ import annotations

from uuid import uuid4

from domain.rules import check_consent_missing, next_deadline_consent_missing, resolved_findings
from domain.values import InformationCategory
from tests.unit.rules.builders import CSAPA, ROUEN, SIAO, SPIP, USMP, at, keys, on, raise_alert_for, release

RULE = "consent-missing"


def test_the_siao_joining_without_the_person_s_consent_raises_consent_missing_owned_by_the_spip() -> None:
    pathway = release(25, USMP)
    pathway.add_agency(agency=SIAO.agency, role="housing", actor=SPIP, occurred_at=at(1))

    [finding] = check_consent_missing(pathway, at(1), ROUEN)

    assert finding.subject == f"consent:{SIAO.agency}"
    assert finding.owner_agency == SPIP.agency
    assert finding.suggested_action.startswith("Recueillir l'accord de la personne pour partager")
    assert next_deadline_consent_missing(pathway, at(1), ROUEN) is None


def test_a_referral_and_a_housing_request_need_consent_for_their_receiving_agencies() -> None:
    pathway = release(25, USMP)
    pathway.make_referral(referral_id=uuid4(), to_agency=CSAPA.agency, service="TSO", need_id=None,
                          actor=SPIP, occurred_at=at(1))
    pathway.request_housing(request_id=uuid4(), via_agency=SIAO.agency, needed_from=on(25), actor=SPIP, occurred_at=at(1))
    assert keys(check_consent_missing(pathway, at(1), ROUEN)) == {
        (RULE, f"consent:{CSAPA.agency}"), (RULE, f"consent:{SIAO.agency}"),
    }


def test_granting_consent_resolves_it() -> None:
    pathway = release(25, USMP)
    pathway.add_agency(agency=SIAO.agency, role="housing", actor=SPIP, occurred_at=at(1))
    [finding] = check_consent_missing(pathway, at(1), ROUEN)
    raise_alert_for(pathway, finding, at(1))

    pathway.grant_consent(agency=SIAO.agency, categories=[InformationCategory.SOCIAL], collected_by="p-recueil", informed_by="oral", actor=SPIP, occurred_at=at(2))

    assert check_consent_missing(pathway, at(2), ROUEN) == []
    [resolution] = resolved_findings(pathway.open_alerts, [], pathway)
    assert resolution.reason == f"Consentement recueilli pour {SIAO.agency}."


def test_the_action_and_the_resolution_name_the_agency_by_its_display_name_when_the_settings_have_it() -> None:
    named = ROUEN.model_copy(update={"agency_names": {SIAO.agency: "SIAO 76"}})
    pathway = release(25, USMP)
    pathway.add_agency(agency=SIAO.agency, role="housing", actor=SPIP, occurred_at=at(1))
    [finding] = check_consent_missing(pathway, at(1), named)
    raise_alert_for(pathway, finding, at(1))
    pathway.grant_consent(agency=SIAO.agency, categories=[InformationCategory.SOCIAL], collected_by="p-recueil", informed_by="oral", actor=SPIP, occurred_at=at(2))
    [resolution] = resolved_findings(pathway.open_alerts, [], pathway, named.agency_names)

    assert "partager les informations utiles avec SIAO 76," in finding.suggested_action
    assert resolution.reason == "Consentement recueilli pour SIAO 76."


def test_consent_given_before_the_agency_joins_raises_nothing() -> None:
    pathway = release(25)  # the builder records consent before each agency joins
    assert check_consent_missing(pathway, at(1), ROUEN) == []


def test_withdrawing_consent_raises_it_again() -> None:
    pathway = release(25)
    pathway.withdraw_consent(agency=CSAPA.agency, categories=["social", "medical"], collected_by="p-recueil", informed_by="oral", actor=SPIP, occurred_at=at(3))
    assert keys(check_consent_missing(pathway, at(3), ROUEN)) == {(RULE, f"consent:{CSAPA.agency}")}
