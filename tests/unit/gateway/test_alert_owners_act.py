"""Owners with non-medical roles read their alerts and send the commands that resolve them,
through the GraphQL API (issue 12: the DAC coordinator on care-refused, the maternity's social
worker on the PMI link, the SAS operator on the CLAT screening; the owner dismisses with a reason)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from services.clock import TestClock
from services.risk import RiskEngine, SQLiteDeadlineIndex
from services.settings import Settings
from tests.tokens import identity_settings
from tests.unit.gateway.conftest import Api, token


@dataclass
class Harness:
    api: Api
    engine: RiskEngine

    def evaluate(self, pathway_id: str) -> None:
        """What the embedded risk engine does on the pathway's last event (here, synchronously),
        then wait until the read models the API reads have applied what it wrote."""
        self.engine.clock.set(datetime.now(timezone.utc) + timedelta(seconds=1))
        self.engine.on_event(None, uuid.UUID(pathway_id))
        version = self.engine.pathways.app.repository.get(uuid.UUID(pathway_id)).version
        self.api.settle(pathway_id, version)


@pytest.fixture
def relais(tmp_path) -> Iterator[Harness]:
    from gateway.app import create_app
    from services.bootstrap import build_embedded

    system = build_embedded(Settings(state_dir=tmp_path, mode="embedded", **identity_settings()), risk=False)
    index = SQLiteDeadlineIndex()
    engine = RiskEngine(system.pathways, TestClock(datetime.now(timezone.utc)), index)
    with TestClient(create_app(system)) as client:
        yield Harness(Api(client), engine)
    index.close()

ALERTS_Q = """query($id: UUID!) { pathway(id: $id) { alerts { ruleId ownerAgency suggestedAction status } } }"""


def _accepted(out: dict) -> None:
    assert out["__typename"] == "CommandAccepted", out


def _alerts(api: Api, pid: str, as_: str, rule_id: str) -> list[dict]:
    return [a for a in api(ALERTS_Q, {"id": pid}, as_=as_)["pathway"]["alerts"] if a["ruleId"] == rule_id]


def test_the_sas_operator_records_the_clat_screening_and_the_maternity_social_worker_links_the_pmi(api) -> None:
    sas = token("sas", "travailleur_social")
    pid = str(uuid.uuid4())
    _accepted(api.send("OpenSasPathway", {"pathwayId": pid, "personRef": "P-sas001", "territory": "76",
                                          "leadAgency": "sas", "arrivedOn": "2026-03-02",
                                          "fromHighTbEndemicity": True}, as_=sas))
    _accepted(api.send("FlagTbScreeningNeed", {"pathwayId": pid}, as_=sas))
    _accepted(api.send("RecordClatScreening", {"pathwayId": pid, "screenedOn": "2026-03-05",
                                               "followUpNeeded": False}, as_=sas))

    maternity = token("maternite", "assistante_sociale")
    mid = str(uuid.uuid4())
    _accepted(api.send("OpenMaternityPathway", {"pathwayId": mid, "personRef": "P-mat001", "territory": "76",
                                                "leadAgency": "maternite", "maternityWard": "Maternité CHU",
                                                "dischargeDate": "2026-03-09"}, as_=maternity))
    _accepted(api.send("AddAgency", {"pathwayId": mid, "agency": "pmi", "role": "MATERNAL_CHILD"}, as_=maternity))
    _accepted(api.send("LinkPmi", {"pathwayId": mid, "pmiAgency": "pmi"}, as_=maternity))


def test_the_dac_coordinator_reads_the_care_refused_alert_it_owns_and_holds_the_conference(relais) -> None:
    api = relais.api
    pass_ = token("pass", "medecin")
    dac = token("dac", "coordinateur")
    pid = str(uuid.uuid4())
    _accepted(api.send("OpenPassGpPathway", {"pathwayId": pid, "personRef": "P-pass01", "territory": "76",
                                             "leadAgency": "pass"}, as_=pass_))
    _accepted(api.send("GrantConsent", {"pathwayId": pid, "agency": "dac",
                                        "categories": ["IDENTITY", "SOCIAL", "ADMINISTRATIVE"], "collectedBy": "p-recueil", "informedBy": "ORAL"}, as_=pass_))
    _accepted(api.send("AddAgency", {"pathwayId": pid, "agency": "dac", "role": "COORDINATION"}, as_=pass_))
    _accepted(api.send("RecordCareRefusal", {"pathwayId": pid, "refusalId": str(uuid.uuid4()),
                                             "care": "hospitalisation en psychiatrie", "proposedBy": "pass",
                                             "reason": "ne veut pas être enfermé"}, as_=pass_))

    relais.evaluate(pid)
    [alert] = _alerts(api, pid, dac, "care-refused")
    assert alert["ownerAgency"] == "dac"
    assert alert["suggestedAction"] and alert["suggestedAction"].startswith("La personne a refusé le ")
    assert "psychiatrie" not in alert["suggestedAction"]
    _accepted(api.send("HoldCaseConference", {"pathwayId": pid, "conferenceId": str(uuid.uuid4()),
                                              "agencies": ["dac", "pass"], "decisions": ["proposer un suivi EMPP"]},
                       as_=dac))
    relais.evaluate(pid)
    [alert] = _alerts(api, pid, dac, "care-refused")
    assert alert["status"] == "RESOLVED"


def test_the_owner_dismisses_an_alert_with_a_reason_and_acknowledging_twice_stores_one_event(relais) -> None:
    api = relais.api
    pass_ = token("pass", "medecin")
    dac = token("dac", "coordinateur")
    pid = str(uuid.uuid4())
    _accepted(api.send("OpenPassGpPathway", {"pathwayId": pid, "personRef": "P-pass02", "territory": "76",
                                             "leadAgency": "pass"}, as_=pass_))
    # The DAC reads the alert's rule (social) with the person's consent, as it would on the ground.
    _accepted(api.send("GrantConsent", {"pathwayId": pid, "agency": "dac", "categories": ["IDENTITY", "SOCIAL"],
                                        "collectedBy": "p-recueil", "informedBy": "ORAL"}, as_=pass_))
    _accepted(api.send("AddAgency", {"pathwayId": pid, "agency": "dac", "role": "COORDINATION"}, as_=pass_))
    _accepted(api.send("RecordCareRefusal", {"pathwayId": pid, "refusalId": str(uuid.uuid4()),
                                             "care": "hospitalisation", "proposedBy": "pass",
                                             "reason": "refus de la personne"}, as_=pass_))
    relais.evaluate(pid)
    alert_id = next(a.alert_id for a in relais.engine.pathways.app.get_pathway(uuid.UUID(pid)).open_alerts
                    if a.rule_id == "care-refused")

    first = api.send("AcknowledgeAlert", {"pathwayId": pid, "alertId": str(alert_id)}, as_=dac)
    second = api.send("AcknowledgeAlert", {"pathwayId": pid, "alertId": str(alert_id)}, as_=dac)
    assert second["version"] == first["version"]  # nothing stored the second time

    refused = api.send("DismissAlert", {"pathwayId": pid, "alertId": str(alert_id), "reason": "FALSE_ALARM"},
                       as_=pass_)
    assert refused.get("code") == "NOT_ALERT_OWNER", refused
    _accepted(api.send("DismissAlert", {"pathwayId": pid, "alertId": str(alert_id), "reason": "PERSON_REFUSED",
                                        "detail": "refus réitéré, suivi par le médecin traitant"}, as_=dac))
    [alert] = _alerts(api, pid, dac, "care-refused")
    assert alert["status"] == "DISMISSED"
