"""The relay publishes the notification log in order, once per position, and never skips."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from infra.bus import InProcessBus
from infra.kafka.cloudevents import CloudEvent
from services.relay.positions import MemoryPositionStore
from services.relay.relay import Relay
from services.relay.wire import event_id


class Dossier(Aggregate):
    @event("Opened")
    def __init__(self, territory: str) -> None:
        self.territory = territory
        self.notes: list[str] = []

    @event("NoteAdded")
    def add_note(self, text: str) -> None:
        self.notes.append(text)


class Secret(Aggregate):
    @event("Kept")
    def __init__(self) -> None:
        pass


def _app() -> Application[UUID]:
    return Application(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def _relay(app: Application[UUID], publisher: object, positions: MemoryPositionStore) -> Relay:
    return Relay(app, publisher, positions, is_published=lambda topic: "Secret" not in topic, batch_size=3)  # type: ignore[arg-type]


class FailingOnce:
    def __init__(self, bus: InProcessBus) -> None:
        self.bus = bus
        self.failed = False

    def publish(self, events: Sequence[CloudEvent]) -> None:
        if not self.failed:
            self.failed = True
            raise ConnectionError("broker down")
        self.bus.publish(events)


def test_relay_publishes_every_pathway_event_in_log_order_with_stable_ids() -> None:
    app = _app()
    dossier = Dossier("76")
    for i in range(4):
        dossier.add_note(f"n{i}")
    app.save(dossier, Secret())
    bus, positions = InProcessBus(), MemoryPositionStore()
    relay = _relay(app, bus, positions)
    while relay.run_once():
        pass
    events = bus.events()
    assert [e.data["originator_version"] for e in events] == [1, 2, 3, 4, 5]
    assert [e.type for e in events][:2] == ["fr.relais.pathway.Opened.v1", "fr.relais.pathway.NoteAdded.v1"]
    assert all(e.partitionkey == str(dossier.id) and e.subject == str(dossier.id) for e in events)
    assert events[0].id == event_id(dossier.id, 1)
    assert events[1].data["text"] == "n0"
    assert positions.load("relay") == 6  # the private Secret was passed over, not published


def test_relay_failing_to_publish_keeps_its_position_and_resends_the_batch() -> None:
    app = _app()
    dossier = Dossier("76")
    dossier.add_note("a")
    app.save(dossier)
    bus, positions = InProcessBus(), MemoryPositionStore()
    relay = _relay(app, FailingOnce(bus), positions)
    with pytest.raises(ConnectionError):
        relay.run_once()
    assert positions.load("relay") == 0
    assert relay.run_once() == 2
    assert [e.data["originator_version"] for e in bus.events()] == [1, 2]


def test_relay_restarted_after_publishing_only_duplicates_with_the_same_id() -> None:
    app = _app()
    dossier = Dossier("76")
    app.save(dossier)
    bus = InProcessBus()
    # The process died after the broker acknowledged but before the position was saved.
    _relay(app, bus, MemoryPositionStore()).run_once()
    _relay(app, bus, MemoryPositionStore()).run_once()
    ids = [e.id for e in bus.events()]
    assert len(ids) == 2 and len(set(ids)) == 1
