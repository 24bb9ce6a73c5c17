"""A synthetic territory of Seine-Maritime (76): plausible pathways of fictitious people, as
command payloads.

Nobody here is real: people are pseudonymous references (`P-3f9a12`), professionals are
role codes (`siao-coord-2`), agencies are the fictitious ones of the registry
(infra/agencies.toml), whose display names every French sentence below uses. The mix follows
the seeds:

- releases from prison with substitution treatment (USMP, SPIP, SIAO, CSAPA);
- maternity discharges with a newborn (two maternities, the PMI);
- arrivals in a regional SAS of 50 places, stays of three weeks at most, an administrative
  assessment at arrival and a rapid orientation (CADA, HUDA...), TB screening by the CLAT for
  people from high-endemicity countries (DGS, ARS Pays de la Loire);
- PASS-to-GP handoffs: of 48 orientations, 27 follow-up calls reached the person and 17 went
  (Médecins du Monde, CASO de Rouen, 2022), with the reasons the others did not go.

Around them: missed appointments, changed phone numbers, late entries (a fact recorded after
later ones), care refusals, case conferences with actions, DAC-coordinated complex pathways,
closures with outcomes. Every fact happens in office hours (Mon–Fri 8:30–18:00 Europe/Paris) on
a working day before `now`; exit dates are spread around today, and an exit already past is
recorded as such (and most of those pathways are closed).

`generate(count, seed, now)` is pure: same arguments, same commands.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from domain.disclosure import command_category, role_may_write
from infra.agencies import agency_names

PARIS = ZoneInfo("Europe/Paris")
OPENS, CLOSES = time(8, 30), time(18, 0)
#: The last moment of a working day a generated fact may take (room for the next few).
LATEST = time(17, 40)

# The agencies of the territory (codes of infra/agencies.toml).
PASS, SIAO, DAC, CPAM, SPIP, USMP = "pass-chu-rouen", "siao-76", "dac-rouen", "cpam-76", "spip-76", "usmp-rouen"
MATERNITIES = ("maternite-chu-rouen", "maternite-elbeuf")
PMI, SAS, CASO, CADA, HUDA = "pmi-76", "adoma-sas-rouen", "mdm-caso-rouen", "cada-rouen", "huda-elbeuf"
CSAPA, CMP, CLAT, EMPP, EMSP, ISM, MG = (
    "csapa-rouen", "cmp", "clat-76", "empp-rouen", "emsp-rouen", "ism-interpretariat", "mg")
AGENCIES = (PASS, SIAO, DAC, CPAM, SPIP, USMP, *MATERNITIES, PMI, SAS, CASO, CADA, HUDA, CSAPA, CMP, CLAT,
            EMPP, EMSP, ISM, MG)
#: Places in the agencies' own names ("CADA Les Peupliers (Rouen)"), as the SIAO offers them.
PLACE_AGENCIES = (CADA, HUDA)
OTHER_PLACES = ("CHRS Les Tilleuls (Sotteville-lès-Rouen)", "Résidence sociale du Mail (Rouen)",
                "LHSS Saint-Sever (Rouen)", "Pension de famille Le Clos (Canteleu)")

#: agency -> (social worker or coordinator, role), (carer, role): who sends what.
PROFESSIONALS: Mapping[str, tuple[tuple[str, str], tuple[str, str]]] = {
    PASS: (("pass-as-1", "assistante_sociale"), ("pass-ide-2", "infirmier")),
    SIAO: (("siao-coord-2", "coordinateur"), ("siao-coord-2", "coordinateur")),
    DAC: (("dac-coord-1", "coordinateur"), ("dac-ide-1", "infirmier")),
    CPAM: (("cpam-agent-3", "conseiller"), ("cpam-agent-3", "conseiller")),
    SPIP: (("spip-cpip-1", "conseiller_penitentiaire"), ("spip-cpip-1", "conseiller_penitentiaire")),
    USMP: (("usmp-as-1", "assistante_sociale"), ("usmp-ide-2", "infirmier")),
    MATERNITIES[0]: (("mat-as-1", "assistante_sociale"), ("mat-sf-2", "sage_femme")),
    MATERNITIES[1]: (("mat3r-as-1", "assistante_sociale"), ("mat3r-sf-1", "sage_femme")),
    PMI: (("pmi-pdp-1", "puericultrice"), ("pmi-pdp-1", "puericultrice")),
    SAS: (("sas-ts-1", "travailleur_social"), ("sas-ts-1", "travailleur_social")),
    CASO: (("caso-benevole-4", "benevole"), ("caso-med-1", "medecin")),
    CSAPA: (("csapa-as-1", "assistante_sociale"), ("csapa-med-1", "medecin")),
    CMP: (("cmp-as-1", "assistante_sociale"), ("cmp-ide-1", "infirmier")),
    CLAT: (("clat-ide-1", "infirmier"), ("clat-ide-1", "infirmier")),
    EMPP: (("empp-ide-1", "infirmier"), ("empp-psy-1", "medecin")),
    EMSP: (("emsp-ide-1", "infirmier"), ("emsp-med-1", "medecin")),
    MG: (("mg-12", "medecin"), ("mg-12", "medecin")),
}
#: Participant role -> what the person agrees to share with an agency of that role (need to
#: know: the rights office does not learn the diagnosis, the care team shares the medical file).
CONSENTED = {
    "housing": ["identity", "social"], "rights": ["identity", "administrative"],
    "justice": ["identity", "social", "administrative"], "social_support": ["identity", "social"],
    "coordination": ["identity", "social", "administrative", "medical"],
    "health_care": ["identity", "social", "administrative", "medical"],
    "addiction_care": ["identity", "social", "medical"], "mental_health": ["identity", "social", "medical"],
    "screening": ["identity", "medical"], "maternal_child": ["identity", "social", "medical"],
}
LANGUAGES = ["dari", "pachto", "arabe", "tigrinya", "anglais", "russe", "géorgien", "peul", "albanais", "soninké"]
COMMUNES = ["Rouen", "Sotteville-lès-Rouen", "Le Petit-Quevilly", "Le Grand-Quevilly", "Elbeuf", "Canteleu",
            "Saint-Étienne-du-Rouvray", "Mont-Saint-Aignan", "Déville-lès-Rouen", "Darnétal"]
NOT_WENT = ["phone_changed", "address_not_found", "gp_not_taking_patients", "no_interpreter",
            "schedule_unsuitable", "found_closer_gp", "afraid_paper_certificate", "changed_mind"]
REFUSALS = [  # (care, proposed by, the person's reason)
    ("Hospitalisation en psychiatrie", EMPP, "Ne veut pas être hospitalisé, craint de perdre sa place d'hébergement."),
    ("Suivi au centre médico-psychologique", CMP, "Dit ne pas en avoir besoin pour le moment."),
    ("Bilan cardiologique à l'hôpital", PASS, "Travaille en journée, ne peut pas s'absenter."),
    ("Entrée en soins résidentiels (cure)", CSAPA, "Refuse de quitter Rouen et son entourage."),
    ("Radiographie pulmonaire", CLAT, "Peur des démarches à l'hôpital sans titre de séjour."),
]
#: The 2022 funnel of the CASO de Rouen: 48 orientations, 27 calls reached, 17 went.
REACHED, WENT_IF_REACHED = 27 / 48, 17 / 27
SAS_PLACES, SAS_MAX_STAY = 50, 21
#: How many days back the territory's history goes (the oldest pathways are long closed).
HISTORY_DAYS = 180
#: Mix of the four kinds (share of pathways).
KIND_WEIGHTS = {"pass_gp": 0.35, "detention": 0.25, "maternity": 0.2, "sas": 0.2}


def name(code: str) -> str:
    """The agency's display name in the registry (a KeyError if the territory used an unknown one)."""
    return agency_names()[code]


