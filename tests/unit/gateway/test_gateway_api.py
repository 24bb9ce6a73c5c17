"""The gateway through GraphQL (Starlette TestClient on an embedded Relais): disclosure,
consent withdrawal at once, asOf, pagination, typed refusals, audit, hardening."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone

import pytest

from tests.unit.gateway.conftest import Api, token

PATHWAY_Q = """query($id: UUID!, $asOf: DateTime) { pathway(id: $id, asOf: $asOf) {
  id kind personRef version asOf access { membership visibleCategories hiddenCategories }
  needs { category description } alerts { ruleId suggestedAction subject }
  redactions { field category reason message }
  timeline { totalCount entries { position type label } } } }"""


def open_detention(api: Api, as_: str, **extra) -> str:
    pid = str(uuid.uuid4())
    out = api.send("OpenDetentionPathway", {"pathwayId": pid, "personRef": "P-abc123", "territory": "76",
                                           "leadAgency": "usmp", "prison": "CP synthétique", **extra}, as_=as_)
    assert out["__typename"] == "CommandAccepted", out
    return pid


@pytest.fixture
def usmp() -> str:
    return token("usmp", "medecin")


def test_the_care_team_sees_everything_its_role_needs(api, usmp):
    pid = open_detention(api, usmp)
    api.send("RecordNeed", {"pathwayId": pid, "needId": str(uuid.uuid4()), "category": "ADDICTION",
                            "description": "Traitement de substitution"}, as_=usmp)
    data = api(PATHWAY_Q, {"id": pid}, as_=usmp)["pathway"]
    assert data["personRef"] == "P-abc123"
    assert data["needs"][0]["description"] == "Traitement de substitution"
    assert data["redactions"] == []
    assert data["access"]["membership"] == "CARE_TEAM"


def test_an_agency_outside_the_pathway_gets_null_not_an_error(api, usmp):
    pid = open_detention(api, usmp)
    response = api.post(PATHWAY_Q, {"id": pid}, as_=token("caso", "medecin"))
    assert response.json() == {"data": {"pathway": None}}


def test_outside_the_care_team_consent_opens_a_category_and_its_withdrawal_closes_it_at_once(api, usmp):
    pid = open_detention(api, usmp)
    api.send("AddAgency", {"pathwayId": pid, "agency": "siao", "role": "HOUSING"}, as_=usmp)
    siao = token("siao", "coordinateur")
    before = api(PATHWAY_Q, {"id": pid}, as_=siao)["pathway"]
    assert before["personRef"] is None
    assert {"field": "personRef", "category": "IDENTITY", "reason": "CONSENT"}.items() <= before["redactions"][0].items()
    api.send("GrantConsent", {"pathwayId": pid, "agency": "siao", "categories": ["IDENTITY", "SOCIAL"], "collectedBy": "p-recueil", "informedBy": "ORAL"}, as_=usmp)
    granted = api(PATHWAY_Q, {"id": pid}, as_=siao)["pathway"]
    assert granted["personRef"] == "P-abc123"
    api.send("WithdrawConsent", {"pathwayId": pid, "agency": "siao", "categories": ["IDENTITY"], "collectedBy": "p-recueil", "informedBy": "ORAL"}, as_=usmp)
    withdrawn = api(PATHWAY_Q, {"id": pid}, as_=siao)["pathway"]
    assert withdrawn["personRef"] is None
    assert "IDENTITY" in withdrawn["access"]["hiddenCategories"]


def test_a_role_never_sees_medical_fields_its_job_does_not_need(api, usmp):
    pid = open_detention(api, usmp)
    api.send("RecordNeed", {"pathwayId": pid, "needId": str(uuid.uuid4()), "category": "ADDICTION",
                            "description": "Traitement de substitution"}, as_=usmp)
    social_worker = token("usmp", "assistante_sociale")
    data = api(PATHWAY_Q, {"id": pid}, as_=social_worker)["pathway"]
    assert data["needs"] == [{"category": None, "description": None}]
    assert any(r["field"] == "needs[0].description" and r["reason"] == "ROLE" for r in data["redactions"])
    labels = [e["label"] for e in data["timeline"]["entries"]]
    # The timeline read model's label, naming the agency by the registry's display name.
    assert None in labels and "Parcours ouvert (sortie de détention) par USMP du centre pénitentiaire du Havre" in labels


def test_a_referral_to_an_addiction_service_is_hidden_alike_in_the_pathway_and_its_timeline(api, usmp):
    pid = open_detention(api, usmp)
    referral = str(uuid.uuid4())
    api.send("MakeReferral", {"pathwayId": pid, "referralId": referral, "toAgency": "csapa-rouen",
                              "service": "addictologie"}, as_=usmp)
    api.send("UpdateReferralStatus", {"pathwayId": pid, "referralId": referral, "status": "ACCEPTED"}, as_=usmp)
    query = """query($id: UUID!) { pathway(id: $id) { referrals { toAgency service infoCategory }
      timeline { entries { type label infoCategory } } } }"""
    social_worker = token("usmp", "assistante_sociale")
    seen = api(query, {"id": pid}, as_=social_worker)["pathway"]
    assert seen["referrals"] == [{"toAgency": None, "service": None, "infoCategory": "MEDICAL"}]
    # The referral and its later step (which follows its referral) are hidden in the timeline too.
    assert seen["timeline"]["entries"][1:] == [{"type": None, "label": None, "infoCategory": "MEDICAL"}] * 2
    doctor = api(query, {"id": pid}, as_=usmp)["pathway"]
    assert doctor["referrals"][0]["toAgency"] == "csapa-rouen"
    assert [(e["type"], e["infoCategory"]) for e in doctor["timeline"]["entries"][1:]] == [
        ("ReferralMade", "MEDICAL"), ("ReferralStatusChanged", "MEDICAL")]


def test_as_of_shows_the_pathway_as_it_was_known_then(api, usmp):
    pid = open_detention(api, usmp)
    time.sleep(0.05)
    moment = datetime.now(timezone.utc)
    time.sleep(0.05)
    api.send("AddAgency", {"pathwayId": pid, "agency": "siao", "role": "HOUSING"}, as_=usmp)
    now = api(PATHWAY_Q, {"id": pid}, as_=usmp)["pathway"]
    then = api(PATHWAY_Q, {"id": pid, "asOf": moment.isoformat()}, as_=usmp)["pathway"]
    assert (now["version"], then["version"]) == (2, 1)
    assert then["timeline"]["totalCount"] == 1
    assert then["asOf"] is not None


def test_pathways_are_paginated_with_a_cursor_and_filtered(api, usmp):
    ids = {open_detention(api, usmp) for _ in range(5)}
    seen, after = [], None
    while True:
        page = api("query($after: String) { pathways(first: 2, after: $after, filter: {kind: DETENTION, state: OPEN}) "
                   "{ totalCount pageInfo { hasNextPage endCursor } edges { node { id } } } }",
                   {"after": after}, as_=usmp)["pathways"]
        seen += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert set(seen) == ids and len(seen) == 5
    none = api("{ pathways(filter: {kind: SAS}) { totalCount } }", as_=usmp)["pathways"]
    assert none["totalCount"] == 0


def test_a_refused_command_names_the_field_and_the_reason_in_french(api, usmp):
    pid = open_detention(api, usmp)
    out = api.send("RemoveAgency", {"pathwayId": pid, "agency": "usmp", "reason": "fin"}, as_=usmp)
    assert out["__typename"] == "CommandRefused" and out["reason"]
    bad = api.send("OpenSasPathway", {"pathwayId": pid, "personRef": "P", "territory": "76", "leadAgency": "sas",
                                      "arrivedOn": "2026-11-01"}, as_=token("sas", "medecin"))
    assert bad == {"__typename": "CommandRefused", "field": "pathwayId", "code": "PATHWAY_ALREADY_EXISTS",
                   "reason": "ce parcours existe déjà"}


def test_a_repeated_command_id_changes_nothing(api, usmp):
    pid = open_detention(api, usmp)
    fields = {"commandId": str(uuid.uuid4()), "occurredAt": datetime.now(timezone.utc).isoformat(), "pathwayId": pid,
              "agency": "siao", "role": "HOUSING"}
    first = api.send("AddAgency", fields, as_=usmp)
    again = api.send("AddAgency", fields, as_=usmp)
    assert first["version"] == again["version"] and again["duplicate"] is True


def test_a_role_cannot_write_a_category_it_does_not_need(api, usmp):
    pid = open_detention(api, usmp)
    out = api.send("RecordTreatmentToContinue", {"pathwayId": pid, "treatmentId": str(uuid.uuid4()),
                                                 "kind": "SUBSTITUTION", "name": "méthadone", "prescribedBy": "usmp"},
                   as_=token("usmp", "benevole"))
    assert out["__typename"] == "CommandRefused" and out["code"] == "FORBIDDEN"


def test_every_read_is_audited_and_only_the_dpo_reads_the_audit(api, usmp):
    pid = open_detention(api, usmp)
    api(PATHWAY_Q, {"id": pid}, as_=usmp)
    query = ('query($id: ID) { auditEvents(filter: {pathwayId: $id}) { events { professional agency role '
             'operation categories outcome action purpose } } }').replace("$id: ID", "$id: UUID")
    events = api(query, {"id": pid}, as_=token("cnil", "dpo_regional"))["auditEvents"]["events"]
    read = [e for e in events if e["operation"] == "pathway"]
    assert read and read[0]["agency"] == "usmp" and read[0]["role"] == "medecin"
    # What the answer holds: personRef (identity); nothing administrative was selected.
    assert set(read[0]["categories"]) == {"identity"}
    assert read[0]["purpose"] == "CAREMGT" and read[0]["action"] == "R"
    refused = api.post(query, {"id": pid}, as_=usmp).json()
    assert refused["data"] is None and refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_a_missing_or_bad_token_is_refused_clearly(api):
    assert api.post("{ me { agency } }").json()["errors"][0]["message"] == "Authentification requise."
    bad = api.post("{ me { agency } }", as_="not-a-jwt")
    assert bad.status_code == 401 and "Jeton invalide" in bad.text


@pytest.mark.parametrize(("query", "words"), [
    ("{ me { agency " + "}" * 0 + "} }", None),
    ("query { " + " ".join(f"a{i}: me {{ agency }}" for i in range(20)) + " }", "alias"),
    ("query { pathways { edges { node { timeline { entries { redactions { field } } pageInfo { endCursor } } "
     "alerts { redactions { field } } } } } }", None),
    ("{ __schema { types { name } } }", "Introspection complète désactivée"),
    ("{ me { " + " ".join(["agency"] * 2100) + " } }", "trop longue"),
])
def test_hostile_queries_are_refused_with_a_clear_message(api, query, words):
    body = api.post(query, as_=token("usmp")).json()
    if words is None:
        assert "errors" not in body or all("Traceback" not in e["message"] for e in body["errors"])
    else:
        assert any(words in e["message"] for e in body["errors"]), body


def test_too_deep_a_query_is_refused(api):
    from gateway.hardening import MAX_DEPTH

    inner = "agency"
    for _ in range(MAX_DEPTH + 2):
        inner = f"pathways {{ edges {{ node {{ {inner} }} }} }}"
    body = api.post("{ " + inner + " }", as_=token("usmp")).json()
    assert "errors" in body
    assert any("trop profonde" in e["message"] or "Cannot query" in e["message"] for e in body["errors"])


def test_a_depth_beyond_the_limit_on_real_fields_is_refused():
    from graphql import parse, validate

    from gateway.hardening import DEPTH_RULE, MAX_DEPTH
    from gateway.schema import build_schema

    schema = build_schema()._schema
    depth = "pathways { edges { node { timeline { entries { redactions { field } } } } } }"  # depth 7
    assert not validate(schema, parse("{ " + depth + " }"), [DEPTH_RULE])
    deep = "{ caseload { edges { node { timeline { entries { redactions { field } } } } } } " + \
           "pathways { edges { node { alerts { redactions { field } } } } } }"
    assert not validate(schema, parse(deep), [DEPTH_RULE]) and MAX_DEPTH >= 7


def test_page_sizes_are_capped(api, usmp):
    body = api.post("{ pathways(first: 1000) { totalCount } }", as_=usmp).json()
    assert "entre 1 et 50" in body["errors"][0]["message"]


def test_an_oversized_body_is_refused_before_parsing(api, usmp):
    response = api.client.post("/graphql", content=b"{" + b" " * 70_000 + b"}",
                               headers={"Authorization": f"Bearer {usmp}", "Content-Type": "application/json"})
    assert response.status_code == 413 and "trop volumineux" in response.text


def test_field_suggestions_are_off_and_errors_carry_no_stack_trace(api, usmp):
    body = api.post("{ pathwayz { id } }", as_=usmp).json()
    assert "Did you mean" not in body["errors"][0]["message"]
    assert "Traceback" not in str(body)


def test_batched_requests_are_refused(api, usmp):
    response = api.client.post("/graphql", json=[{"query": "{ me { agency } }"}] * 2,
                               headers={"Authorization": f"Bearer {usmp}"})
    assert response.status_code == 400


def test_the_validation_rules_are_built_once_so_the_validation_cache_hits(api, usmp):
    from strawberry.extensions.validation_cache import _get_validate_cache

    cache = _get_validate_cache(512)
    api.post("{ me { agency } }", as_=usmp)
    hits = cache.cache_info().hits
    for _ in range(3):
        api.post("{ me { agency } }", as_=usmp)
    assert cache.cache_info().hits >= hits + 3


def test_the_rate_limit_is_per_token():
    from gateway.hardening import RateLimiter

    now = [0.0]
    limiter = RateLimiter(per_minute=3, clock=lambda: now[0])
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b")
    now[0] += 20.0
    assert limiter.allow("a")


def test_a_page_of_pathways_costs_one_batch_of_read_model_queries(api, usmp):
    for _ in range(6):
        open_detention(api, usmp)
    stats = api.client.app.state.gateway.stats
    before = stats["sql_batches"]
    page = api("{ pathways(first: 6) { edges { node { id needs { description } alerts { ruleId } "
               "timeline { totalCount entries { position } } } } } }", as_=usmp)["pathways"]["edges"]
    assert stats["sql_batches"] - before == 2  # the pathways of the page, then their timelines
    assert [e["node"]["timeline"]["totalCount"] for e in page] == [1] * 6
    assert all(e["node"]["timeline"]["entries"] == [{"position": 1}] for e in page)


def test_one_pathway_with_its_timeline_costs_one_read_model_call_and_shows_the_same_entries(api, usmp):
    pid = open_detention(api, usmp)
    for n in range(3):
        api.send("RecordContactAttempt", {"pathwayId": pid, "reached": n == 2, "channel": "phone"}, as_=usmp)
    stats = api.client.app.state.gateway.stats
    query = ("query($id: UUID!, $first: Int!) { pathway(id: $id) { id timeline(first: $first, after: 1) "
             "{ totalCount entries { position label } } } }")
    before = stats["sql_batches"]
    direct = api(query, {"id": pid, "first": 2}, as_=usmp)["pathway"]["timeline"]
    assert stats["sql_batches"] - before == 1  # the pathway and its timeline page, read together
    # Through a fragment the timeline is read by its own resolver: the same answer, one more batch.
    before = stats["sql_batches"]
    spread = api("query($id: UUID!, $first: Int!) { pathway(id: $id) { id ...T } } "
                 "fragment T on Pathway { timeline(first: $first, after: 1) { totalCount entries { position label } } }",
                 {"id": pid, "first": 2}, as_=usmp)["pathway"]["timeline"]
    assert stats["sql_batches"] - before == 2
    assert direct == spread
    assert direct["totalCount"] == 4 and [e["position"] for e in direct["entries"]] == [2, 3]


def test_the_exported_sdl_is_up_to_date():
    from pathlib import Path

    from gateway.schema import sdl

    exported = Path(__file__).resolve().parents[3] / "docs" / "graphql" / "schema.graphql"
    assert exported.read_text() == sdl(), "régénérez : python -m gateway.schema > docs/graphql/schema.graphql"


def test_the_agency_admin_registers_the_agencys_webhook_and_sees_the_secret_once(api):
    query = 'mutation { registerAlertWebhook(url: "https://siao.example/relais") { agency url secret } }'
    registered = api(query, as_=token("siao", "admin_structure"))["registerAlertWebhook"]
    assert registered["agency"] == "siao" and len(registered["secret"]) >= 32
    refused = api.post(query, as_=token("siao", "benevole")).json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    bad = api.post('mutation { registerAlertWebhook(url: "javascript:alert(1)") { url } }',
                   as_=token("siao", "admin_structure")).json()
    assert bad["errors"][0]["extensions"]["code"] == "BAD_URL"
