"""Situations of the Médecins du Monde Rouen mapping (296 GPs, 60 accepting new patients, some
only for their commune's residents, few speaking a foreign language, many accepting phone
interpreting; a GP stopping intake breaks the referrals in flight). Synthetic GPs."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.directory import ServiceKind
from domain.matching import BLOCKING, MatchRequest, assess, match
from domain.rules.referrals import check_referral_declined
from domain.rules.settings import TerritorySettings
from domain.values import ReferralStatus
from services.bootstrap import build_directory, build_pathways_application
from services.directory import DirectoryApplication, DirectoryHandler, DirectoryIndex
from services.pathways import PathwaysHandler
from services.settings import Settings
from tests.unit.directory.helpers import NOW, actor, envelope, register

ROUEN, PETIT_QUEVILLY, SOTTEVILLE, DARNETAL = "76540", "76498", "76681", "76212"


def _gp(handler: DirectoryHandler, name: str, commune: str, *, accepting: bool = True,
        own_commune_only: bool = False, zone: list[str] | None = None, languages: list[str] | None = None,
        interpreting: bool = False, quota: dict[str, Any] | None = None) -> UUID:
    sid = uuid4()
    sheet = {"name": name, "code_insee": commune, "commune": commune, "languages": languages or ["fr"],
             "accepts_interpreting": interpreting, "horaires_accueil": "Mo-Fr 08:00-19:00",
             "zone_eligibilite": [commune] if own_commune_only else (zone or [])}
    result = handler.handle_payload("RegisterService", register(
        sid, f"mg-{name.lower().replace(' ', '-')}", details=sheet, accepting_new_patients=accepting, quota=quota))
    assert result.accepted, result.rejection
    return sid


def _directory() -> tuple[DirectoryHandler, dict[str, UUID]]:
    handler = DirectoryHandler(DirectoryApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}))
    gps = {
        "sotteville-full-1": _gp(handler, "Dr Aubert", SOTTEVILLE, accepting=False),
        "sotteville-full-2": _gp(handler, "Dr Bihan", SOTTEVILLE, accepting=False, own_commune_only=True),
        "rouen-own-commune": _gp(handler, "Dr Carpentier", ROUEN, own_commune_only=True),
        "quevilly-open": _gp(handler, "Dr Dumont", PETIT_QUEVILLY, interpreting=True),
        "darnetal-departement": _gp(handler, "Dr Escoffier", DARNETAL, zone=["76"], languages=["fr", "ar"]),
        "quevilly-full": _gp(handler, "Dr Ferrand", PETIT_QUEVILLY, accepting=False),
    }
    return handler, gps


def test_a_person_in_a_commune_where_no_gp_accepts_gets_none_there_and_only_those_elsewhere_the_rule_allows() -> None:
    handler, gps = _directory()
    services = DirectoryIndex(handler.app).services()
    found = match(services, MatchRequest(at=NOW, commune=SOTTEVILLE, kind=ServiceKind.MG))
    names = {a.service.id for a in found}
    assert not any(a.service.details.code_insee == SOTTEVILLE for a in found)
    assert names == {gps["quevilly-open"], gps["darnetal-departement"]}  # not Rouen: its GP takes Rouen only
    rouen = assess(next(s for s in services if s.id == gps["rouen-own-commune"]),
                   MatchRequest(at=NOW, commune=SOTTEVILLE))
    assert not rouen.can_take and "Réservé aux habitants de 76540." in [r.text for r in rouen.reasons]


def test_a_person_living_in_rouen_also_gets_the_gp_taking_only_rouen_residents_first() -> None:
    handler, gps = _directory()
    found = match(DirectoryIndex(handler.app).services(), MatchRequest(at=NOW, commune=ROUEN))
    assert found[0].service.id == gps["rouen-own-commune"]  # same commune ranks first
    assert {a.service.id for a in found} == {gps["rouen-own-commune"], gps["quevilly-open"],
                                             gps["darnetal-departement"]}


def test_an_arabic_speaker_gets_the_gp_speaking_arabic_first_then_the_one_taking_phone_interpreting() -> None:
    handler, gps = _directory()
    found = match(DirectoryIndex(handler.app).services(), MatchRequest(at=NOW, commune=SOTTEVILLE, languages=("ar",)))
    assert [a.service.id for a in found] == [gps["darnetal-departement"], gps["quevilly-open"]]
    languages = [r.text for a in found for r in a.reasons if r.criterion == "language"]
    assert languages == ["Parle ar.", "Accepte l'interprétariat professionnel ou par téléphone."]
    pashto = match(DirectoryIndex(handler.app).services(), MatchRequest(at=NOW, commune=ROUEN, languages=("ps",)))
    assert [a.service.id for a in pashto] == [gps["quevilly-open"]]  # nobody speaks it; one takes an interpreter


def test_each_match_says_why_on_every_criterion_and_a_closed_or_stale_gp_ranks_lower() -> None:
    handler, gps = _directory()
    evening = datetime(2026, 12, 2, 21, 0, tzinfo=timezone.utc)
    [first, *_] = match(DirectoryIndex(handler.app).services(), MatchRequest(at=evening, commune=ROUEN))
    assert {r.criterion for r in first.reasons} >= {"accepting", "commune", "quota", "language", "opening_hours",
                                                    "freshness"}
    assert "Fermé en ce moment ; ouvre le 03/12 à 08:00." in [r.text for r in first.reasons]
    [fresh, *_] = match(DirectoryIndex(handler.app).services(), MatchRequest(at=NOW, commune=ROUEN))
    late = NOW + timedelta(weeks=17)  # same weekday and hour, past the default 90-day update frequency
    [stale, *_] = match(DirectoryIndex(handler.app).services(), MatchRequest(at=late, commune=ROUEN))
    assert stale.service.id == fresh.service.id and stale.score == fresh.score - 30
    assert any(r.criterion == "freshness" and not r.met for r in stale.reasons)
    assert first.score == fresh.score - 10  # closed at 21:00: ranked lower than open, still matched


@settings(max_examples=60, deadline=None)
@given(commune=st.sampled_from([ROUEN, PETIT_QUEVILLY, SOTTEVILLE, DARNETAL, "27229", None]),
       languages=st.lists(st.sampled_from(["fr", "ar", "ps", "en"]), max_size=2, unique=True),
       hour=st.integers(min_value=0, max_value=23))
def test_every_service_matched_meets_every_blocking_criterion_and_none_left_out_could(
        commune: str | None, languages: list[str], hour: int) -> None:
    handler, _ = _directory()
    request = MatchRequest(at=NOW.replace(hour=hour), commune=commune, languages=tuple(languages))
    services = DirectoryIndex(handler.app).services()
    found = match(services, request, limit=100)
    for assessment in found:
        assert all(r.met for r in assessment.reasons if r.criterion in BLOCKING)
    left_out = [assess(s, request) for s in services if s.id not in {a.service.id for a in found}]
    assert not any(a.can_take for a in left_out)
    assert [a.score for a in found] == sorted((a.score for a in found), reverse=True)


def test_a_gp_stopping_intake_declines_every_referral_in_flight_with_the_alternatives_for_the_referrer(
        tmp_path: Path) -> None:
    settings_ = Settings(mode="embedded", state_dir=tmp_path)
    pathways = PathwaysHandler(build_pathways_application(settings_, SQLITE_DBNAME=":memory:"))
    directory = build_directory(settings_, pathways, SQLITE_DBNAME=":memory:")
    stopping = directory.command("RegisterService", register(uuid4(), "mg-gautier", details={
        "name": "Dr Gautier", "code_insee": SOTTEVILLE, "commune": "Sotteville-lès-Rouen"})).service
    directory.command("RegisterService", register(uuid4(), "mg-hamel", details={
        "name": "Dr Hamel", "code_insee": PETIT_QUEVILLY, "commune": "Le Petit-Quevilly"}))
    referred: list[tuple[UUID, UUID]] = []
    for n in range(3):
        pid, rid = uuid4(), uuid4()
        opened = pathways.handle_payload("OpenPassGpPathway", {
            "command_id": str(uuid4()), "pathway_id": str(pid), "actor": actor("pass", "medecin"),
            "occurred_at": NOW, "person_ref": f"P-rouen-{n}", "territory": "76", "lead_agency": "pass"})
        assert opened.accepted, opened.rejection
        made = directory.refer(pathways, command_id=uuid4(), pathway_id=pid, service_id=stopping.id, referral_id=rid,
                               need_id=None, actor=actor("pass", "medecin"), occurred_at=NOW)
        assert made.accepted, made.rejection
        referred.append((pid, rid))
    answered_pid, answered_rid = referred[0]
    pathways.handle_payload("UpdateReferralStatus", {
        "command_id": str(uuid4()), "pathway_id": str(answered_pid), "actor": actor("pass", "medecin"),
        "occurred_at": NOW, "referral_id": str(answered_rid), "status": "accepted"})

    stop = envelope(stopping.id, "mg-gautier", at=NOW + timedelta(hours=1), reason="départ en retraite")
    assert directory.command("StopIntake", stop).accepted
    assert directory.command("StopIntake", stop).duplicate  # resent: nothing declined twice

    for pid, rid in referred[1:]:
        pathway = pathways.app.get_pathway(pid)
        referral = pathway.referrals[rid]
        assert referral.status is ReferralStatus.REJECTED and len(pathway.referrals) == 1
        assert "autres services possibles : Dr Hamel (Le Petit-Quevilly)" in referral.status_reason
        [alert] = check_referral_declined(pathway, NOW + timedelta(hours=2), TerritorySettings())
        assert alert.owner_agency == "pass" and "Dr Hamel" in alert.suggested_action
    assert pathways.app.get_pathway(answered_pid).referrals[answered_rid].status is ReferralStatus.ACCEPTED


def test_the_synthetic_directory_is_like_the_rouen_mapping_and_matches_the_synthetic_pathways() -> None:
    from domain.directory import ServiceKind as Kind
    from services.directory import Directory
    from services.territory.directory import GP_COUNT, load_directory

    directory = Directory(DirectoryHandler(DirectoryApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})))
    assert load_directory(directory, now=NOW) == GP_COUNT + 10
    assert load_directory(directory, now=NOW) == GP_COUNT + 10  # again: nothing doubles
    services = directory.index.services()
    gps = [s for s in services if s.details.kind is Kind.MG]
    accepting = [s for s in gps if s.accepting_new_patients]
    assert len(gps) == GP_COUNT and 0.15 <= len(accepting) / len(gps) <= 0.25
    assert any(s.details.zone_eligibilite for s in accepting) and any(s.is_stale(NOW.date()) for s in gps)
    assert len({s.details.code_insee for s in gps}) == 10
    # A synthetic pathway's GP search names its commune and language as typed ("Rouen", "arabe").
    found = directory.match(MatchRequest(at=NOW, commune="Sotteville-lès-Rouen", languages=("arabe",),
                                         kind=Kind.MG), limit=300)
    assert found and all(a.can_take for a in found)
    assert all(not a.service.details.zone_eligibilite or SOTTEVILLE in a.service.details.zone_eligibilite
               for a in found)
    [ism] = directory.match(MatchRequest(at=NOW, languages=("dari",), kind=Kind.INTERPRETARIAT))
    assert "Parle prs." in [r.text for r in ism.reasons]


@settings(max_examples=30, deadline=None)
@given(commune=st.sampled_from([ROUEN, PETIT_QUEVILLY, SOTTEVILLE, DARNETAL, "27229", None]),
       languages=st.lists(st.sampled_from(["fr", "ar", "ps"]), max_size=2, unique=True),
       kind=st.sampled_from([ServiceKind.MG, None]))
def test_the_directory_s_indexed_candidates_give_the_same_match_as_every_service(
        commune: str | None, languages: list[str], kind: ServiceKind | None) -> None:
    from services.directory import Directory

    handler, _ = _directory()
    directory = Directory(handler)
    directory.command("StopIntake", envelope(_directory_ids(directory)[0], "mg-dr-dumont", reason="plein"))
    request = MatchRequest(at=NOW, commune=commune, languages=tuple(languages), kind=kind)
    everything = match(directory.index.services(), request, limit=100)
    assert [a.service.id for a in directory.match(request, limit=100)] == [a.service.id for a in everything]


def _directory_ids(directory) -> list[UUID]:  # noqa: ANN001
    return [s.id for s in directory.index.services() if s.owner == "mg-dr-dumont"]
