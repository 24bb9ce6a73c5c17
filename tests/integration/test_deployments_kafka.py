"""Distributed runtimes on the real broker: consumer groups follow the deployment's topic
prefix, and alerting runs on the consumer runner (dead-letter with reason, keeps going)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone

import psycopg
import pytest
from eventsourcing.cipher import AESCipher
from kafka import KafkaConsumer, KafkaProducer

from infra.kafka.cloudevents import CloudEvent, encode
from gateway.readside import ALERT_PROJECTIONS
from infra.kafka.deadletter import dlq_info
from services.bootstrap import DistributedRuntime, build_distributed, topic
from services.settings import Settings
from tests.tokens import identity_settings



@pytest.fixture
def deployment(pg_url, kafka_bootstrap, kafka_admin, tmp_path) -> Iterator[Callable[[str], DistributedRuntime]]:
    """`deployment(schema)`: a distributed runtime with its own topic prefix and topics."""
    made: list[str] = []
    runtimes: list[DistributedRuntime] = []

    def make(schema: str) -> DistributedRuntime:
        prefix = f"d{uuid.uuid4().hex[:10]}"
        names = {f"{prefix}.pathway-events": 2, f"{prefix}.deadletter": 1, f"{prefix}.alerts": 1}
        kafka_admin.create_topics({n: {"num_partitions": p, "replication_factor": 1} for n, p in names.items()},
                                  wait_for_metadata=True)
        made.extend(names)
        runtime = build_distributed(Settings(
            mode="distributed", database_url=pg_url, database_schema=schema, kafka_bootstrap=kafka_bootstrap,
            topic_prefix=prefix, state_dir=tmp_path, environment="development", **identity_settings(), cipher_key=AESCipher.create_key(num_bytes=32),
            database_pool_size=6))
        runtimes.append(runtime)
        return runtime

    yield make
    for runtime in runtimes:
        runtime.close()
    kafka_admin.delete_topics(made, raise_errors=False)


def _other_events(count: int) -> list[CloudEvent]:
    """Valid CloudEvents that no Relais consumer acts on (they only move positions)."""
    return [CloudEvent(id=str(uuid.uuid4()), source="/relais/tests", type="fr.relais.test.Other.v1",
                       subject=f"p-{i}", partitionkey=f"p-{i}", time=datetime.now(timezone.utc), data={"i": i})
            for i in range(count)]


def _publish(bootstrap: str, name: str, events: list[CloudEvent], raw: list[bytes] = ()) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    for value in raw:
        producer.send(name, key=b"raw", value=value)
    for event in events:
        key, value, headers = encode(event)
        producer.send(name, key=key, value=value, headers=headers)
    producer.flush()
    producer.close()


def _positions(url: str, schema: str) -> dict[str, dict[str, int]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(f'SELECT consumer_group, topic, next_offset FROM "{schema}".kafka_consumer_positions'
                            ).fetchall()
    out: dict[str, dict[str, int]] = {}
    for group, name, offset in rows:
        out.setdefault(group, {}).setdefault(name, 0)
        out[group][name] += offset
    return out


def test_two_deployments_on_one_broker_each_consume_their_own_topic_in_their_own_groups(
    deployment, pg_url, pg_schema, kafka_bootstrap, kafka_admin
):
    # One database schema for both: the positions table then shows every group of both.
    first, second = deployment(pg_schema), deployment(pg_schema)
    counts = {first: 30, second: 17}
    runners = {}
    for runtime, count in counts.items():
        _publish(kafka_bootstrap, topic(runtime.settings, "pathway-events"), _other_events(count))
        runners[runtime] = [runtime.risk_runner(), runtime.alerting()]
    deadline = time.monotonic() + 90
    expected = {
        f"{r.settings.topic_prefix}-{name}": {topic(r.settings, "pathway-events"): count}
        for r, count in counts.items() for name in ("risk", "alerting")
    }
    try:
        while time.monotonic() < deadline and _positions(pg_url, pg_schema) != expected:
            for group in runners.values():
                for runner in group:
                    runner.run_once(timeout_ms=200)
        # Each group consumed its own deployment's topic fully, and nothing of the other's.
        assert _positions(pg_url, pg_schema) == expected
        groups = {g["group_id"] for g in kafka_admin.list_groups()}
        assert set(expected) <= groups
        assert not {"relais-risk", "relais-alerting"} & set(expected)
    finally:
        for group in runners.values():
            for runner in group:
                runner.close()


def _send(runtime: DistributedRuntime, name: str, pid: uuid.UUID, actor: str = "usmp", **fields) -> None:
    result = runtime.event_store().handle_payload(name, {
        "command_id": str(uuid.uuid4()), "pathway_id": str(pid),
        "actor": {"agency": actor, "professional": "p", "role": "medecin"},
        "occurred_at": datetime.now(timezone.utc).isoformat(), **fields})
    assert result.accepted, result.rejection


def _read(bootstrap: str, name: str, expect: int, timeout: float = 60.0) -> list:
    consumer = KafkaConsumer(name, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None,
                             consumer_timeout_ms=1000)
    out, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and len(out) < expect:
            for records in consumer.poll(timeout_ms=500).values():
                out.extend(records)
    finally:
        consumer.close()
    return out


def test_alerting_sends_a_malformed_record_to_the_dead_letter_topic_with_its_reason_and_keeps_going(
    deployment, pg_schema, kafka_bootstrap
):
    runtime = deployment(pg_schema)
    settings = runtime.settings
    pid, alert = uuid.uuid4(), uuid.uuid4()
    _send(runtime, "OpenDetentionPathway", pid, person_ref="P-1", territory="76", lead_agency="usmp", prison="CP")
    _send(runtime, "AddAgency", pid, agency="siao", role="housing")
    # A record that is no CloudEvent at all, before the pathway's events on the topic.
    _publish(kafka_bootstrap, topic(settings, "pathway-events"), [], raw=[b"{not json"])
    _send(runtime, "RaiseAlert", pid, actor="relais", alert_id=str(alert), rule_id="exit-without-housing",
          subject="pathway", triggering_event_ids=[], owner_agency="siao",
          suggested_action="Confirmer un hébergement avant la sortie", severity="high")
    relay = runtime.relay()
    while relay.run_once():
        pass
    # Alerting decides what each agency sees on the read models: the projections it reads
    # (`relais projections run`) follow the same topic, the malformed record included.
    projections = [runtime.projection(name) for name in ALERT_PROJECTIONS]
    try:
        for projection in projections:
            deadline, applied = time.monotonic() + 60, 0
            while time.monotonic() < deadline and applied < 3:
                applied += projection.run_once(timeout_ms=300)
            assert applied == 3, projection
    finally:
        for projection in projections:
            projection.close()
    runner = runtime.alerting()
    try:
        deadline = time.monotonic() + 60
        # Three pathway events and the malformed record between them.
        while time.monotonic() < deadline and (runner.totals.deadlettered < 1 or runner.totals.applied < 3):
            runner.run_once(timeout_ms=300)
        assert (runner.totals.deadlettered, runner.totals.applied) == (1, 3)
        # Each consumer group dead-letters the record once: the projections' and alerting's.
        dead = _read(kafka_bootstrap, topic(settings, "deadletter"), len(ALERT_PROJECTIONS) + 1)
        alerts = _read(kafka_bootstrap, topic(settings, "alerts"), 2)
    finally:
        runner.close()
    by_alerting = [r for r in dead if dlq_info(r.headers)["dlq_consumer_group"] == f"{settings.topic_prefix}-alerting"]
    assert len(by_alerting) == 1 and by_alerting[0].value == b"{not json"
    assert dlq_info(by_alerting[0].headers)["dlq_reason"].startswith("malformed CloudEvent")
    # ...and the alert raised after it still reached both agencies taking part.
    bodies = [json.loads(r.value) for r in alerts]
    assert sorted(b["receiving_agency"] for b in bodies) == ["siao", "usmp"]
    assert {b["alert_id"] for b in bodies} == {str(alert)}


def test_every_push_to_the_alerts_topic_and_to_a_webhook_is_audited_per_receiving_agency(
    deployment, pg_schema, kafka_bootstrap
):
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from gateway.audit import AuditQuery

    received: list[bytes] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    runtime = deployment(pg_schema)
    settings = runtime.settings
    runtime.webhooks.register("siao", f"http://127.0.0.1:{server.server_address[1]}/hooks")  # development
    pid, alert = uuid.uuid4(), uuid.uuid4()
    _send(runtime, "OpenDetentionPathway", pid, person_ref="P-1", territory="76", lead_agency="usmp", prison="CP")
    _send(runtime, "AddAgency", pid, agency="siao", role="housing")
    _send(runtime, "AddAgency", pid, agency="spip", role="justice")
    _send(runtime, "GrantConsent", pid, agency="siao", categories=["social"],
          collected_by="p-recueil", informed_by="oral")
    _send(runtime, "RaiseAlert", pid, actor="relais", alert_id=str(alert), rule_id="exit-without-housing",
          subject="pathway", triggering_event_ids=[], owner_agency="siao",
          suggested_action="Confirmer un hébergement avant la sortie", severity="high")
    relay = runtime.relay()
    while relay.run_once():
        pass
    projections = [runtime.projection(name) for name in ALERT_PROJECTIONS]
    try:
        for projection in projections:
            deadline, applied = time.monotonic() + 60, 0
            while time.monotonic() < deadline and applied < 5:
                applied += projection.run_once(timeout_ms=300)
            assert applied == 5, projection
    finally:
        for projection in projections:
            projection.close()
    runner = runtime.alerting()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and runner.totals.applied < 5:
            runner.run_once(timeout_ms=300)
        messages = _read(kafka_bootstrap, topic(settings, "alerts"), 3)
    finally:
        runner.close()
        server.shutdown()
        server.server_close()
    sent = {json.loads(r.value)["receiving_agency"]: json.loads(r.value) for r in messages}
    assert set(sent) == {"usmp", "siao", "spip"} and len(received) == 1
    records = runtime.audit.search(AuditQuery(pathway_id=str(pid), limit=50))
    kafka = {r.agency: r for r in records if r.operation == "alerting.kafka"}
    hooks = [r for r in records if r.operation == "alerting.webhook"]
    assert set(kafka) == set(sent)
    # What each record says was sent is what that agency's message carries.
    assert kafka["siao"].categories == ("social",) and sent["siao"]["suggested_action"] is not None
    assert kafka["spip"].categories == () and sent["spip"]["suggested_action"] is None
    assert [(h.agency, h.outcome, h.categories) for h in hooks] == [("siao", "0", ("social",))]
    assert runtime.audit.verify() == []
