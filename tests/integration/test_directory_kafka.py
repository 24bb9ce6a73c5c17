"""The directory on the real broker and PostgreSQL: an agency changes its own service from its
inbound topic (another agency's topic is dead-lettered with the reason), and the directory's
changes are published on their own stream like pathway events."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timezone
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition

from infra.kafka.cloudevents import CloudEvent
from infra.kafka.consumer import ConsumerRunner, RunnerConfig
from infra.kafka.deadletter import dlq_info
from infra.kafka.producer import EventProducer
from infra.kafka.publisher import KafkaPublisher
from services.bootstrap import build_directory, build_pathways_application
from services.ingest.handler import IngestHandler
from services.pathways import PathwaysHandler
from services.relay.positions import MemoryPositionStore
from services.relay.relay import Relay
from services.relay.wire import DIRECTORY_SOURCE, DIRECTORY_TYPE_PREFIX, to_cloud_event
from services.settings import Settings
from tests.unit.directory.helpers import register

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)
TEST_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # synthetic, tests only


@pytest.fixture
def world(pg_url: str, pg_schema: str, kafka_bootstrap: str, kafka_admin: Any):
    settings = Settings(mode="distributed", database_url=pg_url, database_schema=pg_schema, cipher_key=TEST_KEY)
    pathways = PathwaysHandler(build_pathways_application(settings))
    directory = build_directory(settings, pathways)
    prefix = f"t{uuid.uuid4().hex[:10]}"
    topics = [f"{prefix}.inbound.mg", f"{prefix}.inbound.pass", f"{prefix}.deadletter", f"{prefix}.directory-events"]
    kafka_admin.create_topics({t: {"num_partitions": 1, "replication_factor": 1} for t in topics},
                              wait_for_metadata=True)
    producer = EventProducer(kafka_bootstrap, client_id="partner")
    runner = ConsumerRunner(
        IngestHandler(pathways, topic_prefix=prefix, directory=directory),
        RunnerConfig(group_id=f"ingest-{prefix}", topics=topics[:2], bootstrap_servers=kafka_bootstrap,
                     schema=pg_schema, deadletter_topic=topics[2], on_duplicate="skip",
                     session_timeout_ms=6000, heartbeat_interval_ms=500),
        conninfo=pg_url,
    )
    yield directory, producer, runner, prefix, kafka_bootstrap
    runner.close()
    producer.close()
    directory.handler.app.close()
    pathways.app.close()
    kafka_admin.delete_topics(topics, raise_errors=False)


def stop_message(service_id: uuid.UUID) -> CloudEvent:
    return CloudEvent(id=str(uuid.uuid4()), source="/mg/logiciel", type="fr.relais.inbound.StopIntake.v1",
                      subject=str(service_id), partitionkey=str(service_id), time=NOW,
                      data={"actor": {"professional": "dr-1", "role": "medecin"}, "occurred_at": NOW.isoformat(),
                            "reason": "patientèle complète"})


def read_all(bootstrap: str, topic: str, expected: int) -> list[Any]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    records: list[Any] = []
    deadline = time.monotonic() + 30
    while len(records) < expected and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=300).values():
            records.extend(batch)
    consumer.close()
    return records


def drain(runner: ConsumerRunner, expected_polled: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while runner.totals.polled < expected_polled:
        assert time.monotonic() < deadline, f"only {runner.totals.polled}/{expected_polled} records seen"
        runner.run_once(timeout_ms=200)


def test_the_owner_stops_intake_from_its_topic_and_another_agency_s_message_is_dead_lettered(world) -> None:
    directory, producer, runner, prefix, bootstrap = world
    sid = uuid.uuid4()
    assert directory.command("RegisterService", register(sid, "mg", at=NOW)).accepted
    producer.send_all(f"{prefix}.inbound.pass", [stop_message(sid)])
    drain(runner, 1)
    assert directory.get(sid).accepting_new_patients
    producer.send_all(f"{prefix}.inbound.mg", [stop_message(sid)])
    drain(runner, 2)
    assert not directory.get(sid).accepting_new_patients
    assert directory.get(sid).stop_reason == "patientèle complète"
    [dead] = read_all(bootstrap, f"{prefix}.deadletter", 1)
    assert "structure qui propose ce service" in dlq_info(dead.headers)["dlq_reason"]
    assert runner.totals.applied == 1 and runner.totals.deadlettered == 1


def test_the_directory_s_changes_are_published_on_their_stream_in_order(world) -> None:
    directory, _producer, _runner, prefix, bootstrap = world
    sid = uuid.uuid4()
    directory.command("RegisterService", register(sid, "mg", at=NOW))
    directory.command("StopIntake", {"command_id": str(uuid.uuid4()), "service_id": str(sid),
                                     "actor": {"agency": "mg", "professional": "dr-1", "role": "medecin"},
                                     "occurred_at": NOW.isoformat(), "reason": "congés"})
    out = EventProducer(bootstrap, client_id="directory-relay-test")
    try:
        relay = Relay(directory.handler.app, KafkaPublisher(out, f"{prefix}.directory-events"), MemoryPositionStore(),
                      is_published=lambda _t: True, name="directory-relay",
                      wire=lambda e, **kw: to_cloud_event(e, **kw, source=DIRECTORY_SOURCE,
                                                          type_prefix=DIRECTORY_TYPE_PREFIX))
        assert relay.run_once() == 2
    finally:
        out.close()
    records = read_all(bootstrap, f"{prefix}.directory-events", 2)
    types = [dict(r.headers)["ce_type"].decode() for r in records]
    assert types == ["fr.relais.directory.ServiceRegistered.v1", "fr.relais.directory.IntakeStopped.v1"]
    assert {r.key.decode() for r in records} == {str(sid)}
    assert json.loads(records[1].value)["reason"] == "congés"
