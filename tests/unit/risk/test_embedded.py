"""The embedded wiring of the composition root: the engine on the in-process bus with its
SQLite index file under state_dir, and the clock loop sweeping on its own."""

from __future__ import annotations

import time
from pathlib import Path
from uuid import uuid4

from infra.bus import InProcessBus
from services.bootstrap import build_embedded_risk, build_pathways_application, is_pathway_event
from services.clock import TestClock
from services.pathways import PathwaysHandler
from services.relay.positions import MemoryPositionStore
from services.relay.relay import Relay
from services.settings import Settings
from tests.unit.risk.world import DAY0, at

CASO = {"agency": "mdm-caso-rouen", "professional": "benevole-4", "role": "medecin"}


def send(handler: PathwaysHandler, command_type: str, pid, **fields) -> None:
    result = handler.handle_payload(command_type, {"command_id": str(uuid4()), "pathway_id": str(pid), "actor": CASO,
                                                   "occurred_at": DAY0.isoformat(), **fields})
    assert result.accepted, result.rejection


def test_the_embedded_engine_indexes_from_the_bus_and_its_timer_raises_when_the_clock_passes_the_deadline(
    tmp_path: Path,
) -> None:
    settings = Settings(mode="embedded", state_dir=tmp_path / "state")
    app = build_pathways_application(settings)  # a file: the clock loop reads it from its own thread
    handler = PathwaysHandler(app)
    bus = InProcessBus()
    relay = Relay(app, bus, MemoryPositionStore(), is_published=is_pathway_event)
    clock = TestClock(DAY0)
    risk = build_embedded_risk(settings, bus, handler, clock=clock, interval=0.02).start()
    try:
        pid = uuid4()
        send(handler, "OpenPassGpPathway", pid, person_ref="P-1", territory="76", lead_agency=CASO["agency"])
        send(handler, "GrantConsent", pid, agency="csapa-rouen", categories=["medical"], collected_by="p-recueil", informed_by="oral")
        send(handler, "MakeReferral", pid, referral_id=str(uuid4()), to_agency="csapa-rouen", service="addictologie")
        while relay.run_once():
            pass
        assert (tmp_path / "state" / "risk_deadlines.sqlite3").exists()
        with risk.engine.deadlines.transaction() as conn:
            assert risk.engine.deadlines.get(conn, pid) == at(14)

        clock.set(at(14))  # no sweep call here: the clock loop does it
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not app.get_pathway(pid).alerts:
            time.sleep(0.02)
        [alert] = app.get_pathway(pid).alerts.values()
        assert alert.rule_id == "referral-unverified"
        assert risk.clock_loop.sweeps > 0
    finally:
        risk.stop()
        app.close()
