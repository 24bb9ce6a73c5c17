"""Through the service and the risk engine: the interpreter need learned after the cardiology
appointment was booked makes interpreter-missing fire 48 h before it, naming the event that
recorded the need; booking ISM then resolves it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest

from domain.values import AlertStatus
from tests.unit.risk.world import CADA, CARDIO, CPAM, MINUTE, PASS, World, at, on


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.close()


def test_a_need_recorded_after_booking_raises_interpreter_missing_then_booking_ism_resolves_it(world: World) -> None:
    pid = world.open("PassGp", CADA, PASS, CARDIO, CPAM)
    world.send("OpenCoverage", pid, CPAM, scheme="ame", opened_on=on(0), expires_on=on(360))
    appointment = uuid4()
    world.send("BookAppointment", pid, CADA, when=at(0, 1), appointment_id=appointment, with_agency=CARDIO.agency,
               service="cardiologie", scheduled_at=at(5, 1))
    world.at(at(3, 1))
    assert world.alerts(pid, "interpreter-missing") == []  # nobody knew yet

    world.send("RecordInterpreterNeed", pid, CADA, when=at(3, 2), language="arabe")

    [alert] = world.open_alerts(pid, "interpreter-missing")
    assert alert.subject == f"appointment:{appointment}" and alert.owner_agency == CADA.agency  # it booked it
    assert alert.suggested_action.startswith("Réserver un interprète (arabe) pour le rendez-vous du ")
    assert set(world.event_ids(pid, "InterpreterNeedRecorded")) <= set(alert.triggering_event_ids)

    world.send("BookInterpreter", pid, CARDIO, when=at(4), appointment_id=appointment, provider="ISM Interprétariat")

    [resolved] = world.alerts(pid, "interpreter-missing")
    assert resolved.status is AlertStatus.RESOLVED
    assert resolved.resolution_reason == "Interprète réservé (ISM Interprétariat)."
    world.at(at(5) - MINUTE)
    assert world.open_alerts(pid, "interpreter-missing") == []