def working_day_on_or_before(day: date) -> date:
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def next_working_day(day: date) -> date:
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


#: Facts a team often enters days later, after the next ones (a late entry, "saisie tardive"):
#: a contact attempt, a phone status, a follow-up call, an appointment's or a GP visit's outcome;
#: and the share of pathways with one. Nothing later in a story depends on them (unlike the
#: opening of rights, which an orientation to a GP needs), so they may move after later facts.
LATE_PRONE = frozenset({"RecordContactAttempt", "RecordPhoneStatus", "RecordFollowUpCall", "RecordGpVisitOutcome",
                        "MarkAppointmentSeen", "MarkAppointmentMissed"})
LATE_ENTRY_RATE = 0.5


@dataclass
class Story:
    """The commands of one pathway, in the order a field team would send (and record) them."""

    pathway_id: UUID
    kind: str
    rng: random.Random
    territory: str
    now: datetime
    commands: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: When each command was entered (same order): minutes after its fact, or, for a late entry,
    #: after the later facts already recorded (services.territory.load records it then).
    recorded: list[datetime] = field(default_factory=list)
    clock: datetime | None = None
    opened: datetime | None = None

    @property
    def today(self) -> date:
        return self.now.astimezone(PARIS).date()

    @property
    def cap(self) -> datetime:
        """The latest moment a fact may take: the last working day before today, late afternoon."""
        return datetime.combine(working_day_on_or_before(self.today - timedelta(days=1)), LATEST, PARIS)

    def uuid(self) -> str:
        return str(UUID(int=self.rng.getrandbits(128), version=4))

    def office_moment(self, day: date) -> datetime:
        minutes = self.rng.randint(0, (LATEST.hour * 60 + LATEST.minute) - (OPENS.hour * 60 + OPENS.minute))
        return datetime.combine(working_day_on_or_before(day), OPENS, PARIS) + timedelta(minutes=minutes)

    def at(self, days_ago: float) -> datetime:
        """A moment in office hours `days_ago` days before today, never before the previous fact."""
        moment = self.office_moment(self.today - timedelta(days=max(1, round(days_ago))))
        if self.clock is not None and moment <= self.clock:
            moment = self.clock + timedelta(minutes=self.rng.randint(5, 60))
            if moment.timetz().replace(tzinfo=None) > LATEST:
                moment = self.office_moment(next_working_day(self.clock.date()))
                moment = min(moment, datetime.combine(moment.date(), time(10, 0), PARIS))
        if moment > self.cap:
            # Squeezed against yesterday evening: seconds apart, still in office hours.
            moment = max(self.cap, (self.clock or self.cap) + timedelta(seconds=20))
        self.clock = moment
        return moment

    def late(self, moment: datetime) -> datetime:
        """A fact that happened at `moment` but is recorded now, after later ones (a late entry):
        it does not move the story's clock."""
        return max(moment, self.opened or moment)

    def enter_late(self) -> None:
        """Now and then a team enters a contact attempt or an outcome only after a fact of the
        pathway that happened more than a day later (a late entry): the command moves just
        after it (never past a closure). Drawn once the story is written, so a seed gives the
        same facts."""
        candidates = [i for i, (name, _) in enumerate(self.commands) if name in LATE_PRONE]
        if not candidates or not self.chance(LATE_ENTRY_RATE):
            return
        first = self.rng.choice(candidates)
        happened = datetime.fromisoformat(self.commands[first][1]["occurred_at"])
        for later in range(first + 1, len(self.commands)):
            name, payload = self.commands[later]
            if name.startswith("Close"):
                return
            if datetime.fromisoformat(payload["occurred_at"]) - happened > timedelta(days=1, hours=1):
                self.commands.insert(later, self.commands.pop(first))
                return

    def enter(self) -> None:
        """When each command is entered, in the order of `commands`: minutes after its fact
        (no draw), never before the previous entry (the store's order: a pathway as known on a
        date is a prefix of its history), never after `now`. A command sent after facts that
        happened later is therefore entered late."""
        self.recorded = []
        for index, (_name, payload) in enumerate(self.commands):
            after = datetime.fromisoformat(payload["occurred_at"]) + timedelta(minutes=3 + (7 * index) % 50)
            self.recorded.append(min(max([after, *self.recorded[-1:]]), self.now))

    def may_record(self, by: str, command: str, **fields: Any) -> bool:
        """Whether one of `by`'s professionals may send `command` (the write policy)."""
        category = command_category(command, fields)
        return any(role_may_write(role, category) for _professional, role in PROFESSIONALS[by])

    def send(self, command: str, by: str, days_ago: float | datetime, /, *, carer: bool = False,
             **fields: Any) -> None:
        """`by` is the agency sending `command`, `days_ago` when the fact happened (or the exact
        moment of a late entry); `carer`: sent by its carer rather than its social worker."""
        professional, role = PROFESSIONALS[by][1 if carer else 0]
        if not role_may_write(role, command_category(command, fields)):
            # A fact this social worker may not record (the write policy): its carer records it.
            professional, role = PROFESSIONALS[by][1]
        occurred = self.late(days_ago) if isinstance(days_ago, datetime) else self.at(days_ago)
        if self.opened is None:
            self.opened = occurred
        self.commands.append((command, {
            "command_id": self.uuid(), "pathway_id": str(self.pathway_id),
            "actor": {"agency": by, "professional": professional, "role": role},
            "occurred_at": occurred.isoformat(), **fields,
        }))

    def collector(self, agency: str) -> str:
        """The professional of `agency` who collects the person's choice (its social worker)."""
        return PROFESSIONALS[agency][0][0]

    @staticmethod
    def informed() -> str:
        """How the person was informed (orally: no draw, so that the territory stays the same
        for a seed as before consent carried its proof)."""
        return "oral"

    def day(self, offset_days: int) -> str:
        return (self.today + timedelta(days=offset_days)).isoformat()

    def slot(self, offset_days: int, hour: int | None = None) -> str:
        """An appointment in opening hours, `offset_days` from today (a working day)."""
        day = self.today + timedelta(days=offset_days)
        day = working_day_on_or_before(day) if offset_days < 0 else (
            day if day.weekday() < 5 else next_working_day(day))
        at = time(hour if hour is not None else self.rng.choice([9, 10, 11, 14, 15, 16]), self.rng.choice([0, 30]))
        return datetime.combine(day, at, PARIS).isoformat()

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def participants(self) -> list[str]:
        return [p["agency"] for n, p in self.commands if n == "AddAgency"]

    @property
    def lead(self) -> str:
        """The pathway's lead agency (its opening command's): the care team and the closure are its."""
        return next(p["lead_agency"] for n, p in self.commands if n.startswith("Open"))


