"""Suggested actions name the directory's services: the interpreting service for the language,
the nearest accepting GPs when a GP referral is declined (seed situations: Mr M., 75, CADA,
refused by a cardiologist without an interpreter; the Rouen mapping's GPs). Synthetic services."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from domain.directory import ServiceKind
from domain.rules.appointments import check_interpreter_missing
from domain.rules.referrals import check_referral_declined
from domain.rules.settings import TerritorySettings
from services.bootstrap import build_directory, build_pathways_application
from services.directory.finder import DirectoryFinder
from services.directory.service import Directory
from services.pathways import PathwaysHandler
from services.settings import Settings
from tests.unit.directory.helpers import NOW, actor, register

ROUEN, SOTTEVILLE = "76540", "76681"
GPS_LISTED = "Médecins acceptant de nouveaux patients : "


def world(tmp_path: Path) -> tuple[PathwaysHandler, Directory]:
    settings = Settings(mode="embedded", state_dir=tmp_path)
    pathways = PathwaysHandler(build_pathways_application(settings, SQLITE_DBNAME=":memory:"))
    return pathways, build_directory(settings, pathways, SQLITE_DBNAME=":memory:")


def offer(directory: Directory, name: str, kind: ServiceKind, commune: str, town: str, *,
          accepting: bool = True, **sheet: Any) -> UUID:
    sid = uuid4()
    result = directory.command("RegisterService", register(sid, f"org-{name.lower().replace(' ', '-')}", details={
        "name": name, "kind": kind.value, "code_insee": commune, "commune": town, **sheet},
        accepting_new_patients=accepting))
    assert result.accepted, result.rejection
    return sid


def send(pathways: PathwaysHandler, name: str, pid: UUID, **fields: Any) -> None:
    result = pathways.handle_payload(name, {"command_id": str(uuid4()), "pathway_id": str(pid),
                                            "actor": actor("pass", "medecin"), "occurred_at": NOW, **fields})
    assert result.accepted, result.rejection


def opened(pathways: PathwaysHandler) -> UUID:
    pid = uuid4()
    send(pathways, "OpenPassGpPathway", pid, person_ref="P-sugg01", territory="76", lead_agency="pass")
    return pid


def test_the_interpreter_missing_alert_names_the_directory_s_interpreting_service_for_the_language(tmp_path: Path) -> None:
    pathways, directory = world(tmp_path)
    offer(directory, "ISM Interprétariat", ServiceKind.INTERPRETARIAT, ROUEN, "Rouen", languages=["fr", "ar", "ps"])
    offer(directory, "Interprètes Tamouls 76", ServiceKind.INTERPRETARIAT, ROUEN, "Rouen", languages=["fr", "ta"])
    pid = opened(pathways)
    send(pathways, "RecordInterpreterNeed", pid, language="ar")
    send(pathways, "BookAppointment", pid, appointment_id=str(uuid4()), with_agency="chu-rouen",
         service="Cardiologie", scheduled_at=(NOW + timedelta(days=1)).isoformat())
    pathway = pathways.app.get_pathway(pid)

    [alert] = check_interpreter_missing(pathway, NOW, TerritorySettings().with_directory(DirectoryFinder(directory)))
    assert "Réserver un interprète (ar) auprès de ISM Interprétariat (Rouen) pour le rendez-vous" in alert.suggested_action
    [without] = check_interpreter_missing(pathway, NOW, TerritorySettings())
    assert "auprès de" not in without.suggested_action  # no directory: the text names no service
    assert DirectoryFinder(directory).interpreting_services("ta", NOW) == ["Interprètes Tamouls 76 (Rouen)"]


def test_a_declined_gp_referral_names_the_nearest_accepting_gps_from_the_match(tmp_path: Path) -> None:
    pathways, directory = world(tmp_path)
    declining = offer(directory, "Dr Gautier", ServiceKind.MG, ROUEN, "Rouen", languages=["fr", "ar"])
    offer(directory, "Dr Hamel", ServiceKind.MG, ROUEN, "Rouen", languages=["fr", "ar"])
    offer(directory, "Dr Ivars", ServiceKind.MG, ROUEN, "Rouen", accepts_interpreting=True)
    offer(directory, "Dr Jouve", ServiceKind.MG, ROUEN, "Rouen", accepting=False, languages=["fr", "ar"])
    offer(directory, "Dr Kerbrat", ServiceKind.MG, SOTTEVILLE, "Sotteville-lès-Rouen", languages=["fr", "ar"],
          zone_eligibilite=[SOTTEVILLE])  # takes only its own commune's residents
    pid, rid = opened(pathways), uuid4()
    send(pathways, "StartGpSearch", pid, commune=ROUEN, languages=["ar"])
    assert directory.refer(pathways, command_id=uuid4(), pathway_id=pid, service_id=declining, referral_id=rid,
                           need_id=None, actor=actor("pass", "medecin"), occurred_at=NOW).accepted
    send(pathways, "UpdateReferralStatus", pid, referral_id=str(rid), status="rejected", reason="patientèle complète")
    pathway = pathways.app.get_pathway(pid)

    [alert] = check_referral_declined(pathway, NOW, TerritorySettings().with_directory(DirectoryFinder(directory)))
    listed = alert.suggested_action.split(GPS_LISTED)[1]
    assert "Dr Hamel (Rouen)" in listed and "Dr Ivars (Rouen)" in listed
    assert not any(name in listed for name in ("Dr Gautier", "Dr Jouve", "Dr Kerbrat"))  # declined, full, wrong commune
    [without] = check_referral_declined(pathway, NOW, TerritorySettings())
    assert GPS_LISTED not in without.suggested_action


def test_the_engine_gives_its_rules_the_directory_it_received(tmp_path: Path) -> None:
    from services.bootstrap import build_risk_engine
    from services.risk import SQLiteDeadlineIndex

    pathways, directory = world(tmp_path)
    offer(directory, "ISM Interprétariat", ServiceKind.INTERPRETARIAT, ROUEN, "Rouen", languages=["fr", "ar"])
    engine = build_risk_engine(Settings(mode="embedded", state_dir=tmp_path), pathways,
                               SQLiteDeadlineIndex(str(tmp_path / "deadlines.sqlite3")), directory=directory)
    finder = engine.settings_for("76").directory
    assert finder is not None and finder.interpreting_services("ar", NOW) == ["ISM Interprétariat (Rouen)"]
