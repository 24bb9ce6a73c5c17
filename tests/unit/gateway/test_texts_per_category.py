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


ALERT_Q = """query($id: UUID!) { pathway(id: $id) { alerts { ruleId ruleLabel suggestedAction
  redactions { field category reason } } } }"""


def _raise(api, pid: str, rule: str, owner: str, action: str) -> None:  # noqa: ANN001
    from datetime import datetime, timezone

    result = api.client.app.state.gateway.pathways.handle_payload("RaiseAlert", {
        "command_id": str(uuid.uuid4()), "pathway_id": pid,
        "actor": {"agency": "relais", "professional": "risk-engine", "role": "systeme"},
        "occurred_at": datetime.now(timezone.utc).isoformat(), "alert_id": str(uuid.uuid4()), "rule_id": rule,
        "subject": "coverage", "triggering_event_ids": [], "owner_agency": owner, "severity": "high",
        "suggested_action": action})
    assert result.accepted, result
    api.settle(pid, result.version)


def _detention_with_spip(api) -> tuple[str, str, str]:  # noqa: ANN001
    usmp, spip = token("usmp", "medecin"), token("spip", "conseiller_penitentiaire")
    pid = str(uuid.uuid4())
    api.send("OpenDetentionPathway", {"pathwayId": pid, "personRef": "P-txt1", "territory": "76",
                                      "leadAgency": "usmp", "prison": "CP synthétique"}, as_=usmp)
    api.send("GrantConsent", {"pathwayId": pid, "agency": "spip", "categories": ["IDENTITY", "SOCIAL", "ADMINISTRATIVE"],
                              **PROOF}, as_=usmp)
    api.send("AddAgency", {"pathwayId": pid, "agency": "spip", "role": "JUSTICE"}, as_=usmp)
    return pid, usmp, spip


def test_an_owner_without_medical_need_reads_an_actionable_sentence_without_the_care(api):
    from domain import texts

    pid, usmp, spip = _detention_with_spip(api)
    action = texts.compose("Déposer la demande de droits santé avant ",
                           texts.part("le rendez-vous cardiologie du 04/12", "medical", "l'échéance du 04/12"), ".",
                           category="administrative")
    _raise(api, pid, "rights-not-open", "spip", action)
    [seen] = api(ALERT_Q, {"id": pid}, as_=spip)["pathway"]["alerts"]
    assert seen["suggestedAction"] == "Déposer la demande de droits santé avant l'échéance du 04/12."
    assert seen["ruleId"] == "rights-not-open" and seen["ruleLabel"] == "Droits santé non ouverts"
    assert {"field": "suggestedAction", "category": "MEDICAL", "reason": "ROLE"} in seen["redactions"]
    [doctor] = api(ALERT_Q, {"id": pid}, as_=usmp)["pathway"]["alerts"]
    assert doctor["suggestedAction"] == "Déposer la demande de droits santé avant le rendez-vous cardiologie du 04/12."


def test_the_rule_of_a_medical_alert_is_not_named_to_a_reader_without_medical_need(api):
    pid, _usmp, spip = _detention_with_spip(api)
    _raise(api, pid, "treatment-continuity", "usmp", "Prendre un rendez-vous pour la buprénorphine.")
    [seen] = api(ALERT_Q, {"id": pid}, as_=spip)["pathway"]["alerts"]
    assert seen["ruleId"] is None and seen["ruleLabel"] == "Point d'attention sur le parcours"
    assert seen["suggestedAction"] is None
    assert {"field": "ruleId", "category": "MEDICAL", "reason": "ROLE"} in seen["redactions"]
