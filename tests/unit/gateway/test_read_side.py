"""The one read side in the embedded mode: read-your-writes by version, `asOf` replayed through
the same projections with today's membership and consent, and a health check without counts."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone

from tests.unit.gateway.conftest import Api, token

Q = """query($id: UUID!, $v: Int, $asOf: DateTime) { pathway(id: $id, atLeastVersion: $v, asOf: $asOf) {
  version personRef needs { description } access { hiddenCategories }
  timeline { totalCount entries { position label } } } }"""


def open_detention(api: Api, who: str) -> str:
    pid = str(uuid.uuid4())
    api.send("OpenDetentionPathway", {"pathwayId": pid, "personRef": "P-r", "territory": "76", "leadAgency": "usmp",
                                      "prison": "CP"}, as_=who)
    return pid


def test_a_client_reads_its_own_write_by_asking_for_the_version_the_mutation_answered(api):
    usmp = token("usmp")
    pid = open_detention(api, usmp)
    out = api.send("RecordNeed", {"pathwayId": pid, "needId": str(uuid.uuid4()), "category": "HOUSING",
                                  "description": "Hébergement à la sortie"}, as_=usmp, settle=False)
    data = api(Q, {"id": pid, "v": out["version"]}, as_=usmp)["pathway"]
    assert data["version"] >= out["version"]
    assert data["needs"] == [{"description": "Hébergement à la sortie"}]
    assert data["timeline"]["totalCount"] == out["version"]


def test_as_of_replays_the_past_through_the_projections_and_judges_it_on_todays_consent(api):
    usmp, siao = token("usmp"), token("siao", "coordinateur")
    pid = open_detention(api, usmp)
    api.send("AddAgency", {"pathwayId": pid, "agency": "siao", "role": "HOUSING"}, as_=usmp)
    api.send("GrantConsent", {"pathwayId": pid, "agency": "siao", "categories": ["IDENTITY"], "collectedBy": "p-recueil", "informedBy": "ORAL"}, as_=usmp)
    time.sleep(0.01)  # the next event is recorded strictly after `moment`
    moment = datetime.now(timezone.utc)
    time.sleep(0.01)
    api.send("RecordNeed", {"pathwayId": pid, "needId": str(uuid.uuid4()), "category": "HOUSING",
                            "description": "plus tard"}, as_=usmp)
    then = api(Q, {"id": pid, "asOf": moment.isoformat()}, as_=siao)["pathway"]
    assert then["version"] == 3 and then["needs"] == [] and then["personRef"] == "P-r"
    assert [e["position"] for e in then["timeline"]["entries"]] == [1, 2, 3]
    # The timeline read model's own label and category (identity: consented; the rest hidden).
    assert [e["label"] for e in then["timeline"]["entries"]] == [
        "Parcours ouvert (sortie de détention) par USMP du centre pénitentiaire du Havre", None, None]
    api.send("WithdrawConsent", {"pathwayId": pid, "agency": "siao", "categories": ["IDENTITY"], "collectedBy": "p-recueil", "informedBy": "ORAL"}, as_=usmp)
    past = api(Q, {"id": pid, "asOf": moment.isoformat()}, as_=siao)["pathway"]
    assert past["personRef"] is None and "IDENTITY" in past["access"]["hiddenCategories"]  # withdrawn today
    api.send("RemoveAgency", {"pathwayId": pid, "agency": "siao", "reason": "fin"}, as_=usmp)
    assert api(Q, {"id": pid, "asOf": moment.isoformat()}, as_=siao)["pathway"] is None


def test_health_says_only_the_status_and_the_mode(api):
    assert api.client.get("/health").json() == {"status": "ok", "mode": "embedded"}
