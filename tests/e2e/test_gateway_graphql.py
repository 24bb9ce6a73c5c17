"""The gateway served by uvicorn on 127.0.0.1 (embedded mode), driven by a real GraphQL
client (gql: HTTPX transport for queries and mutations, websockets transport with
graphql-transport-ws for subscriptions)."""

from __future__ import annotations

import asyncio
import enum
import re
import uuid
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest
from gql import Client, GraphQLRequest
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXTransport
from gql.transport.websockets import WebsocketsTransport

from gateway.mutations import INPUTS, NOT_MUTATIONS, camel, graphql_input
from gateway.serving import serve
from services.pathways.commands import COMMANDS
from services.settings import Settings
from services.territory.synthetic import generate
from tests.tokens import identity_settings, token

NOW = datetime.now(timezone.utc)


def tok(agency: str, role: str = "medecin") -> str:
    return token(agency, role, f"{agency}-pro")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from gateway.app import create_app
    from services.bootstrap import build_embedded

    settings = Settings(state_dir=tmp_path_factory.mktemp("relais"), mode="embedded", read_wait_timeout_s=2.0,
                        **identity_settings())
    runtime = build_embedded(settings, risk=False)
    ENGINE["pathways"] = runtime.pathways
    with serve(create_app(runtime)) as base:
        yield base


def client(server: str, token: str) -> Client:
    return Client(transport=HTTPXTransport(url=f"{server}/graphql", headers={"Authorization": f"Bearer {token}"},
                                           timeout=30))


