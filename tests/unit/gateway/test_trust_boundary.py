"""The attacks of issue 10 against a served gateway (embedded), each as a user would try it:
care-team widening, self-resolved and forged alerts, closing another agency's pathway, the
existence oracle, the 2999 date, the SSRF webhook, the DPO reading every hospital, an unknown
purpose, suggestions, ill-typed variables, missing security headers, anonymous floods. The
write matrix through GraphQL is test_write_matrix_graphql.py (the same oracle as through ingest)."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone

import pytest

from domain import writepolicy
from tests.unit.gateway.conftest import token

NOW = datetime.now(timezone.utc)
ENGINE = {"agency": "relais", "professional": "risk-engine", "role": "moteur de règles"}


def accepted(out: dict) -> dict:
    assert out["__typename"] == "CommandAccepted", out
    return out


def open_detention(api, lead: str = "usmp") -> str:
    pid = str(uuid.uuid4())
    accepted(api.send("OpenDetentionPathway", {"pathwayId": pid, "personRef": "P-abc", "territory": "76",
                                               "leadAgency": lead, "prison": "CP"}, as_=token(lead, "medecin")))
    return pid


def join(api, pid: str, agency: str, role: str, lead: str = "usmp") -> None:
    accepted(api.send("AddAgency", {"pathwayId": pid, "agency": agency, "role": role}, as_=token(lead, "medecin")))


def raise_alert(api, pid: str, owner: str, rule: str = "treatment-continuity") -> str:
    """What the risk engine does (no token can): through the runtime's command handler."""
    alert = str(uuid.uuid4())
    result = api.client.app.state.gateway.pathways.handle_payload("RaiseAlert", {
        "command_id": str(uuid.uuid4()), "pathway_id": pid, "actor": ENGINE, "occurred_at": datetime.now(timezone.utc).isoformat(),
        "alert_id": alert, "rule_id": rule, "subject": "t-1", "triggering_event_ids": [], "owner_agency": owner,
        "suggested_action": "Planifier la suite du traitement", "severity": "critical"})
    assert result.accepted, result.rejection
    api.settle(pid, result.version)
    return alert


def test_a_member_whose_role_writes_administrative_data_cannot_widen_the_care_team(api):
    pid = open_detention(api)
    join(api, pid, "cpam", "RIGHTS")
    out = api.send("AddAgency", {"pathwayId": pid, "agency": "caso", "role": "HEALTH_CARE"},
                   as_=token("cpam", "conseiller"))
    assert out["__typename"] == "CommandRefused" and out["field"] == "actor.agency" and "référente" in out["reason"]


def test_a_volunteer_can_neither_resolve_the_usmps_alert_nor_forge_one_nor_close_the_pathway(api):
    pid = open_detention(api)
    join(api, pid, "association", "SOCIAL_SUPPORT")
    alert = raise_alert(api, pid, owner="usmp")
    volunteer = token("association", "benevole")
    resolved = api.send("ResolveAlert", {"pathwayId": pid, "alertId": alert, "reason": "ok"}, as_=volunteer)
    assert resolved["__typename"] == "CommandRefused" and resolved["field"] == "alertId"
    forged = api.send("RaiseAlert", {"pathwayId": pid, "alertId": str(uuid.uuid4()), "ruleId": "stalled",
                                     "subject": "x", "triggeringEventIds": [], "ownerAgency": "association",
                                     "suggestedAction": "Texte inventé", "severity": "CRITICAL"}, as_=volunteer)
    assert forged["__typename"] == "CommandRefused" and "moteur de règles" in forged["reason"]
    closed = api.send("ClosePathway", {"pathwayId": pid, "outcome": "DECEASED", "reason": "faux"}, as_=volunteer)
    assert closed["__typename"] == "CommandRefused" and "référente" in closed["reason"]


def test_the_owner_resolves_its_alert_with_a_reason_and_it_is_audited(api):
    pid = open_detention(api)
    alert = raise_alert(api, pid, owner="usmp")
    accepted(api.send("ResolveAlert", {"pathwayId": pid, "alertId": alert, "reason": "RDV CSAPA pris"},
                      as_=token("usmp", "medecin")))
    trail = api("query($id: UUID) { auditEvents(filter: {pathwayId: $id}) { events { operation outcome agency } } }",
                {"id": pid}, as_=token("usmp", "dpo"))["auditEvents"]["events"]
    assert {"operation": "mutation.resolveAlert", "outcome": "0", "agency": "usmp"} in trail


