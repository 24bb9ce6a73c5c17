"""A synthetic territory: plausible pathways of fictitious people, as command payloads.

Nobody here is real: people are pseudonymous references (`P-3f9a12`), professionals are
role codes (`siao-coord-2`), places are invented. The mix follows the seeds: releases from
prison with substitution treatment, maternity discharges with a newborn, SAS arrivals (some
from high-TB-endemicity countries), PASS-to-GP handoffs whose orientation is honoured or not
for the reasons the Médecins du Monde Rouen report gives. Some pathways are on track, some
are heading for a rupture, so the alerts and the review screen have something true to show.

`generate(count, seed, now)` is pure: same arguments, same commands.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from uuid import UUID

PROFESSIONALS = {
    "pass": ("pass-ide-1", "infirmier"), "siao": ("siao-coord-2", "coordinateur"),
    "dac": ("dac-coord-1", "coordinateur"), "cpam": ("cpam-agent-3", "conseiller"),
    "association": ("caso-benevole-4", "benevole"), "spip": ("spip-cpip-1", "conseiller_penitentiaire"),
    "usmp": ("usmp-ide-2", "infirmier"), "maternite": ("mat-sf-1", "sage_femme"),
    "pmi": ("pmi-pdp-1", "puericultrice"), "sas": ("sas-ts-1", "travailleur_social"),
    "mg": ("mg-12", "medecin"), "clat": ("clat-ide-1", "infirmier"),
}
LANGUAGES = ["dari", "pachto", "arabe", "tigrinya", "anglais", "russe", "géorgien", "peul"]
COMMUNES = ["Rouen", "Sotteville-lès-Rouen", "Le Petit-Quevilly", "Elbeuf", "Canteleu"]
PLACES = ["CHRS Les Tilleuls", "HUDA Les Quais", "LHSS Saint-Sever", "Résidence sociale du Mail"]
NOT_WENT = ["phone_changed", "address_not_found", "gp_not_taking_patients", "no_interpreter",
            "schedule_unsuitable", "found_closer_gp", "afraid_paper_certificate"]


@dataclass
class Story:
    """The commands of one pathway, in the order a field team would send them."""

    pathway_id: UUID
    kind: str
    rng: random.Random
    territory: str
    now: datetime
    commands: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    clock: datetime | None = None

    def uuid(self) -> str:
        return str(UUID(int=self.rng.getrandbits(128), version=4))

    def at(self, days_ago: float) -> datetime:
        """A moment `days_ago` before now, never before the previous command."""
        moment = self.now - timedelta(days=days_ago, minutes=self.rng.randint(0, 600))
        if self.clock is not None and moment <= self.clock:
            moment = self.clock + timedelta(minutes=self.rng.randint(5, 90))
        self.clock = min(moment, self.now)
        return self.clock

    def send(self, command: str, by: str, days_ago: float, /, **fields: Any) -> None:
        """`by` is the agency sending `command`, `days_ago` when the fact happened."""
        professional, role = PROFESSIONALS[by]
        self.commands.append((command, {
            "command_id": self.uuid(), "pathway_id": str(self.pathway_id),
            "actor": {"agency": by, "professional": professional, "role": role},
            "occurred_at": self.at(days_ago).isoformat(), **fields,
        }))

    def day(self, offset_days: int) -> str:
        return (self.now.date() + timedelta(days=offset_days)).isoformat()

    def chance(self, p: float) -> bool:
        return self.rng.random() < p


def _person(rng: random.Random) -> str:
    return f"P-{rng.getrandbits(24):06x}"


def _consent(s: Story, lead: str, agencies: list[str], days_ago: float) -> None:
    """Consent is collected at the start, agency by agency; now and then one is still missing."""
    for agency in agencies:
        if s.chance(0.03):
            continue
        categories = ["identity", "social", "administrative"] + (["medical"] if s.chance(0.7) else [])
        s.send("GrantConsent", lead, days_ago, agency=agency, categories=categories)


def _housing(s: Story, lead: str, days_ago: float, confirm: bool) -> None:
    request = s.uuid()
    s.send("RequestHousing", lead, days_ago, request_id=request, via_agency="siao")
    if confirm:
        s.send("OfferHousing", "siao", days_ago - 1, request_id=request, place=s.rng.choice(PLACES),
               available_on=s.day(-int(days_ago) + 3))
        s.send("ConfirmHousing", "siao", days_ago - 2, request_id=request)


def _rights(s: Story, lead: str, scheme: str, days_ago: float, opened: bool) -> None:
    s.send("ApplyForCoverage", lead, days_ago, scheme=scheme, applied_on=s.day(-int(days_ago)))
    if opened:
        s.send("OpenCoverage", "cpam", days_ago - 3, scheme=scheme, opened_on=s.day(-int(days_ago) + 3),
               expires_on=s.day(s.rng.randint(20, 330)))


def _detention(s: Story) -> None:
    release_in = s.rng.randint(2, 40)
    s.send("OpenDetentionPathway", "usmp", 30, person_ref=_person(s.rng), territory=s.territory,
           lead_agency="usmp", prison="Centre pénitentiaire (synthétique)", release_date=s.day(release_in))
    for agency, role in (("spip", "justice"), ("siao", "housing"), ("cpam", "rights"), ("association", "addiction_care")):
        s.send("AddAgency", "usmp", 29, agency=agency, role=role)
    _consent(s, "usmp", ["spip", "siao", "cpam", "association"], 28)
    treatment = s.uuid()
    s.send("RecordTreatmentToContinue", "usmp", 27, treatment_id=treatment, kind="substitution",
           name="buprénorphine", prescribed_by="usmp")
    _rights(s, "usmp", "css", 25, opened=s.chance(0.85))
    _housing(s, "spip", 20, confirm=s.chance(0.8) or release_in > 20)
    if s.chance(0.85) or release_in > 15:
        appointment = s.uuid()
        s.send("BookAppointment", "usmp", 10, appointment_id=appointment, with_agency="association",
               service="CSAPA — consultation TSO", scheduled_at=f"{s.day(release_in + 2)}T10:00:00+01:00")
        s.send("PlanTreatmentFollowUp", "usmp", 9, treatment_id=treatment, appointment_id=appointment)


def _maternity(s: Story) -> None:
    discharge_in = s.rng.randint(1, 12)
    s.send("OpenMaternityPathway", "maternite", 12, person_ref=_person(s.rng), territory=s.territory,
           lead_agency="maternite", maternity_ward="Maternité (synthétique)", discharge_date=s.day(discharge_in))
    for agency, role in (("pmi", "maternal_child"), ("siao", "housing"), ("cpam", "rights")):
        s.send("AddAgency", "maternite", 11, agency=agency, role=role)
    _consent(s, "maternite", ["pmi", "siao", "cpam"], 11)
    s.send("RegisterNewborn", "maternite", 6, newborn_ref=f"N-{s.rng.getrandbits(20):05x}", born_on=s.day(-6))
    if s.chance(0.85):
        s.send("LinkPmi", "maternite", 5, pmi_agency="pmi", first_visit_on=s.day(discharge_in + 5))
    _rights(s, "maternite", s.rng.choice(["ame", "css"]), 10, opened=s.chance(0.85))
    _housing(s, "maternite", 8, confirm=s.chance(0.8))


def _sas(s: Story) -> None:
    arrived = s.rng.randint(3, 19)
    tb = s.chance(0.5)
    s.send("OpenSasPathway", "sas", arrived, person_ref=_person(s.rng), territory=s.territory, lead_agency="sas",
           arrived_on=s.day(-arrived), from_high_tb_endemicity=tb)
    for agency, role in (("siao", "housing"), ("pass", "health_care"), ("clat", "screening"), ("cpam", "rights")):
        s.send("AddAgency", "sas", arrived - 0.2, agency=agency, role=role)
    _consent(s, "sas", ["siao", "pass", "clat", "cpam"], arrived - 0.3)
    status = s.rng.choice(["asylum_seeker", "refugee", "undocumented", "regular"])
    s.send("AssessAdministrativeSituation", "sas", arrived - 1, status=status, assessed_on=s.day(-arrived + 1))
    _rights(s, "sas", "ame" if status == "undocumented" else "puma", arrived - 1.5, opened=s.chance(0.85))
    _housing(s, "sas", arrived - 2, confirm=arrived > 8 and s.chance(0.85))
    if tb:
        s.send("FlagTbScreeningNeed", "sas", arrived - 1)
        if s.chance(0.85):
            s.send("RecordClatScreening", "clat", arrived - 4 if arrived > 5 else 0.5, screened_on=s.day(-max(arrived - 4, 0)))
    if arrived > 12 and s.chance(0.6):
        s.send("DecideOrientation", "siao", 1, destination=s.rng.choice(PLACES), decided_on=s.day(-1))


def _pass_gp(s: Story) -> None:
    s.send("OpenPassGpPathway", "pass", 45, person_ref=_person(s.rng), territory=s.territory, lead_agency="pass")
    for agency, role in (("cpam", "rights"), ("mg", "health_care"), ("association", "social_support")):
        s.send("AddAgency", "pass", 44, agency=agency, role=role)
    _consent(s, "pass", ["cpam", "mg", "association"], 44)
    language = s.rng.choice(LANGUAGES) if s.chance(0.5) else None
    if language:
        s.send("RecordInterpreterNeed", "pass", 43, language=language)
    _rights(s, "pass", "ame", 42, opened=True)
    commune = s.rng.choice(COMMUNES)
    s.send("StartGpSearch", "pass", 30, commune=commune, languages=[language] if language else [],
           needs_phone_interpreting=bool(language))
    orientation = s.uuid()
    gp = f"MG-{s.rng.randint(1, 296):03d}"
    s.send("OrientToGp", "pass", 25, orientation_id=orientation, gp_ref=gp,
           gp_commune=commune, accepts_phone_interpreting=s.chance(0.5))
    _consent(s, "pass", [gp], 25)
    # 2022 in Rouen: 48 orientations, 27 calls reached the person, 17 went.
    if s.chance(0.56):
        s.send("RecordFollowUpCall", "pass", 15, orientation_id=orientation, reached=True)
        went = s.chance(0.63)
        s.send("RecordGpVisitOutcome", "pass", 14, orientation_id=orientation, outcome="went" if went else "did_not_go",
               reason=None if went else s.rng.choice(NOT_WENT))
    elif s.chance(0.5):
        s.send("RecordFollowUpCall", "pass", 15, orientation_id=orientation, reached=False)
        s.send("RecordPhoneStatus", "pass", 14, status="changed")
    if language and s.chance(0.3):
        appointment = s.uuid()
        s.send("BookAppointment", "pass", 3, appointment_id=appointment, with_agency="pass",
               service="Consultation de cardiologie", scheduled_at=f"{s.day(1)}T14:30:00+01:00",
               interpreter_needed=True, language=language)
        if s.chance(0.7):
            s.send("BookInterpreter", "pass", 2, appointment_id=appointment, provider="ISM Interprétariat")


# Most pathways are on track; the few that are not are the ones the alerts must catch.
STORIES = {"detention": _detention, "maternity": _maternity, "sas": _sas, "pass_gp": _pass_gp}


def generate(count: int, *, seed: int = 1, territory: str = "76", now: datetime | None = None) -> Iterator[Story]:
    """`count` pathways, kinds in turn."""
    now = now or datetime.combine(date(2026, 11, 23), time(9, 0), tzinfo=timezone.utc)
    rng = random.Random(seed)
    kinds = list(STORIES)
    for index in range(count):
        kind = kinds[index % len(kinds)]
        story = Story(pathway_id=UUID(int=rng.getrandbits(128), version=4), kind=kind,
                      rng=random.Random(rng.getrandbits(64)), territory=territory, now=now)
        STORIES[kind](story)
        yield story