def _person(rng: random.Random) -> str:
    return f"P-{rng.getrandbits(24):06x}"


def _join(s: Story, partners: list[tuple[str, str]], days_ago: float) -> None:
    """The lead collects the person's consent for each partner (what its role needs to know),
    then the partner joins; now and then the consent is not collected yet (the rule sees it)."""
    for agency, role in partners:
        if not s.chance(0.04):
            s.send("GrantConsent", s.lead, days_ago, agency=agency, categories=CONSENTED[role],
                   collected_by=s.collector(s.lead), informed_by=s.informed())
        s.send("AddAgency", s.lead, days_ago, agency=agency, role=role)


def _housing(s: Story, by: str, days_ago: float, confirm: bool, place: str | None = None) -> bool:
    request = s.uuid()
    s.send("RequestHousing", by, days_ago, request_id=request, via_agency=SIAO)
    if confirm and days_ago > 3:
        place = place or (name(s.rng.choice(PLACE_AGENCIES)) if s.chance(0.5) else s.rng.choice(OTHER_PLACES))
        s.send("OfferHousing", SIAO, days_ago - 2, request_id=request, place=place,
               available_on=s.day(-int(days_ago) + 3))
        s.send("ConfirmHousing", SIAO, days_ago - 3, request_id=request)
        return True
    return False


