"""Distributed mode: the gateway's pathway list reads the projections' read model, built by
`relais projections run`'s runners from Kafka, on the real broker and PostgreSQL."""

from __future__ import annotations

import threading
import time
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


def test_the_pathway_list_comes_from_the_projections_read_model(settings):
    from gateway.app import create_app
    from infra.kafka.producer import EventProducer
    from infra.kafka.publisher import KafkaPublisher
    from projections.registry import projection_class
    from services.bootstrap import bootstrap, is_pathway_event, topic
    from services.relay.relay import Relay

    relais = bootstrap(settings)
    stop = threading.Event()
    producer = EventProducer(settings.kafka_bootstrap, client_id="t-relay")
    relay = Relay(relais.pathways.app, KafkaPublisher(producer, topic(settings, "pathway-events")), MemoryPositions(),
                  is_published=is_pathway_event)
    runners = [relais.projection(projection_class(name)) for name in ("pathway_summary", "caseload", "alerts")]
    threads = [threading.Thread(target=relay.run, args=(stop,), daemon=True)]
    threads += [threading.Thread(target=r.run, args=(stop,), daemon=True) for r in runners]
    for thread in threads:
        thread.start()
    usmp = token("usmp", "medecin", "u")
    siao = token("siao", "coordinateur", "s")
    query = {"query": "{ pathways(first: 10) { totalCount edges { node { id personRef } } } }"}
    try:
        ids = [str(uuid.uuid4()) for _ in range(3)]
        for pid in ids:
            send(relais.pathways, "OpenDetentionPathway", pid, "usmp", person_ref="P", territory="76",
                 lead_agency="usmp", prison="CP")
        send(relais.pathways, "AddAgency", ids[0], "usmp", agency="siao", role="housing")
        with TestClient(create_app(relais)) as client:
            assert type(client.app.state.gateway.index).__name__ == "ReadModelIndex"
            deadline, seen = time.monotonic() + 60, []
            while time.monotonic() < deadline:
                body = client.post("/graphql", json=query, headers={"Authorization": f"Bearer {usmp}"}).json()
                if "errors" not in body:
                    seen = [e["node"]["id"] for e in body["data"]["pathways"]["edges"]]
                    if len(seen) == 3:
                        break
                time.sleep(0.3)
            assert sorted(seen) == sorted(ids)
            for _ in range(100):
                body = client.post("/graphql", json=query, headers={"Authorization": f"Bearer {siao}"}).json()
                if "errors" not in body and body["data"]["pathways"]["edges"]:
                    break
                time.sleep(0.3)
            edges = body["data"]["pathways"]["edges"]
            assert [e["node"]["id"] for e in edges] == [ids[0]]
            assert edges[0]["node"]["personRef"] is None  # SIAO: outside the care team, no consent
            assert body["data"]["pathways"]["totalCount"] is None
            # caseload and alerts: paged from the caseload and alerts read models
            alert = str(uuid.uuid4())
            result = relais.pathways.handle_payload("RaiseAlert", {
                "command_id": str(uuid.uuid4()), "pathway_id": ids[0],
                "actor": {"agency": "relais", "professional": "risk-engine", "role": "systeme"},
                "occurred_at": datetime.now(timezone.utc).isoformat(), "alert_id": alert,
                "rule_id": "exit-without-housing", "subject": "pathway", "triggering_event_ids": [],
                "owner_agency": "siao", "severity": "high", "suggested_action": "Vérifier."})
            assert result.accepted, result.rejection
            lists = {"query": "{ caseload { totalCount edges { node { id } } } "
                              "alerts(filter: {ownedByMyAgency: true}) { totalCount edges { node { alertId } } } }"}
            for _ in range(100):
                body = client.post("/graphql", json=lists, headers={"Authorization": f"Bearer {siao}"}).json()
                if "errors" not in body and body["data"]["alerts"]["edges"]:
                    break
                time.sleep(0.3)
            assert [e["node"]["id"] for e in body["data"]["caseload"]["edges"]] == [ids[0]]
            assert body["data"]["caseload"]["totalCount"] is None  # the read model's page
            assert [e["node"]["alertId"] for e in body["data"]["alerts"]["edges"]] == [alert]
            mine = client.post("/graphql", json=lists, headers={"Authorization": f"Bearer {usmp}"}).json()["data"]
            assert sorted(e["node"]["id"] for e in mine["caseload"]["edges"]) == sorted(ids)
            assert mine["alerts"]["edges"] == []  # owned by the SIAO, not the USMP
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        producer.close(timeout=5)
