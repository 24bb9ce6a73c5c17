"""The lead changes only by an explicit handover: the lead (or coordination) hands it to an
agency of the pathway, which then acts as the lead; the change is on the timeline (the lead's
and the new lead's) and in the audit trail. Opening a pathway for another lead is refused and
the refusal points to the handover."""

from __future__ import annotations

import uuid

from tests.unit.gateway.conftest import token
from tests.unit.gateway.test_trust_boundary import accepted, join, open_detention

LEAD = "query($id: UUID!) { pathway(id: $id) { leadAgency participants { agency role } } }"
TIMELINE = "query($id: UUID!) { pathway(id: $id) { timeline { entries { type label agency } } } }"


def hand_over(api, pid: str, to: str, *, by: str = "usmp", role: str = "medecin", keeps: str = "HEALTH_CARE"):
    return api.send("HandOverLead", {"pathwayId": pid, "agency": to, "formerLeadRole": keeps,
                                     "reason": "Sortie de détention : le SIAO coordonne désormais"},
                    as_=token(by, role))


def test_the_lead_hands_over_and_the_new_lead_acts_as_the_lead(api):
    pid = open_detention(api)
    join(api, pid, "siao", "HOUSING")
    accepted(hand_over(api, pid, "siao"))
    seen = api(LEAD, {"id": pid}, as_=token("siao", "coordinateur"))["pathway"]
    assert seen["leadAgency"] == "siao"
    roles = {p["agency"]: p["role"] for p in seen["participants"]}
    assert roles == {"siao": "LEAD", "usmp": "HEALTH_CARE"}
    # The former lead no longer closes the pathway; the new one does.
    refused = api.send("ClosePathway", {"pathwayId": pid, "outcome": "OTHER", "reason": "x"},
                       as_=token("usmp", "medecin"))
    assert refused["__typename"] == "CommandRefused" and refused["code"] == "FORBIDDEN"
    accepted(api.send("ClosePathway", {"pathwayId": pid, "outcome": "OTHER", "reason": "fin"},
                      as_=token("siao", "coordinateur")))


def test_the_handover_is_on_both_leads_timeline_and_in_the_audit_trail(api):
    pid = open_detention(api)
    join(api, pid, "siao", "HOUSING")
    accepted(hand_over(api, pid, "siao"))
    for agency, role in (("siao", "coordinateur"), ("usmp", "medecin")):
        entries = api(TIMELINE, {"id": pid}, as_=token(agency, role))["pathway"]["timeline"]["entries"]
        assert any(e["type"] == "LeadHandedOver" and "passe la main" in e["label"] for e in entries), agency
    trail = api("{ auditEvents(filter: {agency: \"usmp\"}) { events { operation outcome pathwayId } } }",
                as_=token("usmp", "dpo"))["auditEvents"]["events"]
    assert {"operation": "mutation.handOverLead", "outcome": "0", "pathwayId": pid} in trail


def test_a_member_that_is_neither_lead_nor_coordination_cannot_take_the_lead(api):
    pid = open_detention(api)
    join(api, pid, "siao", "HOUSING")
    out = hand_over(api, pid, "siao", by="siao", role="coordinateur")
    assert out["__typename"] == "CommandRefused" and out["field"] == "actor.agency"
    assert api(LEAD, {"id": pid}, as_=token("usmp", "medecin"))["pathway"]["leadAgency"] == "usmp"


def test_the_lead_goes_only_to_an_agency_of_the_pathway_and_the_former_lead_keeps_a_role(api):
    pid = open_detention(api)
    outside = hand_over(api, pid, "siao")
    assert outside["field"] == "agency" and "ajoutez-la" in outside["reason"]
    join(api, pid, "siao", "HOUSING")
    two_leads = hand_over(api, pid, "siao", keeps="LEAD")
    assert two_leads["field"] == "formerLeadRole"


def test_opening_for_another_lead_is_refused_and_points_to_the_handover(api):
    out = api.send("OpenPassGpPathway", {"pathwayId": str(uuid.uuid4()), "personRef": "P", "territory": "76",
                                         "leadAgency": "siao"}, as_=token("pass", "medecin"))
    assert out["__typename"] == "CommandRefused" and out["field"] == "leadAgency"
    assert "handOverLead" in out["reason"]