def _rights(s: Story, by: str, scheme: str, days_ago: float, opened: bool) -> None:
    s.send("ApplyForCoverage", by, days_ago, scheme=scheme, applied_on=s.day(-int(max(1, round(days_ago)))))
    if opened and days_ago > 4:
        s.send("OpenCoverage", CPAM, days_ago - 4, scheme=scheme, opened_on=s.day(-int(days_ago) + 4),
               expires_on=s.day(s.rng.randint(20, 330)))


def _case_conference(s: Story, convener: str, days_ago: float) -> None:
    """A case conference (synthèse) of the agencies taking part, its decisions as actions with an
    owner and a due date; those already due are done, or not (the rule watches them)."""
    invited = [convener] + [a for a in s.participants() if a != convener]
    # Each agency that came confirms its own presence (the convener's is recorded by holding it).
    confirming = [a for a in invited[1:] if s.chance(0.8) and a in PROFESSIONALS]
    owners = [a for a in s.participants() if a in PROFESSIONALS] or [convener]
    decisions = []
    for owner in s.rng.sample(owners, k=min(len(owners), s.rng.randint(1, 3))):
        decisions.append((owner, s.rng.choice(_DECISIONS[owner] if owner in _DECISIONS else _DECISIONS[None])
                          .format(who=name(owner))))
    conference = s.uuid()
    s.send("HoldCaseConference", convener, days_ago, conference_id=conference, agencies=invited,
           decisions=[text for _owner, text in decisions])
    for agency in confirming:
        s.send("ConfirmConferencePresence", agency, days_ago, conference_id=conference)
    actions = []
    for owner, text in decisions:
        action, due = s.uuid(), s.rng.randint(-int(days_ago) + 5, -int(days_ago) + 21)
        s.send("AssignAction", convener, days_ago, conference_id=conference, action_id=action, owner_agency=owner,
               description=text, due_on=s.day(due))
        actions.append((action, owner, due))
    for action, owner, due in actions:
        if due < 0 and s.chance(0.7):
            # Recorded by the owner, or by the convener when the owner's staff may not record it.
            by = owner if s.may_record(owner, "CompleteAction") else convener
            s.send("CompleteAction", by, -due, action_id=action)