def test_a_refusal_to_a_non_member_says_nothing_about_the_pathway(api):
    pid = open_detention(api)
    intruder = token("siao", "coordinateur")
    on_real = api.send("ScheduleRelease", {"pathwayId": pid, "releaseDate": "2027-01-02"}, as_=intruder)
    on_none = api.send("ScheduleRelease", {"pathwayId": str(uuid.uuid4()), "releaseDate": "2027-01-02"}, as_=intruder)
    assert on_real == on_none == {"__typename": "CommandRefused", "field": "pathwayId", "code": "UNKNOWN_PATHWAY",
                                  "reason": writepolicy.UNKNOWN_PATHWAY}
    forbidden_role = api.send("RecordTreatmentToContinue", {"pathwayId": pid, "treatmentId": str(uuid.uuid4()),
                                                             "kind": "SUBSTITUTION", "name": "m", "prescribedBy": "x"},
                              as_=token("siao", "benevole"))
    assert forbidden_role["code"] == "UNKNOWN_PATHWAY"  # membership before the role


def test_a_fact_dated_2999_is_refused_naming_occurred_at(api):
    pid = open_detention(api)
    out = api.send("RecordPhoneStatus", {"pathwayId": pid, "status": "LOST", "occurredAt": "2999-01-01T00:00:00Z"},
                   as_=token("usmp", "medecin"))
    assert out["__typename"] == "CommandRefused" and out["field"] == "occurredAt" and "futur" in out["reason"]


def test_a_pass_token_cannot_open_a_pathway_led_by_the_siao_nor_in_territory_99x(api):
    pass_ = token("pass", "medecin")
    base = {"personRef": "P", "territory": "76"}
    led = api.send("OpenPassGpPathway", {"pathwayId": str(uuid.uuid4()), **base, "leadAgency": "siao"}, as_=pass_)
    assert led["field"] == "leadAgency"
    nowhere = api.send("OpenPassGpPathway", {"pathwayId": str(uuid.uuid4()), **base, "territory": "99x",
                                             "leadAgency": "pass"}, as_=pass_)
    assert nowhere["field"] == "territory" and nowhere["code"] == "UNKNOWN_TERRITORY"


def test_a_case_conference_refusal_and_a_forbidden_write_are_audited_as_refused(api):
    pid = open_detention(api)
    api.send("ClosePathway", {"pathwayId": pid, "outcome": "OTHER", "reason": "x"}, as_=token("siao", "coordinateur"))
    trail = api("{ auditEvents(filter: {agency: \"siao\"}) { events { operation outcome categories } } }",
                as_=token("siao", "dpo"))["auditEvents"]["events"]
    assert {"operation": "mutation.closePathway", "outcome": "4", "categories": []} in trail


def test_a_dpo_reads_its_own_organisations_records_only_and_its_reads_are_audited(api):
    pid = open_detention(api)
    api("query($id: UUID!) { pathway(id: $id) { id } }", {"id": pid}, as_=token("usmp", "medecin"))
    other = api.post("{ auditEvents(filter: {agency: \"usmp\"}) { events { agency } } }", as_=token("siao", "dpo"))
    assert other.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    own = api("{ auditEvents { events { agency operation } } }", as_=token("siao", "dpo"))["auditEvents"]["events"]
    assert {e["agency"] for e in own} <= {"siao"}
    everyone = api("{ auditEvents { events { agency operation role categories } } }",
                   as_=token("cnil", "dpo_regional"))["auditEvents"]["events"]
    assert {"agency": "siao", "operation": "auditEvents", "role": "dpo", "categories": []} in everyone
    assert any(e["agency"] == "usmp" for e in everyone)


def test_a_query_selecting_only_the_id_logs_no_category(api):
    pid = open_detention(api)
    api("query($id: UUID!) { pathway(id: $id) { id } }", {"id": pid}, as_=token("usmp", "medecin"))
    trail = api("query($id: UUID) { auditEvents(filter: {pathwayId: $id}) { events { operation categories } } }",
                {"id": pid}, as_=token("usmp", "dpo"))["auditEvents"]["events"]
    assert {"operation": "pathway", "categories": []} in trail


