"""Closing a pathway resolves the alerts still open on it: nothing could resolve them afterwards
(a closed pathway accepts nothing but reopening), and an alert left open forever is noise on
every caseload that lists it."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain import PassGpPathway, errors
from domain.values import AlertSeverity, AlertStatus, ClosureOutcome
from tests.unit.domain.conftest import CASO, DAC, RISK, at


def _raise(pathway: PassGpPathway, rule_id: str, subject: str, day: float):
    alert_id = uuid4()
    pathway.raise_alert(
        alert_id=alert_id, rule_id=rule_id, subject=subject, triggering_event_ids=[], owner_agency=CASO.agency,
        suggested_action="Rappeler la personne.", severity=AlertSeverity.HIGH, actor=RISK, occurred_at=at(day),
    )
    return alert_id


def _events(pathway: PassGpPathway) -> list:
    return pathway.collect_events()


def test_closing_resolves_every_open_alert_with_the_closure_as_reason(pass_gp: PassGpPathway) -> None:
    raised = _raise(pass_gp, "contact-lost", "contact", 1)
    acknowledged = _raise(pass_gp, "referral-unverified", "referral:x", 2)
    escalated = _raise(pass_gp, "stalled", "pathway", 3)
    pass_gp.acknowledge_alert(alert_id=acknowledged, actor=CASO, occurred_at=at(4))
    pass_gp.escalate_alert(alert_id=escalated, to_agency=DAC.agency, reason="sans réponse", actor=RISK,
                           occurred_at=at(5))
    _events(pass_gp)

    pass_gp.close(outcome=ClosureOutcome.TRANSFERRED, reason="suivie à Caen", actor=CASO, occurred_at=at(6))

    assert pass_gp.open_alerts == []
    for alert_id in (raised, acknowledged, escalated):
        alert = pass_gp.alerts[alert_id]
        assert alert.status is AlertStatus.RESOLVED
        assert alert.resolution_reason == "Parcours clos (transféré)."
        assert alert.status_changed_at == at(6)


def test_the_timeline_shows_the_alerts_lifted_then_the_closure_by_the_same_professional(
    pass_gp: PassGpPathway,
) -> None:
    first = _raise(pass_gp, "contact-lost", "contact", 1)
    second = _raise(pass_gp, "stalled", "pathway", 2)
    _events(pass_gp)

    pass_gp.close(outcome=ClosureOutcome.LOST_TO_FOLLOW_UP, reason="plus de nouvelles", actor=CASO, occurred_at=at(6))

    events = _events(pass_gp)
    assert [type(e).__name__ for e in events] == ["AlertResolved", "AlertResolved", "PathwayClosed"]
    assert [e.alert_id for e in events[:2]] == [first, second]  # in the order they were raised
    assert all(e.actor == CASO and e.occurred_at == at(6) for e in events)
    assert events[0].reason == "Parcours clos (perdu de vue)."


def test_an_alert_already_resolved_gets_no_second_resolution(pass_gp: PassGpPathway) -> None:
    done = _raise(pass_gp, "contact-lost", "contact", 1)
    pass_gp.resolve_alert(alert_id=done, reason="Personne jointe", actor=CASO, occurred_at=at(2))
    _events(pass_gp)

    pass_gp.close(outcome=ClosureOutcome.TRANSFERRED, reason="suivie à Caen", actor=CASO, occurred_at=at(6))

    assert [type(e).__name__ for e in _events(pass_gp)] == ["PathwayClosed"]
    assert pass_gp.alerts[done].resolution_reason == "Personne jointe"


def test_a_refused_closure_resolves_nothing(pass_gp: PassGpPathway) -> None:
    alert = _raise(pass_gp, "contact-lost", "contact", 1)
    _events(pass_gp)
    with pytest.raises(errors.GpVisitNotConfirmed):
        pass_gp.close(outcome=ClosureOutcome.HANDED_OVER, reason="relais fait", actor=CASO, occurred_at=at(6))
    assert pass_gp.alerts[alert].status is AlertStatus.RAISED
    assert _events(pass_gp) == []


def test_replaying_the_closure_gives_the_same_alerts(pass_gp: PassGpPathway) -> None:
    from eventsourcing.application import project_aggregate

    pass_gp_id = pass_gp.id
    _raise(pass_gp, "contact-lost", "contact", 1)
    pass_gp.close(outcome=ClosureOutcome.REFUSED, reason="ne souhaite plus d'accompagnement", actor=CASO,
                  occurred_at=at(6))
    history = _events(pass_gp)

    replayed = project_aggregate(None, history)

    assert replayed.id == pass_gp_id
    assert replayed.alerts == pass_gp.alerts and replayed.is_closed