_DECISIONS: dict[str | None, list[str]] = {
    SIAO: ["Présenter la situation en commission d'orientation du {who}.",
           "Rechercher une place adaptée (femme seule avec enfant) auprès du {who}."],
    CPAM: ["Vérifier l'ouverture des droits et la complémentaire auprès de la {who}."],
    SPIP: ["Organiser un entretien de sortie avec le {who}."],
    CSAPA: ["Fixer le premier rendez-vous au {who} dans la semaine qui suit la sortie."],
    PMI: ["Programmer la première visite à domicile de la {who}."],
    PASS: ["Reprendre contact avec la personne et proposer une consultation à la {who}."],
    DAC: ["Le {who} coordonne le suivi et fait le point dans un mois."],
    None: ["Faire le point avec la personne et rendre compte à la prochaine synthèse ({who})."],
}


def _dac(s: Story, days_ago: float) -> None:
    """A complex situation: the DAC is asked to coordinate, and convenes a case conference."""
    _join(s, [(DAC, "coordination")], days_ago)
    if days_ago > 3:
        _case_conference(s, DAC, days_ago - 2)


def _refusal(s: Story, days_ago: float) -> None:
    care, proposer, reason = s.rng.choice(REFUSALS)
    if proposer not in s.participants():
        _join(s, [(proposer, "mental_health" if proposer in (EMPP, CMP) else
                      "addiction_care" if proposer == CSAPA else "health_care")], days_ago)
    s.send("RecordCareRefusal", proposer, days_ago, carer=True, refusal_id=s.uuid(), care=care,
           proposed_by=proposer, reason=reason)


def _close(s: Story, days_ago: float, outcome: str, reason: str) -> None:
    s.send("ClosePathway", s.lead, days_ago, outcome=outcome, reason=reason)


