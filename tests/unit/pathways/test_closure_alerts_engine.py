"""Closing a pathway through the service resolves its open alerts, and the risk engine agrees:
it sends nothing more for the closed pathway, and a reopened pathway whose risk is still there
gets its alert again (the closure did not judge the risk handled)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.values import AlertStatus
from services.risk import alert_id_for
from tests.unit.risk.world import CASO, PASS, World, at


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.close()


def _contact_lost(world: World):
    pid = world.open("PassGp", CASO, PASS)
    for day in (1, 2, 3):
        world.send("RecordContactAttempt", pid, CASO, when=at(day), reached=False)
    return pid


def test_closing_resolves_the_open_alert_in_the_same_command_and_the_engine_stays_quiet(world: World) -> None:
    pid = _contact_lost(world)
    [alert] = world.open_alerts(pid, "contact-lost")

    result = world.send("ClosePathway", pid, CASO, when=at(4), outcome="lost_to_follow_up",
                        reason="Plus de nouvelles depuis trois semaines")

    assert result.new_events == 2  # AlertResolved + PathwayClosed, one write
    assert world.open_alerts(pid) == []
    closed = world.pathway(pid).alerts[alert.alert_id]
    assert closed.status is AlertStatus.RESOLVED
    assert closed.resolution_reason == "Parcours clos (perdu de vue)."
    names = [type(e).__name__ for e in world.events(pid)]
    assert names[-2:] == ["AlertResolved", "PathwayClosed"]
    stored = world.stored_event_count(pid)

    world.at(at(30))

    assert world.due_at(pid) is None
    assert world.stored_event_count(pid) == stored


def test_a_reopened_pathway_whose_risk_remains_gets_a_new_alert(world: World) -> None:
    pid = _contact_lost(world)
    world.send("ClosePathway", pid, CASO, when=at(4), outcome="lost_to_follow_up", reason="Plus de nouvelles")

    world.send("ReopenPathway", pid, CASO, when=at(10), reason="La personne est revenue au CASO")

    [again] = world.open_alerts(pid, "contact-lost")
    assert again.alert_id == alert_id_for(pid, "contact-lost", "contact", 1)


def test_an_alert_resolved_by_hand_before_the_closure_stays_judged_handled_after_reopening(world: World) -> None:
    pid = _contact_lost(world)
    [alert] = world.open_alerts(pid, "contact-lost")
    world.send("ResolveAlert", pid, CASO, when=at(4), alert_id=alert.alert_id, reason="Vue au local, numéro à venir")
    world.send("ClosePathway", pid, CASO, when=at(5), outcome="transferred", reason="Suivie par le CASO du Havre")

    world.send("ReopenPathway", pid, CASO, when=at(10), reason="De retour à Rouen")

    assert world.open_alerts(pid, "contact-lost") == []
