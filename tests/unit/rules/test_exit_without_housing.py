"""exit-without-housing: an exit (release, discharge, SAS day 21) within N days, no housing confirmed."""

from __future__ import annotations

from uuid import uuid4

from domain.rules import (
    TerritorySettings,
    check_exit_without_housing,
    next_deadline_exit_without_housing,
    resolved_findings,
)
from domain.values import AlertSeverity
from tests.unit.rules.builders import (
    MICRO, ROUEN, SIAO, SPIP, at, maternity_discharge, on, paris_midnight, raise_alert_for, release, sas_arrival,
    ADOMA, MATERNITY,
)

RULE = "exit-without-housing"


def test_release_in_ten_days_without_housing_raises_exit_without_housing_owned_by_siao() -> None:
    pathway = release(25)
    pathway.request_housing(request_id=uuid4(), via_agency=SIAO.agency, needed_from=on(25), actor=SPIP, occurred_at=at(1))

    now = at(15)  # release on day 25: ten days to go
    [finding] = check_exit_without_housing(pathway, now, ROUEN)

    assert finding.rule_id == RULE and finding.subject == "exit"
    assert finding.owner_agency == "siao-76"
    assert finding.suggested_action.startswith("Confirmer une solution d'hébergement avec le siao-76 avant la sortie")
    assert on(25).strftime("%d/%m") in finding.suggested_action
    assert finding.severity is AlertSeverity.MEDIUM
    assert finding.deadline == paris_midnight(on(25))
    assert {f.fact for f in finding.triggering_facts} >= {"exit_date", "housing_requested"}


def test_the_housing_alert_starts_at_midnight_fifteen_days_before_the_release_and_not_a_moment_earlier() -> None:
    pathway = release(25)
    threshold = paris_midnight(on(10))

    assert check_exit_without_housing(pathway, threshold - MICRO, ROUEN) == []
    assert next_deadline_exit_without_housing(pathway, at(1), ROUEN) == threshold
    assert len(check_exit_without_housing(pathway, threshold, ROUEN)) == 1
    assert next_deadline_exit_without_housing(pathway, threshold, ROUEN) is None


def test_without_any_housing_request_the_lead_agency_owns_filing_it_with_the_siao() -> None:
    pathway = release(25, SIAO)
    pathway.remove_agency(agency=SIAO.agency, reason="pas encore saisi", actor=SPIP, occurred_at=at(1))

    [finding] = check_exit_without_housing(pathway, at(20), ROUEN)

    assert finding.owner_agency == SPIP.agency
    assert finding.suggested_action.startswith("Déposer une demande d'hébergement auprès du siao-76")


def test_confirmed_housing_resolves_the_alert_and_names_the_place() -> None:
    pathway = release(25)
    request = uuid4()
    pathway.request_housing(request_id=request, via_agency=SIAO.agency, needed_from=on(25), actor=SPIP, occurred_at=at(1))
    [finding] = check_exit_without_housing(pathway, at(15), ROUEN)
    raise_alert_for(pathway, finding, at(15))

    pathway.offer_housing(request_id=request, place="CHRS Emmaüs Rouen", available_on=on(25), actor=SIAO, occurred_at=at(17))
    still = check_exit_without_housing(pathway, at(17), ROUEN)
    assert [f.suggested_action.startswith("Confirmer la proposition d'hébergement (CHRS Emmaüs Rouen)") for f in still] == [True]
    pathway.confirm_housing(request_id=request, actor=SPIP, occurred_at=at(18))

    assert check_exit_without_housing(pathway, at(18), ROUEN) == []
    [resolution] = resolved_findings(pathway.open_alerts, [], pathway)
    assert resolution.rule_id == RULE and resolution.subject == "exit"
    assert resolution.reason == "Hébergement confirmé (CHRS Emmaüs Rouen)."


def test_housing_confirmed_before_the_window_raises_nothing_and_sets_no_deadline() -> None:
    pathway = release(25)
    request = uuid4()
    pathway.request_housing(request_id=request, via_agency=SIAO.agency, needed_from=on(25), actor=SPIP, occurred_at=at(1))
    pathway.offer_housing(request_id=request, place="CHRS", available_on=on(25), actor=SIAO, occurred_at=at(3))
    pathway.confirm_housing(request_id=request, actor=SPIP, occurred_at=at(4))

    for day in (15, 22, 24, 30):
        assert check_exit_without_housing(pathway, at(day), ROUEN) == []
    assert next_deadline_exit_without_housing(pathway, at(4), ROUEN) is None


def test_severity_rises_as_the_release_comes_and_is_critical_once_out_without_housing() -> None:
    pathway = release(25)
    assert check_exit_without_housing(pathway, at(19), ROUEN)[0].severity is AlertSeverity.HIGH
    assert check_exit_without_housing(pathway, at(23), ROUEN)[0].severity is AlertSeverity.CRITICAL
    pathway.record_release(released_on=on(25), actor=SPIP, occurred_at=at(25))
    [finding] = check_exit_without_housing(pathway, at(26), ROUEN)
    assert finding.severity is AlertSeverity.CRITICAL
    assert finding.suggested_action.startswith("Sortie le")


def test_thresholds_differ_by_territory() -> None:
    pathway = release(25)
    early = TerritorySettings(territory="44", exit_without_housing_days=30)

    assert check_exit_without_housing(pathway, at(2), ROUEN) == []
    assert len(check_exit_without_housing(pathway, at(2), early)) == 1


def test_sas_day_21_without_orientation_raises_and_an_orientation_decided_in_time_does_not() -> None:
    pathway = sas_arrival(False)
    [finding] = check_exit_without_housing(pathway, at(10), ROUEN)
    assert "fin du séjour au SAS" in finding.suggested_action
    assert finding.deadline == paris_midnight(on(21))

    pathway.decide_orientation(destination="CADA de Cherbourg", decided_on=on(8), actor=ADOMA, occurred_at=at(8))
    assert check_exit_without_housing(pathway, at(10), ROUEN) == []
    [resolution] = resolved_findings([finding], [], pathway)
    assert resolution.reason == "Orientation décidée : CADA de Cherbourg."


def test_a_mother_with_a_newborn_gets_the_newborn_alert_instead_not_two_alerts() -> None:
    pathway = maternity_discharge(5)
    assert len(check_exit_without_housing(pathway, at(1), ROUEN)) == 1
    pathway.register_newborn(newborn_ref="NN-1", born_on=on(1), actor=MATERNITY, occurred_at=at(1))
    assert check_exit_without_housing(pathway, at(1), ROUEN) == []


def test_a_pathway_without_exit_date_has_no_housing_deadline() -> None:
    pathway = release(None)
    assert check_exit_without_housing(pathway, at(100), ROUEN) == []
    assert next_deadline_exit_without_housing(pathway, at(0), ROUEN) is None