def _detention(s: Story) -> None:
    release_in = s.rng.randint(-HISTORY_DAYS + 45, 40)  # days from today: most releases are past
    opened_ago = max(2, 45 - release_in if release_in < 0 else s.rng.randint(10, 40))
    s.send("OpenDetentionPathway", USMP, opened_ago, person_ref=_person(s.rng), territory=s.territory,
           lead_agency=USMP, prison="Maison d'arrêt de Rouen", release_date=s.day(release_in))
    _join(s, [(SPIP, "justice"), (SIAO, "housing"), (CPAM, "rights"), (CSAPA, "addiction_care")],
          opened_ago - 0.5)
    treatment = s.uuid()
    s.send("RecordTreatmentToContinue", USMP, opened_ago - 1, carer=True, treatment_id=treatment, kind="substitution",
           name=s.rng.choice(["buprénorphine", "méthadone"]), prescribed_by=USMP)
    # Whoever is already out has the rights open: an alert may not advise to act before a past exit.
    _rights(s, USMP, "css", opened_ago - 2, opened=s.chance(0.85) or release_in < 0)
    housed = _housing(s, SPIP, opened_ago - 4, confirm=s.chance(0.75))
    appointment, scheduled = None, s.slot(release_in + 2)
    if s.chance(0.85):
        appointment = s.uuid()
        s.send("BookAppointment", USMP, opened_ago - 6, appointment_id=appointment, with_agency=CSAPA,
               service="Consultation de suivi du traitement de substitution", scheduled_at=scheduled)
        s.send("PlanTreatmentFollowUp", USMP, opened_ago - 6, carer=True, treatment_id=treatment,
               appointment_id=appointment)
    if s.chance(0.3) and opened_ago > 10:
        _case_conference(s, SPIP, opened_ago - 8)  # the pre-release synthesis
    complex_case = s.chance(0.12)
    if complex_case:
        _dac(s, max(opened_ago - 9, 1))
    if release_in >= 0:
        return
    s.send("RecordRelease", SPIP, -release_in, released_on=s.day(release_in))
    s.send("HandOverTreatment", USMP, -release_in, carer=True, treatment_id=treatment, to_agency=CSAPA)
    if appointment is None or release_in > -3:
        return  # released a few days ago: the next steps are still ahead
    seen_at = datetime.fromisoformat(scheduled)
    missed = s.chance(0.2)
    if missed:
        s.send("MarkAppointmentMissed", CSAPA, seen_at + timedelta(hours=1), carer=True, appointment_id=appointment)
        if s.chance(0.5):
            s.send("RecordPhoneStatus", CSAPA, -release_in - 4, status="changed")
        s.send("RecordContactAttempt", CSAPA, -release_in - 5, reached=False)
    else:
        s.send("MarkAppointmentSeen", CSAPA, seen_at + timedelta(hours=1), carer=True, appointment_id=appointment)
    if s.chance(0.05) and -release_in > 8:
        _refusal(s, -release_in - 6)
    if -release_in < 20 or s.chance(0.1):
        return  # still followed
    if missed:
        _close(s, -release_in - 18, "lost_to_follow_up", "Plus de nouvelles depuis le rendez-vous manqué (SPIP).")
    elif housed:
        _close(s, -release_in - 15, "housed", "Hébergé et suivi par le CSAPA après la sortie.")
    else:
        _close(s, -release_in - 15, "handed_over", "Traitement repris en ville, relais fait au CSAPA.")


def _maternity(s: Story) -> None:
    ward = s.rng.choice(MATERNITIES)
    discharge_in = s.rng.randint(-HISTORY_DAYS + 20, 12)
    opened_ago = max(2, -discharge_in + s.rng.randint(6, 12)) if discharge_in < 0 else s.rng.randint(2, 10)
    s.send("OpenMaternityPathway", ward, opened_ago, person_ref=_person(s.rng), territory=s.territory,
           lead_agency=ward, maternity_ward=name(ward), discharge_date=s.day(discharge_in))
    _join(s, [(PMI, "maternal_child"), (SIAO, "housing"), (CPAM, "rights")], opened_ago - 0.5)
    _rights(s, ward, s.rng.choice(["ame", "css"]), opened_ago - 1, opened=s.chance(0.85) or discharge_in < 0)
    born_ago = -discharge_in + 3
    born = born_ago >= 1 and born_ago <= opened_ago
    if born:
        s.send("RegisterNewborn", ward, born_ago, carer=True, newborn_ref=f"N-{s.rng.getrandbits(20):05x}",
               born_on=s.day(-born_ago))
    # A mother and newborn are not discharged to the street: past discharges had a place.
    housed = _housing(s, ward, max(opened_ago - 2, 1), confirm=s.chance(0.75) or (born and discharge_in < 0))
    pmi = s.chance(0.85)
    if pmi:
        s.send("LinkPmi", ward, max(opened_ago - 3, 1), pmi_agency=PMI, first_visit_on=s.day(discharge_in + 5))
    if s.chance(0.08):
        _dac(s, max(opened_ago - 3, 1))
    if discharge_in >= 0:
        return
    s.send("RecordDischarge", ward, -discharge_in, discharged_on=s.day(discharge_in))
    if -discharge_in < 10 or s.chance(0.1) or not pmi:
        return
    if housed:
        _close(s, -discharge_in - 8, "housed", "Mère et enfant hébergés, suivi par la PMI.")
    else:
        _close(s, -discharge_in - 8, "handed_over", "Relais fait à la PMI après la sortie.")


