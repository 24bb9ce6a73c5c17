"""A referral through the directory nobody answers is reminded, then expires, after the
territory's periods (read from the territory settings in force), both sides told; its place
comes back to the service's quota. The clock is the `now` given to each sweep."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

from domain.rules.settings import TerritorySettings
from services.risk.territory_settings import SettingsSource, SqliteTerritorySettingsStore
from domain.values import ReferralStatus
from infra.bus import InProcessBus
from services.bootstrap import build_directory, build_pathways_application, is_pathway_event
from services.directory.expiry import ReferralExpiry
from services.directory.reactions import PlaceReturns
from services.directory.service import Directory
from services.pathways import PathwaysHandler
from services.relay.positions import MemoryPositionStore
from services.relay.relay import Relay
from services.settings import Settings
from tests.unit.directory.helpers import NOW, actor, register


def referred(tmp_path: Path, made: datetime) -> tuple[PathwaysHandler, Directory, UUID, UUID, UUID]:
    """A PASS pathway of territory 76 referred at `made` through the directory to a GP (one place)."""
    settings = Settings(mode="embedded", state_dir=tmp_path)
    pathways = PathwaysHandler(build_pathways_application(settings, SQLITE_DBNAME=":memory:"))
    directory = build_directory(settings, pathways, SQLITE_DBNAME=":memory:")
    sid, pid, rid = uuid4(), uuid4(), uuid4()
    directory.command("RegisterService", register(sid, "mg-ivars", at=made, quota={"places": 1, "period": "month"}))
    pathways.handle_payload("OpenPassGpPathway", {
        "command_id": str(uuid4()), "pathway_id": str(pid), "actor": actor("pass", "medecin"), "occurred_at": made,
        "person_ref": "P-rem01", "territory": "76", "lead_agency": "pass"})
    assert directory.refer(pathways, command_id=uuid4(), pathway_id=pid, service_id=sid, referral_id=rid,
                           need_id=None, actor=actor("pass", "medecin"), occurred_at=made).accepted
    return pathways, directory, sid, pid, rid


def event_names(directory: Directory, service_id: UUID) -> list[str]:
    return [type(e).__name__ for e in directory.handler.app.events.get(service_id)]


def test_an_unanswered_referral_is_reminded_once_after_the_territory_s_period_both_sides_told(tmp_path: Path) -> None:
    made = NOW - timedelta(days=40)
    pathways, directory, sid, pid, rid = referred(tmp_path, made)
    store = SqliteTerritorySettingsStore(tmp_path / "territory_settings.sqlite3")
    store.change("76", {"referral_reminder_days": 5, "referral_expiry_days": 12}, changed_by="pro-ars-1", agency="ars")
    expiry = ReferralExpiry(directory, pathways, SettingsSource(store, ttl_s=0))

    assert expiry.sweep(made + timedelta(days=4, hours=23)) == []  # not yet
    [reminded] = expiry.sweep(made + timedelta(days=5))
    assert reminded.accepted
    [event] = [e for e in directory.handler.app.events.get(sid) if type(e).__name__ == "ReferralReminded"]
    # The receiving service's owner sees it on its service; the referring agency is named in it.
    assert event.referring_agency == "pass" and event.pathway_id == pid and event.days == 5
    assert directory.get(sid).places[rid].reminded_at == made + timedelta(days=5)
    assert expiry.sweep(made + timedelta(days=8)) == []  # reminded once, not at every sweep
    assert pathways.app.get_pathway(pid).referrals[rid].status is ReferralStatus.REQUESTED  # still waiting

    [cancelled] = expiry.sweep(made + timedelta(days=12))
    assert cancelled.accepted
    assert "depuis 12 jours" in pathways.app.get_pathway(pid).referrals[rid].status_reason
    assert event_names(directory, sid).count("ReferralReminded") == 1


def test_an_answered_referral_is_neither_reminded_nor_expired(tmp_path: Path) -> None:
    made = NOW - timedelta(days=40)
    pathways, directory, sid, pid, rid = referred(tmp_path, made)
    assert pathways.handle_payload("UpdateReferralStatus", {
        "command_id": str(uuid4()), "pathway_id": str(pid), "actor": actor("pass", "medecin"),  # answered by phone, recorded by the PASS
        "occurred_at": made + timedelta(days=1), "referral_id": str(rid), "status": "accepted"}).accepted
    expiry = ReferralExpiry(directory, pathways, SettingsSource(None, ttl_s=0))
    assert expiry.sweep(made + timedelta(days=35)) == []
    assert "ReferralReminded" not in event_names(directory, sid)


def test_a_referral_swept_only_after_both_periods_expires_without_a_late_reminder(tmp_path: Path) -> None:
    made = NOW - timedelta(days=40)
    pathways, directory, sid, pid, rid = referred(tmp_path, made)
    expiry = ReferralExpiry(directory, pathways, SettingsSource(None, ttl_s=0))  # DORA's 10 and 30 days
    [cancelled] = expiry.sweep(made + timedelta(days=30))
    assert cancelled.accepted and "depuis 30 jours" in pathways.app.get_pathway(pid).referrals[rid].status_reason
    assert "ReferralReminded" not in event_names(directory, sid)


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
    territories = {"76": TerritorySettings(territory="76", referral_reminder_days=25, referral_expiry_days=20)}
    expiry = ReferralExpiry(directory, pathways, SettingsSource(None, fallback=territories, ttl_s=0))

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


def test_the_default_periods_are_dora_s_ten_and_thirty_days() -> None:
    assert (TerritorySettings().referral_reminder_days, TerritorySettings().referral_expiry_days) == (10, 30)
