"""A referral through the directory nobody answers expires after the territory's period, and
its place comes back to the service's quota."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from uuid import uuid4

from domain.rules.settings import TerritorySettings
from domain.values import ReferralStatus
from infra.bus import InProcessBus
from services.bootstrap import build_directory, build_pathways_application, is_pathway_event
from services.directory.expiry import ReferralExpiry
from services.directory.reactions import PlaceReturns
from services.pathways import PathwaysHandler
from services.relay.positions import MemoryPositionStore
from services.relay.relay import Relay
from services.settings import Settings
from tests.unit.directory.helpers import NOW, actor, register


def test_an_unanswered_referral_expires_after_the_territory_s_period_and_its_place_comes_back(tmp_path: Path) -> None:
    settings = Settings(mode="embedded", state_dir=tmp_path)
    pathways = PathwaysHandler(build_pathways_application(settings, SQLITE_DBNAME=":memory:"))
    directory = build_directory(settings, pathways, SQLITE_DBNAME=":memory:")
    bus = InProcessBus()
    bus.subscribe(PlaceReturns(directory).on_bus_event)
    relay = Relay(pathways.app, bus, MemoryPositionStore(), is_published=is_pathway_event)
    sid, made = uuid4(), NOW - timedelta(days=25)  # facts are never dated in the future: all in the past
    directory.command("RegisterService", register(sid, "mg-ivars", at=made, quota={"places": 1, "period": "month"}))
    pid, rid = uuid4(), uuid4()
    pathways.handle_payload("OpenPassGpPathway", {
        "command_id": str(uuid4()), "pathway_id": str(pid), "actor": actor("pass", "medecin"), "occurred_at": made,
        "person_ref": "P-exp01", "territory": "76", "lead_agency": "pass"})
    assert directory.refer(pathways, command_id=uuid4(), pathway_id=pid, service_id=sid, referral_id=rid,
                           need_id=None, actor=actor("pass", "medecin"), occurred_at=made).accepted
    expiry = ReferralExpiry(directory, pathways, {"76": TerritorySettings(territory="76", referral_expiry_days=20)})

    assert directory.get(sid).quota_left(made.date()) == 0
    assert expiry.sweep(made + timedelta(days=19)) == []  # not yet
    [cancelled] = expiry.sweep(made + timedelta(days=20))
    assert cancelled.accepted
    referral = pathways.app.get_pathway(pid).referrals[rid]
    assert referral.status is ReferralStatus.CANCELLED and "depuis 20 jours" in referral.status_reason
    while relay.run_once():
        pass
    assert directory.get(sid).quota_left(made.date()) == 1  # the place is back
    assert expiry.sweep(made + timedelta(days=21)) == []  # swept again: nothing more


def test_the_default_expiry_is_dora_s_thirty_days() -> None:
    assert TerritorySettings().referral_expiry_days == 30