def _sas_stay(s: Story, occupancy: list[int]) -> tuple[int, int, bool] | None:
    """(arrived days ago, stay in days, still there) for a place free all along the stay in the
    50-place SAS (`occupancy`: people in the SAS by days ago, updated), or None when the SAS
    is full over the few periods tried (the story is then of another kind)."""
    for _attempt in range(6):
        current, stay = s.chance(0.3), s.rng.randint(7, SAS_MAX_STAY)
        arrived = s.rng.randint(1, SAS_MAX_STAY - 1) if current else s.rng.randint(SAS_MAX_STAY + 2, HISTORY_DAYS)
        there = range(0 if current else arrived - stay, arrived + 1)
        if all(occupancy[day] < SAS_PLACES for day in there):
            for day in there:
                occupancy[day] += 1
            return arrived, stay, current
    return None


def _sas(s: Story, arrived: int, stay: int, current: bool) -> None:
    tb = s.chance(0.5)
    s.send("OpenSasPathway", SAS, arrived, person_ref=_person(s.rng), territory=s.territory, lead_agency=SAS,
           arrived_on=s.day(-arrived), from_high_tb_endemicity=tb)
    _join(s, [(SIAO, "housing"), (PASS, "health_care"), (CLAT, "screening"), (CPAM, "rights")], arrived)
    status = s.rng.choice(["asylum_seeker", "asylum_seeker", "refugee", "undocumented", "regular"])
    s.send("AssessAdministrativeSituation", SAS, arrived, status=status, assessed_on=s.day(-arrived))
    _rights(s, SAS, "ame" if status == "undocumented" else "puma", arrived - 1, opened=s.chance(0.85))
    if s.chance(0.3):
        s.send("RecordInterpreterNeed", SAS, arrived - 1, language=s.rng.choice(LANGUAGES))
    if tb:
        s.send("FlagTbScreeningNeed", SAS, arrived - 1)
        if arrived > 5 and s.chance(0.85):
            s.send("RecordClatScreening", CLAT, arrived - 4, carer=True, screened_on=s.day(-(arrived - 4)))
    destination = name(CADA) if status == "asylum_seeker" else name(HUDA) if status == "undocumented" \
        else s.rng.choice(OTHER_PLACES)
    left_ago = arrived - stay
    confirm = (stay > 8 and s.chance(0.85)) if not current else (arrived > 8 and s.chance(0.6))
    housed = _housing(s, SAS, arrived - 2, confirm=confirm, place=destination)
    if s.chance(0.04) and arrived > 4:
        _refusal(s, arrived - 3)
    if not current:
        s.send("DecideOrientation", SIAO, left_ago + 1, destination=destination, decided_on=s.day(-(left_ago + 1)))
        s.send("RecordSasExit", SAS, left_ago, left_on=s.day(-left_ago), destination=destination)
        _close(s, left_ago, "housed" if housed else "handed_over", f"Sortie du SAS vers {destination}.")
    elif arrived > 12 and s.chance(0.6):
        s.send("DecideOrientation", SIAO, 1, destination=destination, decided_on=s.day(-1))


