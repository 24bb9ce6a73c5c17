"""Need to know in every text (issue 11): what a role without medical need reads of medical facts."""

from __future__ import annotations

import uuid

from tests.unit.gateway.conftest import token

PROOF = {"collectedBy": "p-recueil", "informedBy": "ORAL"}
REFERRALS_Q = """query($id: UUID!) { pathway(id: $id) { referrals { toAgency service infoCategory }
  timeline { entries { type label infoCategory } } } }"""


def test_a_gp_orientation_is_a_medical_fact_not_mirrored_as_a_social_referral(api):
    pass_, dac = token("pass", "medecin"), token("dac", "coordinateur")
    pid = str(uuid.uuid4())
    api.send("OpenPassGpPathway", {"pathwayId": pid, "personRef": "P-gp01", "territory": "76", "leadAgency": "pass"},
             as_=pass_)
    api.send("GrantConsent", {"pathwayId": pid, "agency": "dac", "categories": ["IDENTITY", "SOCIAL", "ADMINISTRATIVE"],
                              **PROOF}, as_=pass_)
    api.send("AddAgency", {"pathwayId": pid, "agency": "dac", "role": "COORDINATION"}, as_=pass_)
    from datetime import date

    api.send("OpenCoverage", {"pathwayId": pid, "scheme": "CSS", "openedOn": date.today().isoformat()}, as_=pass_)
    out = api.send("OrientToGp", {"pathwayId": pid, "orientationId": str(uuid.uuid4()), "gpRef": "MG-042",
                                  "gpCommune": "Rouen"}, as_=pass_)
    assert out["__typename"] == "CommandAccepted", out
    seen = api(REFERRALS_Q, {"id": pid}, as_=dac)["pathway"]
    assert seen["referrals"] == [{"toAgency": None, "service": None, "infoCategory": "MEDICAL"}]
    oriented = [e for e in seen["timeline"]["entries"] if e["infoCategory"] == "MEDICAL"]
    assert oriented and all(e["label"] is None and e["type"] is None for e in oriented)
    carer = api(REFERRALS_Q, {"id": pid}, as_=pass_)["pathway"]
    assert carer["referrals"][0]["toAgency"] == "MG-042"  # the care team's doctor still reads it
