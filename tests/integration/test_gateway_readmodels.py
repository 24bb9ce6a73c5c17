"""Distributed mode: every gateway query reads the projections' read models, built by
`relais projections run`'s runners from Kafka, on the real broker and PostgreSQL; a client
reads its own writes (`atLeastVersion`) and a consent withdrawal is in effect for the next read."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timezone

import pytest
from eventsourcing.cipher import AESCipher
from fastapi.testclient import TestClient

from services.settings import Settings
from tests.tokens import identity_settings, token


class MemoryPositions:
    def __init__(self) -> None:
        self.value = 0

    def load(self, name: str) -> int:
        return self.value

    def save(self, name: str, notification_id: int) -> None:
        self.value = notification_id


@pytest.fixture
def settings(pg_url, pg_schema, kafka_bootstrap, kafka_admin, tmp_path):
    prefix = f"t{uuid.uuid4().hex[:10]}"
    names = [f"{prefix}.pathway-events", f"{prefix}.deadletter"]
    kafka_admin.create_topics({n: {"num_partitions": 3, "replication_factor": 1} for n in names},
                              wait_for_metadata=True)
    yield Settings(mode="distributed", database_url=pg_url, database_schema=pg_schema, kafka_bootstrap=kafka_bootstrap,
                   topic_prefix=prefix, state_dir=tmp_path, cipher_key=AESCipher.create_key(num_bytes=32),
                   environment="development", **identity_settings())
    kafka_admin.delete_topics(names, raise_errors=False)


def send(handler, name: str, pid: str, by: str, **fields) -> None:
    result = handler.handle_payload(name, {"command_id": str(uuid.uuid4()), "pathway_id": pid,
                                           "actor": {"agency": by, "professional": "p", "role": "medecin"},
                                           "occurred_at": datetime.now(timezone.utc).isoformat(), **fields})
    assert result.accepted, result.rejection


def gql(client, token: str, query: str, variables: dict | None = None) -> dict:
    body = client.post("/graphql", json={"query": query, "variables": variables or {}},
                       headers={"Authorization": f"Bearer {token}"}).json()
    assert not body.get("errors"), body
    return body["data"]


def mutate(client, token: str, command: str, fields: dict) -> dict:
    name = command[0].lower() + command[1:]
    query = (f"mutation($input: {command}Input!) {{ {name}(input: $input) {{ __typename "
             "... on CommandAccepted { version } ... on CommandRefused { reason } } }")
    body = {"commandId": str(uuid.uuid4()), "occurredAt": datetime.now(timezone.utc).isoformat(), **fields}
    out = gql(client, token, query, {"input": body})[name]
    assert out["__typename"] == "CommandAccepted", out
    return out


@pytest.fixture
def running(settings):
    """Relay to Kafka and every projection runner (`relais projections run`) on PostgreSQL."""
    from infra.kafka.producer import EventProducer
    from infra.kafka.publisher import KafkaPublisher
    from projections.registry import PROJECTIONS
    from services.bootstrap import bootstrap, is_pathway_event, topic
    from services.relay.relay import Relay

    relais = bootstrap(settings)
    stop = threading.Event()
    producer = EventProducer(settings.kafka_bootstrap, client_id="t-relay")
    relay = Relay(relais.pathways.app, KafkaPublisher(producer, topic(settings, "pathway-events")), MemoryPositions(),
                  is_published=is_pathway_event)
    runners = [relais.projection(cls) for cls in PROJECTIONS.values()]
    threads = [threading.Thread(target=relay.run, args=(stop,), daemon=True)]
    threads += [threading.Thread(target=r.run, args=(stop,), daemon=True) for r in runners]
    for thread in threads:
        thread.start()
    try:
        yield relais
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        producer.close(timeout=5)


PATHWAY = "query($id: UUID!, $v: Int) { pathway(id: $id, atLeastVersion: $v) { version personRef " \
          "access { hiddenCategories } } }"


def test_every_list_comes_from_the_projections_read_models_on_postgresql(running):
    from gateway.app import create_app

    relais = running
    usmp = token("usmp", "medecin", "u")
    siao = token("siao", "coordinateur", "s")
    with TestClient(create_app(relais)) as client:
        ids, versions = [str(uuid.uuid4()) for _ in range(3)], {}
        for pid in ids:
            out = mutate(client, usmp, "OpenDetentionPathway", {"pathwayId": pid, "personRef": "P", "territory": "76",
                                                                "leadAgency": "usmp", "prison": "CP"})
            versions[pid] = out["version"]
        joined = mutate(client, usmp, "AddAgency", {"pathwayId": ids[0], "agency": "siao", "role": "HOUSING"})
        # Read your writes: no polling, the query waits for the read models to have each version.
        for pid in ids[1:]:
            assert gql(client, usmp, PATHWAY, {"id": pid, "v": versions[pid]})["pathway"]["version"] == versions[pid]
        assert gql(client, siao, PATHWAY, {"id": ids[0], "v": joined["version"]})["pathway"]["personRef"] is None
        listed = gql(client, usmp, "{ pathways(first: 10) { totalCount edges { node { id personRef } } } }")
        assert sorted(e["node"]["id"] for e in listed["pathways"]["edges"]) == sorted(ids)
        assert listed["pathways"]["totalCount"] == 3
        theirs = gql(client, siao, "{ pathways(first: 10) { totalCount edges { node { id personRef } } } }")
        assert [e["node"]["id"] for e in theirs["pathways"]["edges"]] == [ids[0]]
        assert theirs["pathways"]["edges"][0]["node"]["personRef"] is None  # outside the care team, no consent
        alert = str(uuid.uuid4())
        result = relais.pathways.handle_payload("RaiseAlert", {
            "command_id": str(uuid.uuid4()), "pathway_id": ids[0],
            "actor": {"agency": "relais", "professional": "risk-engine", "role": "systeme"},
            "occurred_at": datetime.now(timezone.utc).isoformat(), "alert_id": alert,
            "rule_id": "exit-without-housing", "subject": "pathway", "triggering_event_ids": [],
            "owner_agency": "siao", "severity": "high", "suggested_action": "Vérifier."})
        assert result.accepted, result.rejection
        lists = ("query($p: UUID!, $v: Int!) { caseload(atLeast: {pathwayId: $p, version: $v}) { totalCount "
                 "edges { node { id } } } alerts(filter: {ownedByMyAgency: true}, atLeast: {pathwayId: $p, "
                 "version: $v}) { totalCount edges { node { alertId } } } }")
        mine = gql(client, siao, lists, {"p": ids[0], "v": result.version})
        assert [e["node"]["id"] for e in mine["caseload"]["edges"]] == [ids[0]]
        assert mine["caseload"]["totalCount"] == 1
        assert [e["node"]["alertId"] for e in mine["alerts"]["edges"]] == [alert]
        # The USMP's caseload: the pathway with the SIAO's alert is not more urgent for the USMP.
        theirs = gql(client, usmp, lists, {"p": ids[0], "v": result.version})
        assert sorted(e["node"]["id"] for e in theirs["caseload"]["edges"]) == sorted(ids)
        assert theirs["alerts"]["edges"] == [] and theirs["alerts"]["totalCount"] == 0


def test_a_withdrawn_consent_is_hidden_from_the_very_next_read_on_postgresql_and_kafka(running):
    from gateway.app import create_app

    usmp = token("usmp", "medecin", "u")
    siao = token("siao", "coordinateur", "s")
    pid = str(uuid.uuid4())
    with TestClient(create_app(running)) as client:
        mutate(client, usmp, "OpenDetentionPathway", {"pathwayId": pid, "personRef": "P-consent", "territory": "76",
                                                      "leadAgency": "usmp", "prison": "CP"})
        mutate(client, usmp, "AddAgency", {"pathwayId": pid, "agency": "siao", "role": "HOUSING"})
        granted = mutate(client, usmp, "GrantConsent", {"pathwayId": pid, "agency": "siao", "categories": ["IDENTITY"], "collectedBy": "p-recueil", "informedBy": "ORAL"})
        seen = gql(client, siao, PATHWAY, {"id": pid, "v": granted["version"]})["pathway"]
        assert seen["personRef"] == "P-consent"
        mutate(client, usmp, "WithdrawConsent", {"pathwayId": pid, "agency": "siao", "categories": ["IDENTITY"], "collectedBy": "p-recueil", "informedBy": "ORAL"})
        # The very next read, with no version asked: the withdrawal is already in effect.
        after = gql(client, siao, PATHWAY, {"id": pid})["pathway"]
        assert after["personRef"] is None and "IDENTITY" in after["access"]["hiddenCategories"]
        mutate(client, usmp, "RemoveAgency", {"pathwayId": pid, "agency": "siao", "reason": "fin de prise en charge"})
        assert gql(client, siao, PATHWAY, {"id": pid})["pathway"] is None


def test_alerts_owned_by_my_agency_are_paged_after_the_filter_on_postgresql(running):
    """The filter is applied before the page is cut: 3 of the SIAO's own alerts on the first
    page even when other agencies' alerts rank before them, then the last one."""
    from gateway.app import create_app

    relais = running
    usmp = token("usmp", "medecin", "u")
    siao = token("siao", "coordinateur", "s")
    with TestClient(create_app(relais)) as client:
        pid = str(uuid.uuid4())
        mutate(client, usmp, "OpenDetentionPathway", {"pathwayId": pid, "personRef": "P-page", "territory": "76",
                                                      "leadAgency": "usmp", "prison": "CP"})
        mutate(client, usmp, "AddAgency", {"pathwayId": pid, "agency": "siao", "role": "HOUSING"})
        version = 0
        # The USMP's alerts rank first (more severe), then the SIAO's four.
        for i, (owner, severity) in enumerate([("usmp", "high")] * 4 + [("siao", "medium")] * 4):
            result = relais.pathways.handle_payload("RaiseAlert", {
                "command_id": str(uuid.uuid4()), "pathway_id": pid,
                "actor": {"agency": "relais", "professional": "risk-engine", "role": "systeme"},
                "occurred_at": datetime.now(timezone.utc).isoformat(), "alert_id": str(uuid.uuid4()),
                "rule_id": "exit-without-housing", "subject": f"s{i}", "triggering_event_ids": [],
                "owner_agency": owner, "severity": severity, "suggested_action": "Vérifier."})
            assert result.accepted, result.rejection
            version = result.version
        page = ("query($p: UUID!, $v: Int!, $after: String) { alerts(first: 3, after: $after, "
                "filter: {ownedByMyAgency: true}, atLeast: {pathwayId: $p, version: $v}) { totalCount "
                "edges { node { ownerAgency } } pageInfo { hasNextPage endCursor } } }")
        everything = gql(client, siao, "query($p: UUID!, $v: Int!) { alerts(first: 20, atLeast: {pathwayId: $p, "
                         "version: $v}) { edges { node { ownerAgency } } } }", {"p": pid, "v": version})
        assert [e["node"]["ownerAgency"] for e in everything["alerts"]["edges"]][:4] == ["usmp"] * 4
        first = gql(client, siao, page, {"p": pid, "v": version})["alerts"]
        assert [e["node"]["ownerAgency"] for e in first["edges"]] == ["siao"] * 3
        assert first["pageInfo"]["hasNextPage"] is True and first["totalCount"] == 4
        rest = gql(client, siao, page, {"p": pid, "v": version, "after": first["pageInfo"]["endCursor"]})["alerts"]
        assert [e["node"]["ownerAgency"] for e in rest["edges"]] == ["siao"]
        assert rest["pageInfo"]["hasNextPage"] is False
