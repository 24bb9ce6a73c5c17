"""The directory through GraphQL: the owner edits its services, anyone searches, a coordinator
matches a pathway and refers through the match (a quota place taken), everything audited."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from tests.unit.gateway.conftest import token

SERVICE_FIELDS = "id owner name acceptingNewPatients quotaLeft stale languages"
OUTCOME = "__typename ... on ServiceAccepted { version duplicate } ... on CommandRefused { field reason code }"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _register(api, as_: str, **details: Any) -> str:
    sid = str(uuid.uuid4())
    sheet = {"name": "Cabinet du Dr Lefèvre", "kind": "MG", "organization": "Cabinet Lefèvre",
             "codeInsee": "76540", "commune": "Rouen", "languages": ["fr", "ar"],
             "horairesAccueil": "Mo-Su 00:00-24:00", **details}
    out = api("mutation($i: RegisterServiceInput!) { registerService(input: $i) { " + OUTCOME + " } }",
              {"i": {"commandId": str(uuid.uuid4()), "serviceId": sid, "occurredAt": _now(), "details": sheet,
                     "quota": {"places": 1, "period": "WEEK"}}}, as_=as_)["registerService"]
    assert out["__typename"] == "ServiceAccepted", out
    return sid


def test_only_the_owning_agency_stops_its_service_intake_and_the_refusal_names_the_field(api) -> None:
    mg, pass_ = token("mg", "medecin"), token("pass", "medecin")
    sid = _register(api, mg)
    stop = "mutation($i: StopServiceIntakeInput!) { stopServiceIntake(input: $i) { " + OUTCOME + " } }"
    variables = {"i": {"commandId": str(uuid.uuid4()), "serviceId": sid, "occurredAt": _now(), "reason": "complet"}}
    refused = api(stop, variables, as_=pass_)["stopServiceIntake"]
    assert refused["code"] == "NOT_SERVICE_OWNER" and refused["field"] == "actor.agency"
    assert api(stop, variables, as_=mg)["stopServiceIntake"]["__typename"] == "ServiceAccepted"
    found = api("{ directoryServices(filter: {accepting: false}) { " + SERVICE_FIELDS + " } }",
                as_=pass_)["directoryServices"]
    assert [s["id"] for s in found] == [sid]


def test_a_bad_opening_hours_value_is_refused_with_its_field_in_french(api) -> None:
    mg = token("mg", "medecin")
    out = api("mutation($i: RegisterServiceInput!) { registerService(input: $i) { " + OUTCOME + " } }",
              {"i": {"commandId": str(uuid.uuid4()), "serviceId": str(uuid.uuid4()), "occurredAt": _now(),
                     "details": {"name": "Cabinet X", "kind": "MG", "organization": "X", "codeInsee": "76540",
                                 "commune": "Rouen", "horairesAccueil": "le lundi"}}}, as_=mg)["registerService"]
    assert out["field"] == "details.horairesAccueil" and "OpenStreetMap" in out["reason"]


def test_a_coordinator_matches_the_pathway_refers_through_the_match_and_the_last_place_is_gone(api) -> None:
    mg, pass_ = token("mg", "medecin"), token("pass", "medecin")
    sid = _register(api, mg)
    pid = str(uuid.uuid4())
    assert api.send("OpenPassGpPathway", {"pathwayId": pid, "personRef": "P-dir01", "territory": "76",
                                          "leadAgency": "pass"}, as_=pass_)["__typename"] == "CommandAccepted"
    assert api.send("StartGpSearch", {"pathwayId": pid, "commune": "76540", "languages": ["ar"],
                                      "needsPhoneInterpreting": False}, as_=pass_)["__typename"] == "CommandAccepted"
    match = "query($p: UUID!) { matchServices(pathwayId: $p, kind: MG) { score service { id quotaLeft } " \
            "reasons { criterion met text } } }"
    [found] = api(match, {"p": pid}, as_=pass_)["matchServices"]
    assert found["service"]["id"] == sid and found["service"]["quotaLeft"] == 1
    assert {"criterion": "LANGUAGE", "met": True, "text": "Parle ar."} in found["reasons"]
    refer = ("mutation($i: ReferThroughMatchInput!) { referThroughMatch(input: $i) { __typename "
             "... on CommandRefused { code } } }")
    made = api(refer, {"i": {"commandId": str(uuid.uuid4()), "pathwayId": pid, "serviceId": sid,
                             "referralId": str(uuid.uuid4()), "occurredAt": _now()}}, as_=pass_)["referThroughMatch"]
    assert made["__typename"] == "CommandAccepted"
    assert api(match, {"p": pid}, as_=pass_)["matchServices"] == []  # its one place of the week is taken
    second = api(refer, {"i": {"commandId": str(uuid.uuid4()), "pathwayId": pid, "serviceId": sid,
                               "referralId": str(uuid.uuid4()), "occurredAt": _now()}}, as_=pass_)
    assert second["referThroughMatch"]["code"] == "QUOTA_EXHAUSTED"


def test_an_agency_outside_the_pathway_cannot_match_it(api) -> None:
    pass_, dac = token("pass", "medecin"), token("dac", "coordinateur")
    pid = str(uuid.uuid4())
    api.send("OpenPassGpPathway", {"pathwayId": pid, "personRef": "P-dir02", "territory": "76",
                                   "leadAgency": "pass"}, as_=pass_)
    response = api.post("query($p: UUID!) { matchServices(pathwayId: $p) { score } }", {"p": pid}, as_=dac)
    assert response.json()["errors"][0]["extensions"]["code"] == "UNKNOWN_PATHWAY"
