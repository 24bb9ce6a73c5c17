"""GraphQL over HTTP as a partner's client sees it: the media type its Accept asks for, status
codes as the specification says, and variable errors answered in the error-code convention
(code, field path, French reason) — never as an internal error."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from gateway.overhttp import GRAPHQL_RESPONSE_JSON, NotAcceptable, negotiate
from tests.tokens import token

OPEN = ("mutation($input: OpenPassGpPathwayInput!) { openPassGpPathway(input: $input) "
        "{ ... on CommandAccepted { commandId } ... on CommandRefused { commandId code } } }")


def opening(**change: object) -> dict[str, object]:
    body: dict[str, object] = {"commandId": str(uuid.uuid4()), "pathwayId": str(uuid.uuid4()),
                               "occurredAt": datetime.now(timezone.utc).isoformat(), "territory": "76",
                               "personRef": "P-SYNTH-1", "leadAgency": "pass"}
    body.update(change)
    return {k: v for k, v in body.items() if v is not None}


@pytest.mark.parametrize(("accept", "expected"), [
    (None, "application/json"), ("*/*", "application/json"), ("application/json", "application/json"),
    (GRAPHQL_RESPONSE_JSON, GRAPHQL_RESPONSE_JSON),
    (f"application/json;q=0.5, {GRAPHQL_RESPONSE_JSON}", GRAPHQL_RESPONSE_JSON),
    (f"{GRAPHQL_RESPONSE_JSON};q=0.2, application/json", "application/json"),
])
def test_the_response_media_type_is_the_one_the_accept_header_ranks_highest(accept, expected) -> None:
    assert negotiate(accept) == expected


def test_an_accept_header_naming_no_json_type_is_not_acceptable(api) -> None:
    with pytest.raises(NotAcceptable):
        negotiate("text/html")
    answer = api.post("{ __typename }", headers={"Accept": "text/html"})
    assert answer.status_code == 406 and "Accept" in answer.text


def test_a_request_error_in_graphql_response_json_is_400_without_data(api) -> None:
    answer = api.post("{ me { agency ", as_=token("pass"), headers={"Accept": GRAPHQL_RESPONSE_JSON})
    assert answer.status_code == 400 and answer.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    assert "data" not in answer.json() and answer.json()["errors"]
    legacy = api.post("{ me { agency ", as_=token("pass"))
    assert legacy.status_code == 200 and legacy.headers["content-type"].startswith("application/json")


def test_a_field_error_in_graphql_response_json_keeps_data_and_200(api) -> None:
    answer = api.post("{ me { agency } }", headers={"Accept": GRAPHQL_RESPONSE_JSON})  # no token
    assert answer.status_code == 200 and "data" in answer.json()
    assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(("change", "code", "field"), [
    ({"personRef": None}, "REQUIRED_FIELD", "input.personRef"),
    ({"pathwayId": "pas-un-uuid"}, "INVALID_UUID", "input.pathwayId"),
])
def test_a_variable_error_names_its_code_its_field_and_a_french_reason(api, change, code, field) -> None:
    answer = api.post(OPEN, {"input": opening(**change)}, as_=token("pass", "medecin"),
                      headers={"Accept": GRAPHQL_RESPONSE_JSON})
    assert answer.status_code == 400
    (error,) = answer.json()["errors"]
    assert error["extensions"] == {"code": code, "field": field}
    assert error["message"].startswith("Variable « $input » invalide") and "Erreur interne" not in error["message"]


def test_an_unknown_enum_value_in_a_variable_is_unknown_enum_value(api) -> None:
    query = "query($f: PathwayFilter) { pathways(filter: $f) { totalCount } }"
    answer = api.post(query, {"f": {"kind": "NOT_A_KIND"}}, as_=token("pass", "medecin"))
    (error,) = answer.json()["errors"]
    assert error["extensions"] == {"code": "UNKNOWN_ENUM_VALUE", "field": "f.kind"}
    assert "valeur non reconnue" in error["message"]


def test_command_id_is_selectable_on_both_outcomes_and_a_replay_writes_nothing(api) -> None:
    body = opening()
    first = api(OPEN, {"input": body}, as_=token("pass", "medecin"))["openPassGpPathway"]
    assert first == {"commandId": body["commandId"]}
    again = api("mutation($input: OpenPassGpPathwayInput!) { openPassGpPathway(input: $input) "
                "{ ... on CommandAccepted { newEvents duplicate } } }", {"input": body}, as_=token("pass", "medecin"))
    assert again["openPassGpPathway"] == {"newEvents": 0, "duplicate": True}


@pytest.mark.parametrize(("body", "content_type", "code", "words"), [
    (b"{not json", "application/json", "MALFORMED_REQUEST", "Corps de requête illisible"),
    (b'{"variables": {}}', "application/json", "MISSING_QUERY", "« query » est obligatoire"),
    (b'{"query": "{ __typename }", "variables": [1]}', "application/json", "INVALID_VARIABLES", "« variables »"),
    (b"query=%7B__typename%7D", "application/x-www-form-urlencoded", "UNSUPPORTED_MEDIA_TYPE", "application/json"),
])
def test_a_request_strawberry_cannot_read_is_refused_in_french_with_a_code(api, body, content_type, code, words) -> None:
    for accept in (GRAPHQL_RESPONSE_JSON, "application/json"):
        answer = api.client.post("/graphql", content=body, headers={"Content-Type": content_type, "Accept": accept})
        assert answer.status_code == 400 and answer.headers["content-type"].startswith(accept)
        (error,) = answer.json()["errors"]
        assert error["extensions"] == {"code": code} and words in error["message"], error


def test_a_refused_token_too_many_requests_and_an_unknown_purpose_answer_coded_errors(api) -> None:
    forged = api.post("{ me { agency } }", as_="pas.un.jeton")
    assert forged.status_code == 401 and forged.headers["www-authenticate"] == "Bearer"
    assert forged.json()["errors"][0]["extensions"]["code"] == "INVALID_TOKEN"
    purpose = api.post("{ me { agency } }", as_=token("pass"), headers={"X-Relais-Purpose": "CURIOSITE"})
    assert purpose.status_code == 400 and purpose.json()["errors"][0]["extensions"]["code"] == "UNKNOWN_PURPOSE"
    assert "X-Relais-Purpose inconnu" in purpose.json()["errors"][0]["message"]


def test_a_not_acceptable_request_says_so_in_french_with_a_code(api) -> None:
    answer = api.post("{ __typename }", headers={"Accept": "text/html"})
    assert answer.status_code == 406 and answer.headers["content-type"].startswith("application/json")
    assert answer.json()["errors"][0]["extensions"]["code"] == "NOT_ACCEPTABLE"


def test_an_unknown_address_and_a_method_an_address_does_not_take_answer_french_coded_errors(api) -> None:
    unknown = api.client.get("/nowhere", headers={"Accept": GRAPHQL_RESPONSE_JSON})
    assert unknown.status_code == 404 and unknown.headers["content-type"].startswith(GRAPHQL_RESPONSE_JSON)
    assert unknown.json()["errors"][0]["extensions"] == {"code": "NOT_FOUND"}
    assert unknown.json()["errors"][0]["message"].startswith("Adresse inconnue")
    wrong = api.client.delete("/graphql/schema.graphql")
    assert wrong.status_code == 405 and "GET" in wrong.headers["allow"]
    assert wrong.json() == {"errors": [{"message": "Méthode HTTP non prise en charge à cette adresse (voir l'en-tête "
                                                   "Allow).", "extensions": {"code": "METHOD_NOT_ALLOWED"}}]}
