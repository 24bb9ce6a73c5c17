"""Pathways of the seed situations, built through the aggregates' own command methods.

Times: DAY0 is Monday 2 March 2026, 09:00 UTC (10:00 in Rouen). The rules read local days in
the territory's time zone (Europe/Paris), so `paris_midnight(day)` is where a "within N days"
threshold starts.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from domain import DetentionPathway, MaternityPathway, PassGpPathway, SasPathway
from domain.rules import TerritorySettings
from domain.values import Actor, ParticipantRole

PARIS = ZoneInfo("Europe/Paris")
DAY0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)

#: Seine-Maritime (Rouen): the territory of the MdM report.
ROUEN = TerritorySettings(
    territory="76", siao_agency="siao-76", cpam_agency="cpam-76", dac_agency="dac-rouen",
)


def at(days: float = 0, hours: float = 0) -> datetime:
    return DAY0 + timedelta(days=days, hours=hours)


def on(days: int) -> date:
    return (DAY0 + timedelta(days=days)).date()


def paris_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=PARIS).astimezone(timezone.utc)


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS).astimezone(timezone.utc)


MICRO = timedelta(microseconds=1)

PASS = Actor("pass-chu-rouen", "pro-as-12", "assistante sociale")
CASO = Actor("mdm-caso-rouen", "benevole-4", "accueillant")
SIAO = Actor("siao-76", "pro-siao-3", "coordinateur")
CPAM = Actor("cpam-76", "pro-cpam-1", "conseillère")
DAC = Actor("dac-rouen", "pro-dac-1", "coordinatrice")
EMPP = Actor("empp-rouen", "pro-empp-2", "infirmier psy")
CADA = Actor("cada-rouen", "pro-cada-2", "assistante sociale")
CARDIO = Actor("chu-rouen-cardiologie", "pro-cardio-1", "secrétariat")
USMP = Actor("usmp-rouen", "pro-usmp-5", "infirmier")
SPIP = Actor("spip-76", "pro-spip-8", "conseillère d'insertion")
CSAPA = Actor("csapa-rouen", "pro-csapa-1", "médecin")
MATERNITY = Actor("maternite-chu-rouen", "pro-mat-6", "assistante sociale")
PMI = Actor("pmi-76", "pro-pmi-2", "puéricultrice")
ADOMA = Actor("adoma-sas-rouen", "pro-sas-9", "intervenant social")
CLAT = Actor("clat-76", "pro-clat-1", "infirmière")
RISK = Actor("relais", "risk-engine", "moteur de règles")

ROLES = {
    SIAO.agency: ParticipantRole.HOUSING,
    CPAM.agency: ParticipantRole.RIGHTS,
    PASS.agency: ParticipantRole.HEALTH_CARE,
    CARDIO.agency: ParticipantRole.HEALTH_CARE,
    USMP.agency: ParticipantRole.HEALTH_CARE,
    CSAPA.agency: ParticipantRole.ADDICTION_CARE,
    DAC.agency: ParticipantRole.COORDINATION,
    EMPP.agency: ParticipantRole.MENTAL_HEALTH,
    PMI.agency: ParticipantRole.MATERNAL_CHILD,
    CLAT.agency: ParticipantRole.SCREENING,
    CADA.agency: ParticipantRole.SOCIAL_SUPPORT,
    CASO.agency: ParticipantRole.HEALTH_CARE,
}


def join(pathway, *actors: Actor, consent: bool = True) -> None:
    """The lead adds agencies (with the role they hold) and, unless told, the person's consent."""
    lead = Actor(pathway.lead_agency, "pro-lead", "référent")
    for actor in actors:
        if consent:
            pathway.grant_consent(agency=actor.agency, categories=["social", "medical"], collected_by="p-recueil", informed_by="oral", actor=lead,
                                  occurred_at=pathway.opened_at)
        if actor.agency not in pathway.participants:
            pathway.add_agency(agency=actor.agency, role=ROLES.get(actor.agency, ParticipantRole.OTHER),
                               actor=lead, occurred_at=pathway.opened_at)


def release(release_in_days: int | None = 25, *agencies: Actor, consent: bool = True) -> DetentionPathway:
    """Sortie de détention from the Maison d'arrêt de Rouen, led by the SPIP."""
    pathway = DetentionPathway(
        id=uuid4(), person_ref="P-SPIP-0007", territory="76", lead_agency=SPIP.agency,
        prison="Maison d'arrêt de Rouen", release_date=on(release_in_days) if release_in_days is not None else None,
        actor=SPIP, occurred_at=at(0),
    )
    join(pathway, *(agencies or (USMP, SIAO, CSAPA)), consent=consent)
    return pathway


def maternity_discharge(discharge_in_days: int = 5, *agencies: Actor) -> MaternityPathway:
    pathway = MaternityPathway(
        id=uuid4(), person_ref="P-MAT-0019", territory="76", lead_agency=MATERNITY.agency,
        maternity_ward="Maternité CHU Rouen", discharge_date=on(discharge_in_days), actor=MATERNITY, occurred_at=at(0),
    )
    join(pathway, *(agencies or (SIAO,)))
    return pathway


def sas_arrival(from_high_tb_endemicity: bool = True, *agencies: Actor) -> SasPathway:
    pathway = SasPathway(
        id=uuid4(), person_ref="P-SAS-0101", territory="76", lead_agency=ADOMA.agency,
        arrived_on=on(0), from_high_tb_endemicity=from_high_tb_endemicity, actor=ADOMA, occurred_at=at(0),
    )
    join(pathway, *(agencies or (SIAO, PASS, CLAT)))
    return pathway


def mdm_rouen(*agencies: Actor) -> PassGpPathway:
    """Relais PASS -> médecine de ville, followed by the MdM CASO in Rouen."""
    pathway = PassGpPathway(id=uuid4(), person_ref="P-MDM-0042", territory="76", lead_agency=CASO.agency,
                            actor=CASO, occurred_at=at(0))
    join(pathway, *(agencies or (PASS,)))
    return pathway


def mr_m(*agencies: Actor) -> PassGpPathway:
    """Mr M., 75, housed in a CADA, needs cardiology and an Arabic interpreter."""
    pathway = PassGpPathway(id=uuid4(), person_ref="P-CADA-0075", territory="76", lead_agency=CADA.agency,
                            actor=CADA, occurred_at=at(0))
    join(pathway, *(agencies or (PASS, CARDIO, CPAM)))
    pathway.record_interpreter_need(language="arabe", actor=CADA, occurred_at=at(0))
    return pathway


def raise_alert_for(pathway, finding, when: datetime) -> UUID:
    """What the engine does with a finding: an AlertRaised event on the pathway."""
    alert_id = uuid4()
    pathway.raise_alert(
        alert_id=alert_id, rule_id=finding.rule_id, subject=finding.subject,
        triggering_event_ids=finding.fact_refs, owner_agency=finding.owner_agency,
        suggested_action=finding.suggested_action, severity=finding.severity, actor=RISK, occurred_at=when,
    )
    return alert_id


def keys(findings) -> set[tuple[str, str]]:
    return {f.key for f in findings}