def run(server: str, token: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    with client(server, token) as session:
        return session.execute(GraphQLRequest(query, variable_values=variables or {}))


#: The served runtime's command handler: what the risk engine sends (no token may raise an alert).
ENGINE: dict[str, Any] = {}
ENGINE_ACTOR = {"agency": "relais", "professional": "risk-engine", "role": "moteur de règles"}


def as_engine(command: str, fields: dict[str, Any]) -> dict[str, Any]:
    """`command` (GraphQL-shaped fields) sent as the risk engine, answered as a mutation is."""
    snake = {re.sub(r"(?<!^)(?=[A-Z])", "_", k).lower(): v.lower() if k == "severity" else v for k, v in fields.items()}
    result = ENGINE["pathways"].handle_payload(command, {**snake, "command_id": str(uuid.uuid4()), "actor": ENGINE_ACTOR,
                                                         "occurred_at": datetime.now(timezone.utc).isoformat()})
    assert result.accepted, result.rejection
    return {"__typename": "CommandAccepted", "version": result.version, "duplicate": result.duplicate}


def send(server: str, token: str, command: str, fields: dict[str, Any]) -> dict[str, Any]:
    name = command[0].lower() + command[1:]
    query = (f"mutation($input: {command}Input!) {{ {name}(input: $input) {{ __typename "
             "... on CommandAccepted { version duplicate } ... on CommandRefused { field reason code } } }")
    body = {"commandId": str(uuid.uuid4()), "occurredAt": datetime.now(timezone.utc).isoformat(), **fields}
    return run(server, token, query, {"input": body})[name]


to_input = graphql_input  # a synthetic command payload (snake_case, enum values) as its GraphQL input


# --------------------------------------------------------------------------- mutations
def test_a_synthetic_territory_sent_through_the_gateway_is_accepted_command_by_command(server):
    sent = 0
    for story in generate(8, seed=7, territory="75"):
        for command, payload in story.commands:
            agency = payload["actor"]["agency"]
            out = send(server, tok(agency), command, to_input(command, payload))
            assert out["__typename"] == "CommandAccepted", (command, out)
            sent += 1
    assert sent > 60


def _value_for(python_type: Any, name: str) -> Any:
    import typing

    args = [a for a in typing.get_args(python_type) if a is not type(None)]
    if args and typing.get_origin(python_type) is not list:
        python_type = args[0]
    if typing.get_origin(python_type) is list:
        inner = typing.get_args(python_type)[0]
        return [_value_for(inner, name)]
    if python_type is uuid.UUID:
        return str(uuid.uuid4())
    if python_type is bool:
        return False
    if python_type is datetime:
        return (NOW + timedelta(days=3)).isoformat()
    if python_type is date:
        return (NOW + timedelta(days=3)).date().isoformat()
    if isinstance(python_type, type) and issubclass(python_type, enum.Enum):
        return list(python_type)[0].name
    return f"valeur {name}"


KIND_OF = {"detention": "OpenDetentionPathway", "maternity": "OpenMaternityPathway", "sas": "OpenSasPathway",
           "pass_gp": "OpenPassGpPathway"}


@pytest.mark.parametrize("command", sorted(set(COMMANDS) - NOT_MUTATIONS))  # erasure: erasePerson, by person
def test_every_command_answers_a_typed_outcome_never_an_error(server, command):
    model = COMMANDS[command]
    kind = model.pathway_kind.value if model.pathway_kind is not None else "detention"
    pid = str(uuid.uuid4())
    opening = {"pathwayId": pid, "personRef": "P-e2e", "territory": "76", "leadAgency": "usmp",
               "prison": "CP", "maternityWard": "Maternité", "arrivedOn": NOW.date().isoformat()}
    opener = KIND_OF[kind]
    opener_fields = {k: v for k, v in opening.items() if camel_field(opener, k)}
    if command != opener:
        assert send(server, tok("usmp"), opener, opener_fields)["__typename"] == "CommandAccepted"
    input_type = INPUTS[command]
    fields = {"pathwayId": pid}
    for f in input_type.__strawberry_definition__.fields:
        if f.python_name in ("command_id", "pathway_id", "occurred_at"):
            continue
        fields[camel(f.python_name)] = _value_for(f.type_annotation.annotation if f.type_annotation else f.type,
                                                  f.python_name)
    if command == opener:
        fields = {**fields, **opener_fields}
    out = send(server, tok("usmp"), command, fields)
    assert out["__typename"] in ("CommandAccepted", "CommandRefused")
    if out["__typename"] == "CommandRefused":
        assert out["reason"] and out["code"] and "Traceback" not in out["reason"]


def camel_field(command: str, key: str) -> bool:
    return key in {camel(f) for f in COMMANDS[command].model_fields}


def test_each_command_family_is_accepted_in_a_coherent_scenario(server):
    usmp, pid = tok("usmp"), str(uuid.uuid4())
    def ok(c: str, f: dict[str, Any], t: str = usmp) -> dict[str, Any]:
        if c in ("RaiseAlert", "EscalateAlert"):  # the risk engine's commands (domain.writepolicy)
            return as_engine(c, {"pathwayId": pid, **f})
        return send(server, t, c, {"pathwayId": pid, **f})

    assert ok("OpenDetentionPathway", {"personRef": "P-fam", "territory": "76", "leadAgency": "usmp",
                                       "prison": "CP", "releaseDate": (NOW + timedelta(days=10)).date().isoformat()}
              )["__typename"] == "CommandAccepted"
    need, ref, conf, act, alert, req = (str(uuid.uuid4()) for _ in range(6))
    steps = [
        ("AddAgency", {"agency": "siao", "role": "HOUSING"}), ("AddAgency", {"agency": "dac", "role": "COORDINATION"}),
        ("GrantConsent", {"agency": "siao", "categories": ["SOCIAL", "IDENTITY"], "collectedBy": "p-recueil", "informedBy": "ORAL"}),
        ("WithdrawConsent", {"agency": "siao", "categories": ["IDENTITY"], "collectedBy": "p-recueil", "informedBy": "ORAL"}),
        ("RemoveAgency", {"agency": "dac", "reason": "n'intervient plus"}),
        ("RecordNeed", {"needId": need, "category": "HOUSING", "description": "hébergement à la sortie"}),
        ("MakeReferral", {"referralId": ref, "toAgency": "siao", "service": "115", "needId": need}),
        ("UpdateReferralStatus", {"referralId": ref, "status": "ACCEPTED"}),
        ("RecordReferralOutcome", {"referralId": ref, "outcome": "HONOURED"}),
        ("MarkNeedMet", {"needId": need}),
        ("RequestHousing", {"requestId": req, "viaAgency": "siao"}),
        ("OfferHousing", {"requestId": req, "place": "CHRS Les Tilleuls",
                          "availableOn": (NOW + timedelta(days=9)).date().isoformat()}),
        ("DeclineHousing", {"requestId": req, "reason": "place trop éloignée"}),
        ("ApplyForCoverage", {"scheme": "CSS", "appliedOn": NOW.date().isoformat()}),
        ("RecordContactAttempt", {"reached": True}),
        ("HoldCaseConference", {"conferenceId": conf, "agencies": ["usmp", "siao"], "decisions": ["Relancer le SIAO"]}),
        ("AssignAction", {"conferenceId": conf, "actionId": act, "ownerAgency": "siao", "description": "Relancer",
                          "dueOn": (NOW + timedelta(days=2)).date().isoformat()}),
        ("CompleteAction", {"actionId": act}),
        ("RaiseAlert", {"alertId": alert, "ruleId": "exit-without-housing", "subject": "pathway",
                        "triggeringEventIds": [], "ownerAgency": "siao", "suggestedAction": "Confirmer un hébergement",
                        "severity": "HIGH"}),
        ("AcknowledgeAlert", {"alertId": alert}),
        ("EscalateAlert", {"alertId": alert, "toAgency": "usmp", "reason": "aucune place"}),
        ("ResolveAlert", {"alertId": alert, "reason": "place trouvée"}),
        ("ScheduleRelease", {"releaseDate": (NOW + timedelta(days=12)).date().isoformat()}),
        ("RecordRelease", {"releasedOn": NOW.date().isoformat()}),
        ("ClosePathway", {"outcome": "HANDED_OVER", "reason": "relais effectué"}),
        ("ReopenPathway", {"reason": "nouvelle demande"}),
    ]
    for command, fields in steps:
        out = ok(command, fields)
        assert out["__typename"] == "CommandAccepted", (command, out)


def test_a_refusal_names_the_input_field_in_camel_case(server):
    out = send(server, tok("sas"), "OpenSasPathway", {"pathwayId": str(uuid.uuid4()), "personRef": "P",
                                                      "territory": "76", "leadAgency": "sas", "arrivedOn": "2026-11-01",
                                                      "fromHighTbEndemicity": True})
    assert out["__typename"] == "CommandAccepted"
    bad = send(server, tok("sas"), "RecordNeed", {"pathwayId": str(uuid.uuid4()), "needId": str(uuid.uuid4()),
                                                  "category": "CARE", "description": "   "})
    assert bad["__typename"] == "CommandRefused" and bad["field"] == "description"


# --------------------------------------------------------------------------- queries
@pytest.fixture(scope="module")
def populated(server):
    usmp = tok("usmp")
    pid = str(uuid.uuid4())
    send(server, usmp, "OpenDetentionPathway", {"pathwayId": pid, "personRef": "P-q", "territory": "75",
                                               "leadAgency": "usmp", "prison": "CP Caen"})
    send(server, usmp, "AddAgency", {"pathwayId": pid, "agency": "siao", "role": "HOUSING"})
    alert = str(uuid.uuid4())
    raised = as_engine("RaiseAlert", {"pathwayId": pid, "alertId": alert, "ruleId": "exit-without-housing",
                                               "subject": "pathway", "triggeringEventIds": [], "ownerAgency": "siao",
                                               "suggestedAction": "Confirmer un hébergement", "severity": "CRITICAL"})
    # Read your writes: the next reads see the alert (the query waits for the read models).
    run(server, usmp, "query($id: UUID!, $v: Int) { pathway(id: $id, atLeastVersion: $v) { version } }",
        {"id": pid, "v": raised["version"]})
    return pid, alert


def test_every_query_answers_over_http(server, populated):
    pid, alert = populated
    usmp = tok("usmp")
    me = run(server, usmp, "{ me { agency role categoriesNeeded } }")["me"]
    assert me == {"agency": "usmp", "role": "DOCTOR", "categoriesNeeded": ["ADMINISTRATIVE", "IDENTITY", "MEDICAL", "SOCIAL"]}
    page = run(server, usmp, '{ pathways(filter: {territory: "75", hasOpenAlert: true}) { totalCount '
                             'edges { node { id personRef openAlerts { ruleId } } } } }')["pathways"]
    assert page["totalCount"] == 1 and page["edges"][0]["node"]["openAlerts"][0]["ruleId"] == "exit-without-housing"
    one = run(server, usmp, "query($id: UUID!) { pathway(id: $id) { id openNeeds { needId } referrals { referralId } "
                            "actions { actionId } alerts { alertId } timeline(first: 2) { totalCount "
                            "pageInfo { hasNextPage endCursor } entries { position label } } } }", {"id": pid})["pathway"]
    assert one["timeline"]["totalCount"] == 3 and one["timeline"]["pageInfo"]["hasNextPage"]
    past = run(server, usmp, "query($id: UUID!, $at: DateTime) { pathway(id: $id, asOf: $at) { version } }",
               {"id": pid, "at": (datetime.now(timezone.utc) - timedelta(days=365)).isoformat()})["pathway"]
    assert past is None  # it was not known a year ago
    caseload = run(server, tok("siao", "coordinateur"), "{ caseload { totalCount edges { node { id } } } }")["caseload"]
    assert pid in [e["node"]["id"] for e in caseload["edges"]]
    alerts = run(server, tok("siao", "coordinateur"),
                 "{ alerts(filter: {ownedByMyAgency: true}) { edges { node { alertId severity suggestedAction } } } }")
    assert alerts["alerts"]["edges"][0]["node"]["alertId"] == alert
    audit = run(server, tok("cnil", "dpo_regional"), "query($id: UUID) { auditEvents(filter: {pathwayId: $id}) "
                                            "{ events { operation agency outcome } } }", {"id": pid})
    assert {"pathway", "pathways", "caseload", "alerts"} <= {e["operation"] for e in audit["auditEvents"]["events"]}


@pytest.fixture(scope="module")
def served_embedded(tmp_path_factory):
    """`relais serve`'s embedded wiring: read models and risk engine on the bus."""
    from gateway.app import create_app
    from services.bootstrap import build_embedded

    settings = Settings(state_dir=tmp_path_factory.mktemp("relais"), mode="embedded", synthetic_pathways=0,
                        **identity_settings())
    with serve(create_app(build_embedded(settings))) as base:
        yield base


def test_an_analyst_reads_indicators_but_no_pathway(served_embedded):
    import time

    server = served_embedded
    send(server, tok("usmp"), "OpenDetentionPathway", {"pathwayId": str(uuid.uuid4()), "personRef": "P-i",
                                                        "territory": "75", "leadAgency": "usmp", "prison": "CP Caen"})
    query = ('{ territoryIndicators(territory: "75") { territory pathwaysOpened pathwaysByKind { key count } '
             "openAlertsByRule { key count } smallCountThreshold } }")
    deadline = time.monotonic() + 20
    while True:  # the read model follows the bus
        indicators = run(server, tok("ars", "analyste"), query)["territoryIndicators"]
        if indicators["pathwaysByKind"] or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert indicators["pathwaysByKind"] == [{"key": "detention", "count": None}]  # 1 < 5: hidden
    assert indicators["pathwaysOpened"] is None  # else it would give the hidden count away
    with pytest.raises(TransportQueryError) as refused:
        run(server, tok("ars", "analyste"), "{ pathways { totalCount } }")
    assert "rôle" in str(refused.value)


# --------------------------------------------------------------------------- subscriptions
async def _subscribe(server: str, token: str, query: str, variables: dict[str, Any], count: int,
                     trigger=None, until=None) -> list[dict[str, Any]]:  # noqa: ANN001
    transport = WebsocketsTransport(url=server.replace("http", "ws") + "/graphql",
                                    init_payload={"Authorization": f"Bearer {token}"},
                                    subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL])
    got: list[dict[str, Any]] = []
    async with Client(transport=transport) as session:
        async def consume() -> None:
            async for result in session.subscribe(GraphQLRequest(query, variable_values=variables)):
                got.append(result["alertChanges"])
                if (until is None and len(got) >= count) or (until is not None and until(got[-1])):
                    return

        task = asyncio.create_task(consume())
        await asyncio.sleep(0.5)
        if trigger is not None:
            await asyncio.to_thread(trigger)
        await asyncio.wait_for(task, 20)
    return got


