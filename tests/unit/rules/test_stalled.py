"""stalled: an open pathway with open needs and no event for N days."""

from __future__ import annotations

from uuid import uuid4

from domain.rules import check_stalled, evaluate, next_deadline_stalled, resolved_findings
from domain.values import NeedCategory
from tests.unit.rules.builders import (
    ADOMA, CARDIO, CASO, DAC, MICRO, RISK, ROUEN, at, mdm_rouen, on, paris, raise_alert_for, sas_arrival,
)


def _with_need(pathway, day: float = 2):
    need = uuid4()
    pathway.record_need(need_id=need, category=NeedCategory.HOUSING, description="hébergement",
                        actor=CASO, occurred_at=at(day))
    return need


def test_open_needs_and_no_event_for_three_weeks_raise_stalled_owned_by_the_lead() -> None:
    pathway = mdm_rouen()
    _with_need(pathway, 2)

    assert check_stalled(pathway, at(23) - MICRO, ROUEN) == []
    assert next_deadline_stalled(pathway, at(2), ROUEN) == at(23)
    [finding] = check_stalled(pathway, at(23), ROUEN)

    assert finding.subject == "pathway"
    assert finding.owner_agency == CASO.agency
    assert finding.suggested_action.startswith(f"Parcours sans mouvement depuis le {on(2):%d/%m} avec 1 besoin ouvert")


def test_raising_or_acknowledging_the_stalled_alert_is_not_activity() -> None:
    pathway = mdm_rouen()
    _with_need(pathway, 2)
    [finding] = check_stalled(pathway, at(23), ROUEN)
    alert = raise_alert_for(pathway, finding, at(23))
    assert [f.key for f in check_stalled(pathway, at(23), ROUEN)] == [finding.key]

    pathway.acknowledge_alert(alert_id=alert, actor=CASO, occurred_at=at(24))
    assert [f.key for f in check_stalled(pathway, at(24), ROUEN)] == [finding.key]
    assert resolved_findings(pathway.open_alerts, evaluate(pathway, at(24), ROUEN), pathway) == []


def test_a_contact_with_the_person_resolves_stalled() -> None:
    pathway = mdm_rouen()
    _with_need(pathway, 2)
    [finding] = check_stalled(pathway, at(23), ROUEN)
    raise_alert_for(pathway, finding, at(23))

    pathway.record_contact_attempt(reached=True, channel="téléphone", actor=CASO, occurred_at=at(25))

    assert check_stalled(pathway, at(25), ROUEN) == []
    assert next_deadline_stalled(pathway, at(25), ROUEN) == at(46)
    [resolution] = resolved_findings(pathway.open_alerts, [], pathway)
    assert resolution.reason == "Nouvelle activité sur le parcours."


def test_meeting_the_need_resolves_stalled() -> None:
    pathway = mdm_rouen()
    need = _with_need(pathway, 2)
    [finding] = check_stalled(pathway, at(23), ROUEN)
    pathway.mark_need_met(need_id=need, actor=CASO, occurred_at=at(24))
    assert check_stalled(pathway, at(60), ROUEN) == []
    [resolution] = resolved_findings([finding], [], pathway)
    assert resolution.reason == "Plus de besoin ouvert."


def test_activity_within_three_weeks_raises_nothing() -> None:
    pathway = mdm_rouen()
    _with_need(pathway, 2)
    pathway.record_contact_attempt(reached=False, channel="téléphone", actor=CASO, occurred_at=at(15))
    assert check_stalled(pathway, at(23), ROUEN) == []
    assert next_deadline_stalled(pathway, at(23), ROUEN) == at(36)


def test_an_appointment_still_to_come_is_a_next_step_in_place() -> None:
    pathway = mdm_rouen()
    _with_need(pathway, 2)
    pathway.book_appointment(appointment_id=uuid4(), with_agency=CARDIO.agency, service="cardiologie",
                             scheduled_at=paris(on(40), 9), interpreter_needed=False, language=None,
                             actor=CASO, occurred_at=at(3))
    assert check_stalled(pathway, at(30), ROUEN) == []
    assert next_deadline_stalled(pathway, at(30), ROUEN) == paris(on(40), 9)


def test_the_sas_stalls_after_a_few_days_only() -> None:
    pathway = sas_arrival(False)
    pathway.record_need(need_id=uuid4(), category=NeedCategory.ADMINISTRATIVE, description="dossier OFII",
                        actor=ADOMA, occurred_at=at(1))
    [finding] = check_stalled(pathway, at(6), ROUEN)
    assert finding.owner_agency == ADOMA.agency


def test_no_open_need_no_stall() -> None:
    pathway = mdm_rouen()
    assert check_stalled(pathway, at(300), ROUEN) == []
    assert RISK.is_system




def test_an_alert_of_another_rule_is_not_activity_either() -> None:
    pathway = mdm_rouen()
    _with_need(pathway, 2)
    pathway.record_contact_attempt(reached=False, channel="téléphone", actor=CASO, occurred_at=at(10))
    pathway.add_agency(agency=DAC.agency, role="coordination", actor=CASO, occurred_at=at(10))  # no consent yet
    [finding] = [f for f in evaluate(pathway, at(12), ROUEN) if f.rule_id == "consent-missing"]
    raise_alert_for(pathway, finding, at(12))

    assert pathway.last_activity_at == at(12)  # the aggregate counts the alert as activity...
    assert next_deadline_stalled(pathway, at(12), ROUEN) == at(31)  # ...the rule counts from the call of day 10


def test_an_agency_joining_counts_as_activity_even_when_an_alert_follows() -> None:
    pathway = mdm_rouen()
    _with_need(pathway, 2)
    pathway.add_agency(agency=DAC.agency, role="coordination", actor=CASO, occurred_at=at(10))
    [finding] = [f for f in evaluate(pathway, at(12), ROUEN) if f.rule_id == "consent-missing"]
    raise_alert_for(pathway, finding, at(12))
    assert next_deadline_stalled(pathway, at(12), ROUEN) == at(31)
