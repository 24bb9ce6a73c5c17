"""newborn-without-follow-up: maternity discharge with a newborn and no PMI link or no housing."""

from __future__ import annotations

from uuid import uuid4

from domain.rules import check_newborn_without_follow_up, next_deadline_newborn_without_follow_up, resolved_findings
from domain.values import AlertSeverity
from tests.unit.rules.builders import (
    MATERNITY, MICRO, PMI, ROUEN, SIAO, at, keys, maternity_discharge, on, paris_midnight, raise_alert_for,
)

RULE = "newborn-without-follow-up"


def _born(pathway):
    pathway.register_newborn(newborn_ref="NN-0019", born_on=on(0), actor=MATERNITY, occurred_at=at(0, 2))


def _housed(pathway, day: float):
    request = uuid4()
    pathway.request_housing(request_id=request, via_agency=SIAO.agency, needed_from=on(5), actor=MATERNITY, occurred_at=at(day))
    pathway.offer_housing(request_id=request, place="hôtel social 115", available_on=on(5), actor=SIAO, occurred_at=at(day))
    pathway.confirm_housing(request_id=request, actor=MATERNITY, occurred_at=at(day))


def test_discharge_with_a_newborn_and_no_pmi_raises_newborn_without_follow_up_owned_by_the_maternity() -> None:
    pathway = maternity_discharge(12)
    _born(pathway)
    _housed(pathway, 1)
    threshold = paris_midnight(on(5))  # 7 days before the discharge of day 12

    assert check_newborn_without_follow_up(pathway, threshold - MICRO, ROUEN) == []
    assert next_deadline_newborn_without_follow_up(pathway, at(1), ROUEN) == threshold
    [finding] = check_newborn_without_follow_up(pathway, threshold, ROUEN)

    assert finding.subject == "newborn:pmi"
    assert finding.owner_agency == MATERNITY.agency
    assert finding.severity is AlertSeverity.HIGH
    assert finding.suggested_action.startswith("Faire le lien avec la PMI avant la sortie de maternité du")


def test_discharge_with_a_newborn_and_no_housing_raises_a_critical_alert_owned_by_the_siao() -> None:
    pathway = maternity_discharge(5)
    _born(pathway)
    pathway.request_housing(request_id=uuid4(), via_agency=SIAO.agency, needed_from=on(5), actor=MATERNITY, occurred_at=at(1))
    pathway.link_pmi(pmi_agency=PMI.agency, first_visit_on=on(7), actor=MATERNITY, occurred_at=at(1))

    [finding] = check_newborn_without_follow_up(pathway, at(1), ROUEN)

    assert finding.subject == "newborn:housing"
    assert finding.owner_agency == SIAO.agency
    assert finding.severity is AlertSeverity.CRITICAL
    assert finding.suggested_action.startswith("Mère et nouveau-né sans hébergement confirmé.")


def test_linking_the_pmi_and_confirming_housing_resolve_each_their_own_alert() -> None:
    pathway = maternity_discharge(5)
    _born(pathway)
    findings = check_newborn_without_follow_up(pathway, at(1), ROUEN)
    assert keys(findings) == {(RULE, "newborn:pmi"), (RULE, "newborn:housing")}
    for finding in findings:
        raise_alert_for(pathway, finding, at(1))

    pathway.link_pmi(pmi_agency=PMI.agency, first_visit_on=on(7), actor=MATERNITY, occurred_at=at(2))
    remaining = check_newborn_without_follow_up(pathway, at(2), ROUEN)
    assert keys(remaining) == {(RULE, "newborn:housing")}
    [resolution] = resolved_findings(pathway.open_alerts, remaining, pathway)
    assert (resolution.subject, resolution.reason) == ("newborn:pmi", "Lien PMI fait (pmi-76).")

    _housed(pathway, 3)
    assert check_newborn_without_follow_up(pathway, at(3), ROUEN) == []
    reasons = {r.subject: r.reason for r in resolved_findings(pathway.open_alerts, [], pathway)}
    assert reasons["newborn:housing"] == "Hébergement confirmé (hôtel social 115)."


def test_pmi_linked_and_housing_confirmed_before_the_discharge_window_raise_nothing() -> None:
    pathway = maternity_discharge(12)
    _born(pathway)
    pathway.link_pmi(pmi_agency=PMI.agency, first_visit_on=on(14), actor=MATERNITY, occurred_at=at(1))
    _housed(pathway, 2)
    for day in (5, 11, 13):
        assert check_newborn_without_follow_up(pathway, at(day), ROUEN) == []
    assert next_deadline_newborn_without_follow_up(pathway, at(2), ROUEN) is None


def test_no_newborn_no_newborn_alert() -> None:
    pathway = maternity_discharge(5)
    assert check_newborn_without_follow_up(pathway, at(4), ROUEN) == []


def test_after_the_discharge_is_recorded_neither_part_advises_acting_before_the_past_discharge() -> None:
    pathway = maternity_discharge(5)
    _born(pathway)
    pathway.request_housing(request_id=uuid4(), via_agency=SIAO.agency, needed_from=on(5), actor=MATERNITY, occurred_at=at(1))
    pathway.record_discharge(discharged_on=on(5), actor=MATERNITY, occurred_at=at(5, 10))

    findings = {f.subject: f for f in check_newborn_without_follow_up(pathway, at(7), ROUEN)}

    assert set(findings) == {"newborn:pmi", "newborn:housing"}
    assert findings["newborn:housing"].suggested_action == (
        f"Mère et nouveau-né sortis le {on(5):%d/%m} sans hébergement confirmé : mobiliser le siao-76 (115) "
        "et retrouver la famille.")
    assert findings["newborn:housing"].owner_agency == SIAO.agency
    assert not any("avant" in f.suggested_action for f in findings.values())
    named = ROUEN.model_copy(update={"agency_names": {SIAO.agency: "SIAO 76"}})
    [housing] = [f for f in check_newborn_without_follow_up(pathway, at(7), named) if f.subject == "newborn:housing"]
    assert "mobiliser le SIAO 76 (115)" in housing.suggested_action
