from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from uuid import uuid4

import pytest

from domain import DetentionPathway, MaternityPathway, PassGpPathway, SasPathway
from domain.values import Actor, ParticipantRole

DAY0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def at(days: float = 0, hours: float = 0) -> datetime:
    """A moment counted from DAY0 (the domain never reads the clock: tests pass time in)."""
    return DAY0 + timedelta(days=days, hours=hours)


def on(days: int) -> date:
    return (DAY0 + timedelta(days=days)).date()


PASS = Actor("pass-chu-rouen", "pro-as-12", "assistante sociale")
CASO = Actor("mdm-caso-rouen", "benevole-4", "accueillant")
SIAO = Actor("siao-76", "pro-siao-3", "coordinateur")
DAC = Actor("dac-rouen", "pro-dac-1", "coordinatrice")
CADA = Actor("cada-rouen", "pro-cada-2", "assistante sociale")
USMP = Actor("usmp-rouen", "pro-usmp-5", "infirmier")
SPIP = Actor("spip-76", "pro-spip-8", "conseillère d'insertion")
CSAPA = Actor("csapa-rouen", "pro-csapa-1", "médecin")
MATERNITY = Actor("maternite-chu-rouen", "pro-mat-6", "assistante sociale")
PMI = Actor("pmi-76", "pro-pmi-2", "puéricultrice")
ADOMA = Actor("adoma-sas-rouen", "pro-sas-9", "intervenant social")
CLAT = Actor("clat-76", "pro-clat-1", "infirmière")
RISK = Actor("relais", "risk-engine", "moteur de règles")


def join(pathway, *actors: Actor, role: ParticipantRole = ParticipantRole.COORDINATION) -> None:
    lead = pathway.last_actor
    for actor in actors:
        if actor.agency not in pathway.participants:
            pathway.add_agency(agency=actor.agency, role=role, actor=lead, occurred_at=pathway.opened_at)


@pytest.fixture
def pass_gp() -> PassGpPathway:
    pathway = PassGpPathway(
        id=uuid4(), person_ref="P-MDM-0042", territory="76", lead_agency=CASO.agency, actor=CASO, occurred_at=at(0)
    )
    join(pathway, PASS, DAC)
    return pathway


@pytest.fixture
def detention() -> DetentionPathway:
    pathway = DetentionPathway(
        id=uuid4(), person_ref="P-SPIP-0007", territory="76", lead_agency=SPIP.agency,
        prison="Maison d'arrêt de Rouen", release_date=on(20), actor=SPIP, occurred_at=at(0),
    )
    join(pathway, USMP, SIAO, CSAPA)
    return pathway


@pytest.fixture
def maternity() -> MaternityPathway:
    pathway = MaternityPathway(
        id=uuid4(), person_ref="P-MAT-0019", territory="76", lead_agency=MATERNITY.agency,
        maternity_ward="Maternité CHU Rouen", discharge_date=on(4), actor=MATERNITY, occurred_at=at(0),
    )
    join(pathway, SIAO)
    return pathway


@pytest.fixture
def sas() -> SasPathway:
    pathway = SasPathway(
        id=uuid4(), person_ref="P-SAS-0101", territory="76", lead_agency=ADOMA.agency,
        arrived_on=on(0), from_high_tb_endemicity=True, actor=ADOMA, occurred_at=at(0),
    )
    join(pathway, SIAO, PASS, CLAT)
    return pathway
