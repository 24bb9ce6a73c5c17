"""Ingest on the real broker and PostgreSQL: partner facts become pathway commands; hostile
messages land in the dead-letter topic with a precise reason while valid ones around them apply."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timezone
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition

from infra.kafka.cloudevents import CloudEvent, encode
from infra.kafka.consumer import ConsumerRunner, RunnerConfig
from infra.kafka.deadletter import dlq_info
from infra.kafka.producer import EventProducer
from services.bootstrap import build_pathways_application
from services.ingest.handler import IngestHandler
from services.pathways import PathwaysHandler
from services.settings import Settings

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
PASS = {"agency": "pass", "professional": "as-017", "role": "assistante_sociale"}
TEST_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # synthetic, tests only
SIAO_ACTOR = {"professional": "coord-4", "role": "coordinateur"}


@pytest.fixture
def world(pg_url: str, pg_schema: str, kafka_bootstrap: str, kafka_admin: Any):
    settings = Settings(mode="distributed", database_url=pg_url, database_schema=pg_schema, cipher_key=TEST_KEY)
    pathways = PathwaysHandler(build_pathways_application(settings))
    prefix = f"t{uuid.uuid4().hex[:10]}"
    inbound, dlq = f"{prefix}.inbound.siao", f"{prefix}.deadletter"
    kafka_admin.create_topics({inbound: {"num_partitions": 2, "replication_factor": 1},
                               dlq: {"num_partitions": 1, "replication_factor": 1}}, wait_for_metadata=True)
    producer = EventProducer(kafka_bootstrap, client_id="partner-siao")
    runner = ConsumerRunner(
        IngestHandler(pathways, topic_prefix=prefix),
        RunnerConfig(group_id=f"ingest-{prefix}", topics=[inbound], bootstrap_servers=kafka_bootstrap,
                     schema=pg_schema, deadletter_topic=dlq, on_duplicate="skip",
                     session_timeout_ms=6000, heartbeat_interval_ms=500),
        conninfo=pg_url,
    )
    yield pathways, producer, runner, inbound, dlq, kafka_bootstrap
    runner.close()
    producer.close()
    kafka_admin.delete_topics([inbound, dlq], raise_errors=False)


def cmd(pathways: PathwaysHandler, name: str, pathway_id: uuid.UUID, **fields: Any) -> None:
    result = pathways.handle_payload(name, {"command_id": str(uuid.uuid4()), "pathway_id": str(pathway_id),
                                            "actor": PASS, "occurred_at": NOW.isoformat(), **fields})
    assert result.accepted, result.rejection


def pathway_waiting_for_housing(pathways: PathwaysHandler) -> tuple[uuid.UUID, uuid.UUID]:
    pathway_id, request_id = uuid.uuid4(), uuid.uuid4()
    cmd(pathways, "OpenPassGpPathway", pathway_id, person_ref="P-7f3a", territory="76", lead_agency="pass")
    cmd(pathways, "AddAgency", pathway_id, agency="siao", role="housing")
    cmd(pathways, "RequestHousing", pathway_id, request_id=str(request_id), via_agency="siao")
    return pathway_id, request_id


def inbound_event(pathway_id: uuid.UUID, name: str, data: Any, ce_id: str | None = None) -> CloudEvent:
    return CloudEvent(id=ce_id or str(uuid.uuid4()), source="/siao/si-siao", type=f"fr.relais.inbound.{name}.v1",
                      subject=str(pathway_id), partitionkey=str(pathway_id), time=NOW, data=data)


def offer(request_id: uuid.UUID) -> dict[str, Any]:
    return {"actor": SIAO_ACTOR, "occurred_at": NOW.isoformat(), "request_id": str(request_id),
            "place": "CHRS Les Tilleuls", "available_on": "2026-03-05"}


def drain(runner: ConsumerRunner, expected_polled: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while runner.totals.polled < expected_polled:
        assert time.monotonic() < deadline, f"only {runner.totals.polled}/{expected_polled} records seen"
        runner.run_once(timeout_ms=200)


def dead_letters(bootstrap: str, topic: str, expected: int) -> list[Any]:
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


def test_siao_confirming_a_housing_place_on_its_topic_confirms_it_on_the_pathway(world) -> None:
    pathways, producer, runner, inbound, _dlq, _ = world
    pathway_id, request_id = pathway_waiting_for_housing(pathways)
    producer.send_all(inbound, [
        inbound_event(pathway_id, "OfferHousing", offer(request_id)),
        inbound_event(pathway_id, "ConfirmHousing", {"actor": SIAO_ACTOR, "occurred_at": NOW.isoformat(),
                                                     "request_id": str(request_id)}),
    ])
    drain(runner, 2)
    pathway = pathways.app.get_pathway(pathway_id)
    assert pathway.has_confirmed_housing
    assert pathway.last_actor.agency == "siao"
    assert runner.totals.applied == 2 and runner.totals.deadlettered == 0


def test_hostile_inbound_messages_go_to_the_dead_letter_topic_with_reasons_and_valid_ones_apply(world) -> None:
    pathways, producer, runner, inbound, dlq, bootstrap = world
    pathway_id, request_id = pathway_waiting_for_housing(pathways)
    key = str(pathway_id).encode()
    good = inbound_event(pathway_id, "OfferHousing", offer(request_id), ce_id="siao-msg-1")
    _, good_value, good_headers = encode(good)
    bad_headers = [(k, v) for k, v in good_headers if k != "ce_id"] + [("ce_id", b"siao-msg-x")]
    hostile: list[tuple[str, bytes, list[tuple[str, bytes]]]] = [
        ("truncated JSON", good_value[: len(good_value) // 2], bad_headers),
        ("1 MB string", json.dumps({**offer(request_id), "place": "x" * 1_000_000}).encode(), bad_headers),
    ]
    producer.send_all(inbound, [good])
    for _label, value, headers in hostile:
        producer.send_raw(inbound, key=key, value=value,
                          headers=[(k, v) if k != "ce_id" else ("ce_id", uuid.uuid4().hex.encode()) for k, v in headers])
    producer.flush()
    others = [
        inbound_event(pathway_id, "OfferHousing", {**offer(request_id), "available_on": 42}),  # wrong type
        inbound_event(pathway_id, "TeleportPatient", offer(request_id)),  # unknown type
        inbound_event(pathway_id, "ConfirmHousing", {"actor": SIAO_ACTOR, "occurred_at": NOW.isoformat()}),  # missing field
        inbound_event(uuid.uuid4(), "ConfirmHousing", {"actor": SIAO_ACTOR, "occurred_at": NOW.isoformat(),
                                                       "request_id": str(request_id)}),  # unknown pathway
        inbound_event(pathway_id, "ConfirmHousing", {"actor": SIAO_ACTOR, "occurred_at": NOW.isoformat(),
                                                     "request_id": str(uuid.uuid4())}),  # refused by the aggregate
        inbound_event(pathway_id, "RaiseAlert", {"actor": SIAO_ACTOR}),  # reserved to the risk engine
        inbound_event(pathway_id, "ConfirmHousing", {"actor": {**SIAO_ACTOR, "agency": "pass"},
                                                     "occurred_at": NOW.isoformat(), "request_id": str(request_id)}),
        good,  # replayed: same ce_id as the first message
        inbound_event(pathway_id, "ConfirmHousing", {"actor": SIAO_ACTOR, "occurred_at": NOW.isoformat(),
                                                     "request_id": str(request_id)}),  # valid, after all of them
    ]
    producer.send_all(inbound, others)
    drain(runner, 1 + len(hostile) + len(others))

    assert pathways.app.get_pathway(pathway_id).has_confirmed_housing
    assert runner.totals.applied == 2
    # The redelivery (same ce_id) is acknowledged as a duplicate: counted, not dead-lettered.
    assert runner.totals.skipped_duplicate == 1
    records = dead_letters(bootstrap, dlq, expected=len(hostile) + len(others) - 2)
    reasons = [dlq_info(r.headers)["dlq_reason"] for r in records]
    assert len(reasons) == 9, reasons
    assert not any("already applied" in r for r in reasons), reasons
    joined = "\n".join(reasons)
    for expected in ("JSON", "too large", "available_on", "TeleportPatient", "request_id",
                     "pathway_id", "reserved", "actor.agency"):
        assert expected in joined, f"no reason mentions {expected!r}:\n{joined}"
    # Beside its reason, each carries the code a GraphQL caller making the same mistake gets.
    codes = {dlq_info(r.headers)["dlq_reason"]: dlq_info(r.headers).get("dlq_code") for r in records}
    expected_codes = {"bad JSON": "MALFORMED_REQUEST", "too large": "BODY_TOO_LARGE", "available_on": "INVALID_DATE",
                      "TeleportPatient": "UNKNOWN_COMMAND", "request_id: champ obligatoire": "REQUIRED_FIELD",
                      "Parcours inconnu": "UNKNOWN_PATHWAY", "Demande d'hébergement inconnue": "UNKNOWN_HOUSING_REQUEST",
                      "reserved": "FORBIDDEN", "actor.agency": "FORBIDDEN"}
    assert {words: next(code for reason, code in codes.items() if words in reason)
            for words in expected_codes} == expected_codes, codes
    # The dead letter keeps the original bytes so the partner's message can be fixed and replayed.
    truncated = next(r for r in records if "JSON" in dlq_info(r.headers)["dlq_reason"])
    assert truncated.value == good_value[: len(good_value) // 2]


def test_inbound_messages_pass_the_same_write_policy_as_graphql_through_the_real_broker(world) -> None:
    """A few cells of the write matrix (tests/unit/pathways/test_write_policy_matrix.py) on Kafka."""
    pathways, producer, runner, inbound, dlq, bootstrap = world
    pathway_id, request_id = pathway_waiting_for_housing(pathways)
    not_shared = uuid.uuid4()
    cmd(pathways, "OpenPassGpPathway", not_shared, person_ref="P-0000", territory="76", lead_agency="pass")
    at = datetime.now(timezone.utc).isoformat()
    volunteer = {"professional": "benevole-1", "role": "benevole"}
    producer.send_all(inbound, [
        # a volunteer of the SIAO records a care need: the role may not write medical facts
        inbound_event(pathway_id, "RecordNeed", {"actor": volunteer, "occurred_at": at, "need_id": str(uuid.uuid4()),
                                                 "category": "care", "description": "traitement"}),
        # the SIAO (housing) widens the care team: only the lead or coordination may
        inbound_event(pathway_id, "AddAgency", {"actor": SIAO_ACTOR, "occurred_at": at, "agency": "caso",
                                                "role": "health_care"}),
        # a pathway the SIAO is not part of: told nothing about it
        inbound_event(not_shared, "RecordPhoneStatus", {"actor": SIAO_ACTOR, "occurred_at": at, "status": "lost"}),
        # a fact dated 2999
        inbound_event(pathway_id, "RecordPhoneStatus", {"actor": SIAO_ACTOR, "occurred_at": "2999-01-01T00:00:00+00:00",
                                                        "status": "lost"}),
        # allowed: a housing member's coordinator records a housing need
        inbound_event(pathway_id, "RecordNeed", {"actor": SIAO_ACTOR, "occurred_at": at, "need_id": str(uuid.uuid4()),
                                                 "category": "housing", "description": "hébergement"}),
    ])
    drain(runner, 5)
    assert runner.totals.applied == 1
    reasons = [dlq_info(r.headers)["dlq_reason"] for r in dead_letters(bootstrap, dlq, expected=4)]
    assert len(reasons) == 4, reasons
    joined = "\n".join(reasons)
    for expected in ("actor.role", "référente", "Parcours inconnu", "occurred_at"):
        assert expected in joined, f"no reason mentions {expected!r}:\n{joined}"
    assert "P-0000" not in joined and "pass_gp" not in joined
