"""The consumer runner on the real broker and the real PostgreSQL: exactly once in effect,
duplicates on the wire applied once, hostile records dead-lettered with their reason."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

import psycopg
import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from infra.kafka.cloudevents import encode
from infra.kafka.consumer import ConsumerRunner, RunnerConfig
from infra.kafka.deadletter import dlq_info
from infra.kafka.producer import EventProducer
from infra.postgres import positions
from tests.integration.consumer_checksum_worker import (
    BatchChecksumHandler,
    ChecksumHandler,
    checksum_stats,
    make_event,
)


@pytest.fixture
def producer(kafka_bootstrap):
    p = EventProducer(kafka_bootstrap, client_id="test-producer")
    yield p
    p.close()


def runner_for(handler, *, kafka_bootstrap, pg_url, pg_schema, topic, dlq, **config) -> ConsumerRunner:
    cfg = RunnerConfig(
        group_id=config.pop("group_id", f"g-{uuid.uuid4().hex[:8]}"), topics=[topic],
        bootstrap_servers=kafka_bootstrap, schema=pg_schema, deadletter_topic=dlq,
        max_batch=config.pop("max_batch", 100), session_timeout_ms=6000,
        heartbeat_interval_ms=500, **config,
    )
    return ConsumerRunner(handler, cfg, conninfo=pg_url)


def drive(runner: ConsumerRunner, done: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "runner did not catch up in time"
        runner.run_once(timeout_ms=200)


def read_all(bootstrap: str, topic: str, expected: int, timeout: float = 30.0):
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                             enable_auto_commit=False, group_id=None)
    parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    records = []
    deadline = time.monotonic() + timeout
    while len(records) < expected and time.monotonic() < deadline:
        for recs in consumer.poll(timeout_ms=500).values():
            records.extend(recs)
    consumer.close()
    return records


@pytest.mark.parametrize("batch", [False, True], ids=["handle", "handle_batch"])
def test_events_across_partitions_are_applied_exactly_once_in_pathway_order(
    kafka_bootstrap, pg_url, pg_schema, new_topic, producer, batch
):
    topic, dlq = new_topic(6), new_topic(1, "dlq")
    pathways = [f"pathway-{i}" for i in range(25)]
    events = [make_event(pathways[i % 25], i // 25, i) for i in range(1000)]
    acks = producer.send_all(topic, events)
    assert {a.partition for a in acks} == set(range(6))

    handler = BatchChecksumHandler() if batch else ChecksumHandler()
    runner = runner_for(handler, kafka_bootstrap=kafka_bootstrap, pg_url=pg_url,
                        pg_schema=pg_schema, topic=topic, dlq=dlq, max_batch=150)
    with runner:
        drive(runner, lambda: runner.totals.applied >= 1000)
        for _ in range(3):  # nothing more comes
            assert runner.run_once(timeout_ms=200).applied == 0

    assert checksum_stats(pg_url, pg_schema) == {
        "rows": 1000, "distinct": 1000, "sum": sum(range(1000))}
    with psycopg.connect(pg_url) as conn:
        # per pathway, the order of application is the order of production
        rows = conn.execute(f'SELECT pathway, seq FROM "{pg_schema}".checksum ORDER BY n').fetchall()
        stored = positions.load_positions(conn, pg_schema, runner.config.group_id,
                                          [(topic, p) for p in range(6)])
    last: dict[str, int] = {}
    for pathway, seq in rows:
        assert seq == last.get(pathway, -1) + 1
        last[pathway] = seq
    ends: dict[tuple[str, int], int] = {}
    for a in acks:
        ends[(a.topic, a.partition)] = max(ends.get((a.topic, a.partition), 0), a.offset + 1)
    assert stored == ends


def test_a_restarted_runner_resumes_from_the_position_in_postgresql_not_from_kafka(
    kafka_bootstrap, pg_url, pg_schema, new_topic, producer
):
    topic, dlq = new_topic(3), new_topic(1, "dlq")
    producer.send_all(topic, [make_event(f"p{i % 7}", i, i) for i in range(300)])
    group = f"g-{uuid.uuid4().hex[:8]}"
    first = runner_for(ChecksumHandler(), kafka_bootstrap=kafka_bootstrap, pg_url=pg_url,
                       pg_schema=pg_schema, topic=topic, dlq=dlq, group_id=group, max_batch=40)
    with first:
        drive(first, lambda: first.totals.applied >= 120)
        # The Kafka commit is only an optimisation: pretend it never happened.
        first.consumer.commit({TopicPartition(topic, p): OffsetAndMetadata(0, "", -1)
                               for p in range(3)})
    applied_before = first.totals.applied
    producer.send_all(topic, [make_event(f"p{i % 7}", 1000 + i, 300 + i) for i in range(100)])

    second = runner_for(ChecksumHandler(), kafka_bootstrap=kafka_bootstrap, pg_url=pg_url,
                        pg_schema=pg_schema, topic=topic, dlq=dlq, group_id=group, max_batch=40)
    with second:
        drive(second, lambda: checksum_stats(pg_url, pg_schema)["rows"] >= 400)
        assert second.run_once(timeout_ms=300).applied == 0
    assert second.totals.applied == 400 - applied_before
    assert second.totals.skipped_position == 0  # it was seeked, not filtered
    assert checksum_stats(pg_url, pg_schema) == {"rows": 400, "distinct": 400, "sum": sum(range(400))}


@pytest.mark.parametrize("batch", [False, True], ids=["handle", "handle_batch"])
def test_the_same_message_produced_twice_is_applied_once(
    kafka_bootstrap, pg_url, pg_schema, new_topic, producer, batch
):
    topic, dlq = new_topic(3), new_topic(1, "dlq")
    twice = make_event("pathway-dup", 0, 7)
    later = make_event("pathway-dup", 2, 11)
    acks = producer.send_all(topic, [twice, make_event("pathway-dup", 1, 5), twice])
    assert acks[0].offset != acks[2].offset  # two records on the wire

    runner = runner_for(BatchChecksumHandler() if batch else ChecksumHandler(),
                        kafka_bootstrap=kafka_bootstrap, pg_url=pg_url,
                        pg_schema=pg_schema, topic=topic, dlq=dlq)
    with runner:
        drive(runner, lambda: runner.totals.polled >= 3)
        # and again in a later batch, as a relay restarted after publishing would do
        producer.send_all(topic, [twice, later])
        drive(runner, lambda: runner.totals.polled >= 5)
    assert runner.totals.applied == 3
    assert runner.totals.skipped_duplicate == 2
    assert checksum_stats(pg_url, pg_schema) == {"rows": 3, "distinct": 3, "sum": 23}


def test_a_replayed_partner_message_goes_to_the_deadletter_topic_when_asked(
    kafka_bootstrap, pg_url, pg_schema, new_topic, producer
):
    topic, dlq = new_topic(1), new_topic(1, "dlq")
    twice = make_event("pathway-r", 0, 1)
    producer.send_all(topic, [twice, twice])
    runner = runner_for(ChecksumHandler(), kafka_bootstrap=kafka_bootstrap, pg_url=pg_url,
                        pg_schema=pg_schema, topic=topic, dlq=dlq, on_duplicate="deadletter")
    with runner:
        drive(runner, lambda: runner.totals.polled >= 2)
    [record] = read_all(kafka_bootstrap, dlq, 1)
    info = dlq_info(record.headers)
    assert info["dlq_reason"] == (
        f"replayed message: ce_id '{twice.id}' already applied by group "
        f"{runner.config.group_id} (first at {topic}[0]@0)")
    assert info["dlq_offset"] == "1"
    assert checksum_stats(pg_url, pg_schema)["rows"] == 1


@pytest.mark.parametrize("handler_kind", ["handle", "handle_batch named", "handle_batch unnamed"])
def test_malformed_and_rejected_messages_go_to_the_deadletter_topic_and_valid_ones_are_applied(
    kafka_bootstrap, pg_url, pg_schema, new_topic, producer, handler_kind
):
    topic, dlq = new_topic(1), new_topic(1, "dlq")
    good = [make_event("pathway-h", i, 100 + i) for i in range(5)]
    key, value, headers = encode(make_event("pathway-h", 99, 1))
    no_id = [(n, v) for n, v in headers if n != "ce_id"]
    text_plain = [(n, v if n != "content-type" else b"text/plain") for n, v in headers]
    huge = json.dumps({"seq": 1, "amount": 1, "note": "x" * 600_000}).encode()
    wrong_type = make_event("pathway-h", 98, 1)
    wrong_type = wrong_type.model_copy(update={"data": {"seq": 98, "amount": "douze"}})
    refused = make_event("pathway-h", 97, 1, reject="unknown pathway pathway-h")

    sent = [
        producer.send(topic, good[0]),
        producer.send_raw(topic, key=key, value=value[: len(value) // 2], headers=headers),
        producer.send(topic, good[1]),
        producer.send_raw(topic, key=key, value=value, headers=no_id),
        producer.send(topic, good[2]),
        producer.send_raw(topic, key=key, value=huge, headers=headers),
        producer.send_raw(topic, key=key, value=value, headers=text_plain),
        producer.send(topic, wrong_type),
        producer.send(topic, good[3]),
        producer.send(topic, refused),
        producer.send(topic, good[4]),
    ]
    offsets = [m.offset for m in producer.wait(sent)]

    handler = (ChecksumHandler() if handler_kind == "handle"
               else BatchChecksumHandler(name_rejected=handler_kind.endswith(" named")))
    runner = runner_for(handler, kafka_bootstrap=kafka_bootstrap, pg_url=pg_url,
                        pg_schema=pg_schema, topic=topic, dlq=dlq)
    with runner:
        drive(runner, lambda: runner.totals.polled >= len(sent))
    assert runner.totals.applied == 5 and runner.totals.deadlettered == 6
    if handler_kind == "handle_batch named":
        # the last (successful) attempt applied the five valid records in one call
        assert handler.batches and handler.batches[-1] == 5
    assert checksum_stats(pg_url, pg_schema) == {"rows": 5, "distinct": 5, "sum": 510}

    records = read_all(kafka_bootstrap, dlq, 6)
    by_offset = {int(dlq_info(r.headers)["dlq_offset"]): r for r in records}
    assert sorted(by_offset) == [offsets[i] for i in (1, 3, 5, 6, 7, 9)]
    reasons = {o: dlq_info(r.headers)["dlq_reason"] for o, r in by_offset.items()}
    assert reasons[offsets[1]].startswith("malformed CloudEvent: bad JSON at position ")
    assert reasons[offsets[3]] == "malformed CloudEvent: missing header ce_id"
    assert reasons[offsets[5]] == (
        f"malformed CloudEvent: body too large: {len(huge)} bytes, limit 524288")
    assert reasons[offsets[6]] == (
        "malformed CloudEvent: unsupported content-type 'text/plain', expected application/json")
    assert reasons[offsets[7]] == "data.amount must be an integer"
    assert reasons[offsets[9]] == "unknown pathway pathway-h"
    # original bytes and headers preserved, origin recorded
    truncated = by_offset[offsets[1]]
    assert truncated.key == key and truncated.value == value[: len(value) // 2]
    assert [(n, v) for n, v in truncated.headers if not n.startswith("dlq_")] == headers
    assert by_offset[offsets[5]].value == huge
    info = dlq_info(truncated.headers)
    assert info["dlq_topic"] == topic and info["dlq_partition"] == "0"
    assert info["dlq_consumer_group"] == runner.config.group_id
    assert info["dlq_time"].endswith("Z")


@pytest.mark.parametrize("batch", [False, True], ids=["handle", "handle_batch"])
def test_a_failing_batch_is_rolled_back_and_retried_without_advancing_the_position(
    kafka_bootstrap, pg_url, pg_schema, new_topic, producer, batch
):
    topic, dlq = new_topic(1), new_topic(1, "dlq")
    events = [make_event("pathway-f", i, i + 1) for i in range(10)]
    producer.send_all(topic, events)
    handler = BatchChecksumHandler() if batch else ChecksumHandler()
    handler.fail_next[events[6].id] = 2  # e.g. the database went away twice
    runner = runner_for(handler, kafka_bootstrap=kafka_bootstrap, pg_url=pg_url,
                        pg_schema=pg_schema, topic=topic, dlq=dlq)
    failures = 0
    with runner:
        deadline = time.monotonic() + 60
        while runner.totals.applied < 10:
            assert time.monotonic() < deadline
            try:
                runner.run_once(timeout_ms=300)
            except RuntimeError as exc:
                assert "simulated outage" in str(exc)
                failures += 1
                assert checksum_stats(pg_url, pg_schema)["rows"] == 0  # nothing half-applied
                with psycopg.connect(pg_url) as conn:
                    assert positions.load_positions(
                        conn, pg_schema, runner.config.group_id, [(topic, 0)]
                    ).get((topic, 0), 0) == 0
    assert failures == 2
    assert checksum_stats(pg_url, pg_schema) == {"rows": 10, "distinct": 10, "sum": 55}


def test_a_runner_following_a_topic_pattern_applies_every_matching_topic(
    kafka_bootstrap, pg_url, pg_schema, new_topic, producer
):
    prefix = f"in{uuid.uuid4().hex[:6]}"
    siao, cpam = new_topic(2, f"{prefix}.siao"), new_topic(1, f"{prefix}.cpam")
    other = new_topic(1, "other")
    producer.send_all(siao, [make_event("p1", i, i) for i in range(10)])
    producer.send_all(cpam, [make_event("p2", i, 10 + i) for i in range(5)])
    producer.send_all(other, [make_event("p3", 0, 1000)])
    runner = runner_for(ChecksumHandler(), kafka_bootstrap=kafka_bootstrap, pg_url=pg_url,
                        pg_schema=pg_schema, topic="unused", dlq=new_topic(1, "dlq"),
                        topic_pattern=rf"{prefix}\..*")
    with runner:
        drive(runner, lambda: runner.totals.applied >= 15)
        assert runner.run_once(timeout_ms=500).applied == 0
    assert checksum_stats(pg_url, pg_schema) == {"rows": 15, "distinct": 15, "sum": sum(range(15))}


def test_a_record_too_large_to_republish_whole_reaches_the_deadletter_topic_truncated_with_its_reason(
    kafka_bootstrap, pg_url, pg_schema, new_topic
):
    topic, dlq = new_topic(1), new_topic(1, "dlq")
    key, value, headers = encode(make_event("pathway-big", 0, 1))
    huge = b'{"note":"' + b"x" * 1_048_180 + b'"}'  # fits the broker; with dlq_* headers, not
    with EventProducer(kafka_bootstrap, max_request_size=2 * 1024 * 1024) as big:
        big.wait([big.send_raw(topic, key=key, value=huge, headers=headers)])
        big.send_all(topic, [make_event("pathway-big", 1, 5)])
    runner = runner_for(ChecksumHandler(), kafka_bootstrap=kafka_bootstrap, pg_url=pg_url,
                        pg_schema=pg_schema, topic=topic, dlq=dlq,
                        consumer_options={"max_partition_fetch_bytes": 4 * 1024 * 1024})
    with runner:
        drive(runner, lambda: runner.totals.polled >= 2)
    assert runner.totals.applied == 1 and runner.totals.deadlettered == 1
    [record] = read_all(kafka_bootstrap, dlq, 1)
    info = dlq_info(record.headers)
    assert info["dlq_reason"] == f"malformed CloudEvent: body too large: {len(huge)} bytes, limit 524288"
    assert info["dlq_value_truncated"] == str(len(huge))
    assert len(info["dlq_value_sha256"]) == 64
    assert record.value == huge[:65536]
    assert checksum_stats(pg_url, pg_schema)["sum"] == 5


def test_a_runner_started_on_a_new_topic_gets_its_partitions_at_once_every_time(
    kafka_bootstrap, pg_url, pg_schema, new_topic, producer
):
    # kafka-python 3.0 could assign from an empty metadata snapshot, rebalance again, and lose
    # that second rebalance to a poll timeout: the runner then stalled for minutes. The race
    # is timing-dependent (it showed in about 1 start in 10 under load, far more often with
    # kafka debug logging on), so this is a guard, not a deterministic reproduction.
    dlq = new_topic(1, "dlq")
    for attempt in range(8):
        topic = new_topic(6)
        producer.send_all(topic, [make_event(f"p{i % 25}", attempt, 1) for i in range(200)])
        runner = runner_for(ChecksumHandler(), kafka_bootstrap=kafka_bootstrap, pg_url=pg_url,
                            pg_schema=pg_schema, topic=topic, dlq=dlq, max_batch=150)
        with runner:
            started = time.monotonic()
            while runner.totals.applied < 200:
                assert time.monotonic() - started < 10, f"stalled on attempt {attempt}"
                runner.run_once(timeout_ms=200)
    assert checksum_stats(pg_url, pg_schema)["rows"] == 1600
