"""The catalogue as a whole: registry, territory settings, evaluate / next_deadline, raise and resolve."""

from __future__ import annotations

from datetime import timezone
from uuid import uuid4

import pytest
from pydantic import ValidationError

from domain.rules import (
    CATALOGUE,
    DEFAULT_SETTINGS,
    RULES,
    TerritorySettings,
    evaluate,
    new_findings,
    next_deadline,
    resolved_findings,
    settings_for,
)
from domain.values import ClosureOutcome, CoverageScheme
from tests.unit.rules.builders import (
    CADA, CARDIO, CPAM, ROUEN, SIAO, SPIP, at, keys, mr_m, on, paris, paris_midnight, raise_alert_for, release,
)

DOMAIN_IDS = [
    "exit-without-housing", "rights-not-open", "interpreter-missing", "referral-unverified",
    "missed-appointment-unfollowed", "contact-lost", "referral-declined", "treatment-continuity",
    "newborn-without-follow-up", "screening-overdue", "stalled", "consent-missing", "care-refused",
]


def test_the_catalogue_holds_every_rule_of_domain_md_in_its_order() -> None:
    assert [rule.rule_id for rule in CATALOGUE] == DOMAIN_IDS
    assert list(RULES) == DOMAIN_IDS
    assert {r.rule_id for r in CATALOGUE if not r.deadline_driven} == {
        "contact-lost", "referral-declined", "consent-missing", "care-refused",
    }


def test_territory_settings_are_frozen_with_defaults_and_checked() -> None:
    assert DEFAULT_SETTINGS.exit_without_housing_days == 15
    assert DEFAULT_SETTINGS.interpreter_hours == 48
    assert DEFAULT_SETTINGS.coverage_renewal_days == 30
    with pytest.raises(ValidationError):
        DEFAULT_SETTINGS.exit_without_housing_days = 3  # type: ignore[misc]
    with pytest.raises(ValidationError):
        TerritorySettings(timezone="Europe/Nowhere")
    with pytest.raises(ValidationError):
        TerritorySettings(stalled_days=0)
    with pytest.raises(ValidationError):
        TerritorySettings(unknown_threshold=3)  # type: ignore[call-arg]


def test_each_territory_has_its_own_settings_and_others_get_the_defaults() -> None:
    table = {"76": ROUEN, "973": TerritorySettings(territory="973", timezone="America/Cayenne")}
    assert settings_for("76", table) is ROUEN
    other = settings_for("44", table)
    assert other.territory == "44" and other.exit_without_housing_days == 15


def test_local_days_follow_the_territory_time_zone() -> None:
    pathway = release(25)
    guyane = TerritorySettings(territory="973", timezone="America/Cayenne")
    # Midnight in Rouen on day 10 is still the evening of day 9 in Cayenne.
    assert keys(evaluate(pathway, paris_midnight(on(10)), ROUEN)) >= {("exit-without-housing", "exit")}
    assert ("exit-without-housing", "exit") not in keys(evaluate(pathway, paris_midnight(on(10)), guyane))


def test_mr_m_s_situation_evaluated_as_a_whole() -> None:
    pathway = mr_m()
    pathway.apply_for_coverage(scheme=CoverageScheme.AME, applied_on=on(0), actor=CADA, occurred_at=at(0))
    appointment = uuid4()
    consultation = paris(on(10), 14, 30)
    pathway.book_appointment(appointment_id=appointment, with_agency=CARDIO.agency, service="cardiologie",
                             scheduled_at=consultation, interpreter_needed=True, language=None,
                             actor=CADA, occurred_at=at(1))

    assert evaluate(pathway, at(1), ROUEN) == []
    assert next_deadline(pathway, at(1), ROUEN) == paris(on(3), 14, 30)  # rights: 7 days before
    assert {(f.rule_id, f.owner_agency) for f in evaluate(pathway, at(9), ROUEN)} == {
        ("rights-not-open", CPAM.agency), ("interpreter-missing", CADA.agency),
    }


def test_findings_already_alerted_are_not_raised_twice_and_vanished_ones_are_resolved() -> None:
    pathway = release(25)
    findings = evaluate(pathway, at(12), ROUEN)
    assert keys(findings) == {("exit-without-housing", "exit"), ("rights-not-open", "coverage")}
    for finding in new_findings(pathway.open_alerts, findings):
        raise_alert_for(pathway, finding, at(12))

    assert new_findings(pathway.open_alerts, evaluate(pathway, at(13), ROUEN)) == []

    pathway.open_coverage(scheme=CoverageScheme.CSS, opened_on=on(14), expires_on=on(379), actor=SPIP, occurred_at=at(14))
    later = evaluate(pathway, at(14), ROUEN)
    [resolution] = resolved_findings(pathway.open_alerts, later, pathway)
    assert resolution.rule_id == "rights-not-open"
    assert resolution.alert_id in pathway.alerts
    assert resolution.reason.startswith("Droits santé ouverts (CSS ouverte le")
    assert [r.reason for r in resolved_findings(pathway.open_alerts, [])] == [
        "Le risque n'est plus constaté.", "Le risque n'est plus constaté.",
    ]


def test_closing_the_pathway_silences_every_rule_and_names_the_closure() -> None:
    pathway = release(25)
    open_alerts = evaluate(pathway, at(20), ROUEN)
    pathway.close(outcome=ClosureOutcome.TRANSFERRED, reason="transfert vers le SPIP 27", actor=SPIP, occurred_at=at(20))
    assert evaluate(pathway, at(30), ROUEN) == []
    assert next_deadline(pathway, at(0), ROUEN) is None
    assert {r.reason for r in resolved_findings(open_alerts, [], pathway)} == {"Parcours clos (transféré)."}


def test_a_naive_now_is_read_as_utc_and_gets_a_naive_deadline() -> None:
    pathway = release(25)
    naive_now = at(1).astimezone(timezone.utc).replace(tzinfo=None)
    deadline = next_deadline(pathway, naive_now, ROUEN)
    assert deadline is not None and deadline.tzinfo is None
    assert deadline == next_deadline(pathway, at(1), ROUEN).replace(tzinfo=None)
    assert keys(evaluate(pathway, naive_now, ROUEN)) == keys(evaluate(pathway, at(1), ROUEN))


def test_findings_carry_references_the_engine_can_map_to_events() -> None:
    pathway = release(25)
    pathway.request_housing(request_id=uuid4(), via_agency=SIAO.agency, needed_from=on(25), actor=SPIP, occurred_at=at(1))
    [finding] = [f for f in evaluate(pathway, at(15), ROUEN) if f.rule_id == "exit-without-housing"]
    exit_fact = finding.triggering_facts[0]
    assert (exit_fact.fact, exit_fact.ref) == ("exit_date", "pathway")
    assert "ReleaseDateSet" in exit_fact.events
    assert finding.fact_refs[0] == "exit_date@pathway"
