"""Distributed mode on the real broker and PostgreSQL, every projection running: an alert
raised by the risk engine reaches a GraphQL subscriber through Kafka (`relais.pathway-events`)
as the read models let it see it, survives a gateway restart (the client resumes from its last
cursor), and is published on `relais.alerts` with key = pathway id and fields as each agency
may see them (decided on the read models too)."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from eventsourcing.cipher import AESCipher
from gql import Client, GraphQLRequest
from gql.transport.websockets import WebsocketsTransport

from gateway.serving import serve
from services.settings import Settings
from tests.tokens import identity_settings, token

SUB = ("subscription($after: String, $p: UUID) { alertChanges(after: $after, pathwayId: $p) "
       "{ cursor change alert { alertId ruleId ownerAgency severity suggestedAction } } }")


class MemoryPositions:
    def __init__(self) -> None:
        self.value = 0

    def load(self, name: str) -> int:
        return self.value

    def save(self, name: str, notification_id: int) -> None:
        self.value = notification_id


def tok(agency: str, role: str = "medecin") -> str:
    return token(agency, role, f"{agency}-pro")


def command(handler, name: str, pathway_id: str, by: str = "usmp", **fields) -> int:
    result = handler.handle_payload(name, {"command_id": str(uuid.uuid4()), "pathway_id": pathway_id,
                                           "actor": {"agency": by, "professional": "p", "role": "medecin"},
                                           "occurred_at": datetime.now(timezone.utc).isoformat(), **fields})
    assert result.accepted, result.rejection
    return result.version


async def first_changes(base: str, token: str, variables: dict, count: int, timeout: float = 60,
                        until=None) -> list[dict]:  # noqa: ANN001
    transport = WebsocketsTransport(url=base.replace("http", "ws") + "/graphql",
                                    init_payload={"Authorization": f"Bearer {token}"},
                                    subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL])
    got: list[dict] = []
    async with Client(transport=transport) as session:
        async def consume() -> None:
            async for result in session.subscribe(GraphQLRequest(SUB, variable_values=variables)):
                got.append(result["alertChanges"])
                if (until is None and len(got) >= count) or (until is not None and until(got[-1])):
                    return

        await asyncio.wait_for(consume(), timeout)
    return got


@pytest.fixture
def distributed(pg_url, pg_schema, kafka_bootstrap, kafka_admin, tmp_path):
    prefix = f"t{uuid.uuid4().hex[:10]}"
    names = [f"{prefix}.pathway-events", f"{prefix}.alerts", f"{prefix}.deadletter"]
    kafka_admin.create_topics({n: {"num_partitions": 3, "replication_factor": 1} for n in names},
                              wait_for_metadata=True)
    settings = Settings(mode="distributed", database_url=pg_url, database_schema=pg_schema,
                        kafka_bootstrap=kafka_bootstrap, topic_prefix=prefix, state_dir=tmp_path,
                        cipher_key=AESCipher.create_key(num_bytes=32), environment="development",
                        **identity_settings())
    yield settings
    kafka_admin.delete_topics(names, raise_errors=False)


def test_an_alert_raised_by_the_risk_engine_reaches_a_subscriber_through_kafka_even_across_a_restart(distributed):
    from infra.kafka.producer import EventProducer
    from infra.kafka.publisher import KafkaPublisher
    from projections.registry import PROJECTIONS
    from services.bootstrap import bootstrap, is_pathway_event, topic
    from services.relay.relay import Relay

    settings = distributed
    relais = bootstrap(settings)
    stop = threading.Event()
    producer = EventProducer(settings.kafka_bootstrap, client_id="e2e-relay")
    relay = Relay(relais.pathways.app, KafkaPublisher(producer, topic(settings, "pathway-events")), MemoryPositions(),
                  is_published=is_pathway_event)
    risk = relais.risk_runner()
    alerting = relais.alerting()
    projections = [relais.projection(cls) for cls in PROJECTIONS.values()]
    threads = [*(threading.Thread(target=p.run, args=(stop,), daemon=True) for p in projections),
               threading.Thread(target=relay.run, args=(stop,), daemon=True),
               threading.Thread(target=risk.run, args=(stop,), daemon=True),
               threading.Thread(target=alerting.run, args=(stop,), daemon=True)]
    for thread in threads:
        thread.start()
    from gateway.app import create_app

    pid = str(uuid.uuid4())
    try:
        with serve(create_app(relais)) as base:
            async def scenario() -> list[dict]:
                listening = asyncio.create_task(first_changes(base, tok("usmp"), {"p": pid}, 1))
                await asyncio.sleep(1.0)
                release = (datetime.now(timezone.utc) + timedelta(days=5)).date().isoformat()
                await asyncio.to_thread(command, relais.pathways, "OpenDetentionPathway", pid, person_ref="P-k",
                                        territory="76", lead_agency="usmp", prison="CP", release_date=release)
                await asyncio.to_thread(command, relais.pathways, "AddAgency", pid, agency="siao", role="housing")
                return await listening

            raised = asyncio.run(scenario())
        assert raised[0]["change"] == "RAISED"
        assert raised[0]["alert"]["ruleId"] == "exit-without-housing"
        cursor, alert_id = raised[0]["cursor"], raised[0]["alert"]["alertId"]

        # The gateway is down; the alert is resolved meanwhile (housing confirmed) or acknowledged.
        pathway = relais.pathways.app.get_pathway(uuid.UUID(pid))
        assert uuid.UUID(alert_id) in pathway.alerts
        acknowledged = command(relais.pathways, "AcknowledgeAlert", pid, by="siao", alert_id=alert_id)

        with serve(create_app(bootstrap(settings))) as base:  # a new gateway process, empty feed
            resumed = asyncio.run(first_changes(
                base, tok("siao", "coordinateur"), {"after": cursor, "p": pid}, 1,
                until=lambda c: c["change"] == "ACKNOWLEDGED" and c["alert"]["alertId"] == alert_id))
            # The queries too read the PostgreSQL read models the projections keep from Kafka.
            lists = httpx.post(f"{base}/graphql", headers={"Authorization": f"Bearer {tok('siao', 'coordinateur')}"},
                               json={"query": "query($p: UUID!, $v: Int!) { alerts(filter: {ownedByMyAgency: true}, "
                                              "atLeast: {pathwayId: $p, version: $v}) { totalCount edges { node { "
                                              "alertId status } } } caseload { edges { node { id } } } }",
                                     "variables": {"p": pid, "v": acknowledged}}, timeout=30).json()["data"]
            assert lists["alerts"]["totalCount"] == len(lists["alerts"]["edges"]) >= 1
            assert {"alertId": alert_id, "status": "ACKNOWLEDGED"} in [e["node"] for e in lists["alerts"]["edges"]]
            assert [e["node"]["id"] for e in lists["caseload"]["edges"]] == [pid]
        # Nothing at or before the cursor comes again; the change made while the gateway was down does.
        assert all(int(c["cursor"]) > int(cursor) for c in resumed)
        assert resumed[-1]["change"] == "ACKNOWLEDGED"

        published = read_alerts(settings, topic(settings, "alerts"), expect=2)
        assert {key for key, _ in published} == {pid.encode()}
        agencies = {(body["receiving_agency"], body["change"]) for _, body in published}
        assert ("siao", "raised") in agencies and ("usmp", "raised") in agencies
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        producer.close(timeout=5)


def read_alerts(settings: Settings, name: str, expect: int, timeout: float = 30.0) -> list:
    import json

    from kafka import KafkaConsumer

    consumer = KafkaConsumer(name, bootstrap_servers=settings.kafka_bootstrap, auto_offset_reset="earliest",
                             group_id=None, consumer_timeout_ms=1000)
    out, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                for record in records:
                    out.append((record.key, json.loads(record.value)))
            if len(out) >= expect:
                break
    finally:
        consumer.close()
    return out