SUB = ("subscription($after: String, $p: UUID) { alertChanges(after: $after, pathwayId: $p) "
       "{ cursor change alert { alertId ruleId status suggestedAction consentVersion redactions { field reason } } } }")


def test_a_subscriber_receives_alert_changes_and_resumes_after_its_last_cursor(server, populated):
    pid, alert = populated
    siao = tok("siao", "coordinateur")
    live = asyncio.run(_subscribe(server, siao, SUB, {"p": pid}, 1, trigger=lambda: send(
        server, tok("usmp"), "AcknowledgeAlert", {"pathwayId": pid, "alertId": alert})))
    assert live[0]["change"] == "ACKNOWLEDGED" and live[0]["alert"]["alertId"] == alert
    replay = asyncio.run(_subscribe(server, siao, SUB, {"after": "0", "p": pid}, 2))
    assert [c["change"] for c in replay] == ["RAISED", "ACKNOWLEDGED"]
    assert replay[0]["alert"]["suggestedAction"] is None  # SIAO: outside the care team, no consent
    resumed = asyncio.run(_subscribe(server, siao, SUB, {"after": replay[0]["cursor"], "p": pid}, 1))
    assert resumed[0]["change"] == "ACKNOWLEDGED"


def test_a_withdrawal_is_in_effect_for_the_next_read_and_for_an_open_subscription(server):
    usmp, siao = tok("usmp"), tok("siao", "coordinateur")
    pid, alert = str(uuid.uuid4()), str(uuid.uuid4())
    send(server, usmp, "OpenDetentionPathway", {"pathwayId": pid, "personRef": "P-w", "territory": "75",
                                               "leadAgency": "usmp", "prison": "CP Caen"})
    send(server, usmp, "AddAgency", {"pathwayId": pid, "agency": "siao", "role": "HOUSING"})
    send(server, usmp, "GrantConsent", {"pathwayId": pid, "agency": "siao", "categories": ["IDENTITY", "SOCIAL"], "collectedBy": "p-recueil", "informedBy": "ORAL"})
    raised = as_engine("RaiseAlert", {"pathwayId": pid, "alertId": alert, "ruleId": "exit-without-housing",
                                               "subject": "pathway", "triggeringEventIds": [], "ownerAgency": "siao",
                                               "suggestedAction": "Confirmer un hébergement", "severity": "HIGH"})
    query = ("query($id: UUID!, $v: Int) { pathway(id: $id, atLeastVersion: $v) { personRef "
             "alerts { suggestedAction } } }")
    seen = run(server, siao, query, {"id": pid, "v": raised["version"]})["pathway"]
    assert seen == {"personRef": "P-w", "alerts": [{"suggestedAction": "Confirmer un hébergement"}]}

    def withdraw_then_acknowledge() -> None:
        send(server, usmp, "WithdrawConsent", {"pathwayId": pid, "agency": "siao", "categories": ["IDENTITY", "SOCIAL"], "collectedBy": "p-recueil", "informedBy": "ORAL"})
        after = run(server, siao, query, {"id": pid})["pathway"]  # no version asked: in effect already
        assert after == {"personRef": None, "alerts": [{"suggestedAction": None}]}
        send(server, usmp, "AcknowledgeAlert", {"pathwayId": pid, "alertId": alert})

    changes = asyncio.run(_subscribe(server, siao, SUB, {"p": pid}, 1, trigger=withdraw_then_acknowledge,
                                     until=lambda c: c["change"] == "ACKNOWLEDGED"))
    acknowledged = changes[-1]["alert"]
    assert acknowledged["suggestedAction"] is None  # the open subscription honours the withdrawal
    assert acknowledged["consentVersion"] == 2  # and names the version it was decided on
    assert {"field": "suggestedAction", "reason": "CONSENT"} in acknowledged["redactions"]


def test_asking_for_a_version_the_read_models_do_not_reach_in_time_is_a_clear_error(server, populated):
    pid, _ = populated
    with pytest.raises(TransportQueryError) as late:
        run(server, tok("usmp"), "query($id: UUID!) { pathway(id: $id, atLeastVersion: 10000) { version } }",
            {"id": pid})
    assert late.value.errors[0]["extensions"]["code"] == "VERSION_NOT_YET_READABLE"
    assert "vues de lecture" in late.value.errors[0]["message"]


def test_a_websocket_without_a_valid_token_is_refused(server):
    with pytest.raises(Exception):  # noqa: B017 - gql raises its transport error on close 4403
        asyncio.run(_subscribe(server, "forged", SUB, {}, 1))