def test_a_field_left_out_by_skip_or_include_is_not_logged_as_returned(api):
    pid = open_detention(api)
    query = "query($id: UUID!, $shown: Boolean!) { pathway(id: $id) { id personRef @include(if: $shown) } }"
    trail_query = "query($id: UUID) { auditEvents(filter: {pathwayId: $id}) { events { operation categories } } }"
    medic, dpo = token("usmp", "medecin"), token("usmp", "dpo")
    api(query, {"id": pid, "shown": False}, as_=medic)
    api("query($id: UUID!) { pathway(id: $id) { id personRef @skip(if: true) } }", {"id": pid}, as_=medic)
    left_out = api(trail_query, {"id": pid}, as_=dpo)["auditEvents"]["events"]
    assert [e["categories"] for e in left_out if e["operation"] == "pathway"] == [[], []]
    api(query, {"id": pid, "shown": True}, as_=medic)  # the same document: its names are not kept
    shown = api(trail_query, {"id": pid}, as_=dpo)["auditEvents"]["events"]
    assert sorted(len(e["categories"]) for e in shown if e["operation"] == "pathway") == [0, 0, 1]


def test_an_unknown_purpose_is_refused_with_a_clear_error(api):
    response = api.post("{ me { agency } }", as_=token("usmp", "medecin"), headers={"X-Relais-Purpose": "CURIOSITE"})
    assert response.status_code == 400 and "X-Relais-Purpose inconnu" in response.text


@pytest.mark.parametrize("url", ["http://siao.example/hook", "https://127.0.0.1/hook", "https://10.0.0.5/hook",
                                 "https://[::1]/hook", "https://169.254.169.254/latest/meta-data"])
def test_a_webhook_to_plain_http_or_an_internal_address_is_refused_outside_development(url):
    from services.alerting.webhooks import WebhookUrlRefused, check_webhook_url

    with pytest.raises(WebhookUrlRefused):
        check_webhook_url(url, development=False, resolve=lambda host: [host.strip("[]")])
    assert check_webhook_url("https://siao.example/hook", development=False, resolve=lambda h: ["93.184.216.34"])


def test_only_an_agency_admin_registers_its_webhook_and_it_is_audited(api):
    query = 'mutation { registerAlertWebhook(url: "https://siao.example/relais") { agency } }'
    refused = api.post(query, as_=token("siao", "coordinateur")).json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert api(query, as_=token("siao", "admin_structure"))["registerAlertWebhook"]["agency"] == "siao"
    trail = api("{ auditEvents { events { operation role outcome } } }", as_=token("siao", "dpo"))["auditEvents"]["events"]
    assert {"operation": "mutation.registerAlertWebhook", "role": "admin_structure", "outcome": "0"} in trail


def test_no_error_suggests_a_field_or_an_argument(api):
    for query in ("{ caseload(firs: 3) { totalCount } }", "{ me { agencyy } }"):
        body = api.post(query, as_=token("usmp", "medecin")).text
        assert "Did you mean" not in body and "first" not in body


def test_an_ill_typed_variable_is_a_variable_error_and_its_value_is_not_logged(api, caplog):
    caplog.set_level(logging.DEBUG)
    response = api.post("mutation($input: RecordPhoneStatusInput!) { recordPhoneStatus(input: $input) { __typename } }",
                        {"input": {"commandId": "VALEUR-SECRETE-42", "pathwayId": str(uuid.uuid4()),
                                   "occurredAt": NOW.isoformat(), "status": "secret-status-43"}},
                        as_=token("usmp", "medecin"))
    errors = response.json()["errors"]
    assert errors and {e["extensions"]["code"] for e in errors} <= {"INVALID_UUID", "UNKNOWN_ENUM_VALUE"}
    assert "Erreur interne" not in response.text and "VALEUR-SECRETE-42" not in response.text
    assert "VALEUR-SECRETE-42" not in caplog.text and "secret-status-43" not in caplog.text


def test_every_response_carries_the_security_headers(api):
    for response in (api.client.get("/health"), api.post("{ me { agency } }", as_=token("usmp", "medecin")),
                     api.post("{ me { agency } }", as_="pas-un-jeton")):
        assert response.headers["strict-transport-security"].startswith("max-age=")
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "default-src" in response.headers["content-security-policy"]


def test_invalid_token_traffic_is_rate_limited_too(api):
    limiter = api.client.app.state.gateway.rate_limiter
    limiter.capacity, limiter.rate = 3.0, 0.0001  # a small budget, not refilled during the test
    answers = [api.post("{ me { agency } }", as_="pas-un-jeton").status_code for _ in range(6)]
    assert answers[:3] == [401, 401, 401] and 429 in answers[3:]