def _pass_gp(s: Story) -> None:
    opened_ago = s.rng.randint(2, HISTORY_DAYS)
    s.send("OpenPassGpPathway", PASS, opened_ago, person_ref=_person(s.rng), territory=s.territory, lead_agency=PASS)
    # A third of them met in the street by the mobile team, which keeps in touch ("aller-vers").
    street = s.chance(0.3)
    _join(s, [(CPAM, "rights"), (MG, "health_care"), (CASO, "social_support")]
          + ([(EMSP, "health_care")] if street else []), opened_ago)
    language = s.rng.choice(LANGUAGES) if s.chance(0.5) else None
    if language:
        s.send("RecordInterpreterNeed", PASS, opened_ago, language=language)
    _rights(s, PASS, "ame", opened_ago, opened=opened_ago > 6)
    if s.chance(0.1):
        _dac(s, max(opened_ago - 2, 1))
    if language and opened_ago > 4 and s.chance(0.3):
        # Some consultations are still to come (Mr M.: the cardiologist tomorrow, no interpreter
        # booked yet): what interpreter-missing is for.
        upcoming = s.chance(0.5)
        appointment, scheduled = s.uuid(), s.slot(1, 14) if upcoming else s.slot(-opened_ago + 4, 14)
        s.send("BookAppointment", PASS, opened_ago - 1, appointment_id=appointment, with_agency=PASS,
               service="Consultation de cardiologie", scheduled_at=scheduled,
               interpreter_needed=True, language=language)
        if s.chance(0.4 if upcoming else 0.7):  # often booked only in the last days
            s.send("BookInterpreter", PASS, opened_ago - 1, appointment_id=appointment, provider=ISM)
        if opened_ago > 5 and not upcoming:
            moment = datetime.fromisoformat(scheduled) + timedelta(hours=1)
            verb = "MarkAppointmentMissed" if s.chance(0.25) else "MarkAppointmentSeen"
            s.send(verb, PASS, moment, carer=True, appointment_id=appointment)
    if opened_ago <= 8:
        return
    commune = s.rng.choice(COMMUNES)
    s.send("StartGpSearch", PASS, opened_ago - 6, commune=commune, languages=[language] if language else [],
           needs_phone_interpreting=bool(language))
    if opened_ago <= 10:
        return
    orientation = s.uuid()
    gp = f"MG-{s.rng.randint(1, 296):03d}"  # 296 GPs listed around Rouen
    s.send("OrientToGp", PASS, opened_ago - 8, orientation_id=orientation, gp_ref=gp,
           gp_commune=commune, accepts_phone_interpreting=s.chance(0.5))
    # The GP is an entry of the future directory of services: consent names it by reference.
    s.send("GrantConsent", PASS, opened_ago - 8, agency=gp, categories=CONSENTED["health_care"],
           collected_by=s.collector(PASS), informed_by=s.informed())
    called_ago = opened_ago - 18
    if called_ago < 1:
        return
    if s.chance(REACHED):
        s.send("RecordFollowUpCall", PASS, called_ago, orientation_id=orientation, reached=True)
        went = s.chance(WENT_IF_REACHED)
        s.send("RecordGpVisitOutcome", PASS, called_ago, orientation_id=orientation,
               outcome="went" if went else "did_not_go", reason=None if went else s.rng.choice(NOT_WENT))
        if went and called_ago > 10 and s.chance(0.85):
            _close(s, called_ago - 7, "handed_over", "Suivi par le médecin traitant.")
        elif not went and called_ago > 20 and s.chance(0.5):
            _close(s, called_ago - 15, "other", "Nouvelle orientation à envisager avec la personne.")
    else:
        s.send("RecordFollowUpCall", PASS, called_ago, orientation_id=orientation, reached=False)
        if s.chance(0.5):
            s.send("RecordPhoneStatus", PASS, called_ago, status="changed")
        for attempt in range(s.rng.randint(1, 3)):
            if called_ago - 2 * (attempt + 1) >= 1:
                s.send("RecordContactAttempt", EMSP if street else CASO, called_ago - 2 * (attempt + 1),
                       reached=False, channel="visit" if street else "phone")
        if called_ago > 30 and s.chance(0.7):
            _close(s, called_ago - 25, "lost_to_follow_up", "Personne injoignable depuis l'orientation.")


def generate(count: int, *, seed: int = 1, territory: str = "76", now: datetime | None = None) -> Iterator[Story]:
    """`count` pathways of the four kinds, in the mix of KIND_WEIGHTS (every kind present from
    four pathways up), facts up to the last working day before `now` (default: now)."""
    now = now or datetime.now(PARIS)
    rng = random.Random(seed)
    kinds, weights = list(KIND_WEIGHTS), list(KIND_WEIGHTS.values())
    occupancy = [0] * (HISTORY_DAYS + 1)
    for index in range(count):
        kind = kinds[index] if index < len(kinds) else rng.choices(kinds, weights)[0]
        story = Story(pathway_id=UUID(int=rng.getrandbits(128), version=4), kind=kind,
                      rng=random.Random(rng.getrandbits(64)), territory=territory, now=now)
        stay = _sas_stay(story, occupancy) if kind == "sas" else None
        if stay is not None:
            _sas(story, *stay)
        else:
            if kind == "sas":  # the SAS is full: this person arrives by another pathway
                story.kind = kind = story.rng.choice(list(STORIES))
            STORIES[kind](story)
        story.enter_late()
        story.enter()
        yield story


STORIES = {"detention": _detention, "maternity": _maternity, "pass_gp": _pass_gp}
