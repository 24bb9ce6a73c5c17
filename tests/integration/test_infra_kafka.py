"""The real Kafka broker (infra/scripts/up.sh): produce, consume in a group, committed offsets."""

from __future__ import annotations

import time
import uuid

from kafka import KafkaConsumer, KafkaProducer, TopicPartition


def _producer(bootstrap: str) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)


def _consumer(bootstrap: str, topic: str, group: str) -> KafkaConsumer:
    return KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=10_000,
        heartbeat_interval_ms=1_000,
    )


def _take(consumer: KafkaConsumer, count: int, timeout_s: float = 30.0) -> list:
    """Poll until exactly `count` records have been returned (never more)."""
    records: list = []
    deadline = time.monotonic() + timeout_s
    while len(records) < count and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=500, max_records=count - len(records)).values():
            records.extend(batch)
    assert len(records) == count, f"got {len(records)} of {count} records in {timeout_s} s"
    return records


def test_second_consumer_in_group_resumes_after_committed_offset(kafka_bootstrap, new_topic):
    topic = new_topic(partitions=1)
    producer = _producer(kafka_bootstrap)
    for i in range(10):
        producer.send(topic, key=b"pathway-1", value=f"m{i}".encode())
    producer.flush()
    producer.close()
    group = f"g.{uuid.uuid4().hex[:8]}"
    tp = TopicPartition(topic, 0)

    first = _consumer(kafka_bootstrap, topic, group)
    try:
        got = _take(first, 4)
        first.commit()
        assert first.committed(tp) == 4
    finally:
        first.close(autocommit=False)
    assert [r.value for r in got] == [b"m0", b"m1", b"m2", b"m3"]

    second = _consumer(kafka_bootstrap, topic, group)
    try:
        rest = _take(second, 6)
        assert second.committed(tp) == 4  # nothing committed yet by the second one
    finally:
        second.close(autocommit=False)
    assert [r.value for r in rest] == [f"m{i}".encode() for i in range(4, 10)]
    assert [r.offset for r in rest] == list(range(4, 10))


def test_uncommitted_records_are_delivered_again_to_the_group(kafka_bootstrap, new_topic):
    topic = new_topic(partitions=1)
    producer = _producer(kafka_bootstrap)
    for i in range(3):
        producer.send(topic, value=f"m{i}".encode())
    producer.flush()
    producer.close()
    group = f"g.{uuid.uuid4().hex[:8]}"

    first = _consumer(kafka_bootstrap, topic, group)
    try:
        assert [r.value for r in _take(first, 3)] == [b"m0", b"m1", b"m2"]
    finally:
        first.close(autocommit=False)  # crashed before committing
    second = _consumer(kafka_bootstrap, topic, group)
    try:
        assert [r.value for r in _take(second, 3)] == [b"m0", b"m1", b"m2"]
    finally:
        second.close(autocommit=False)


def test_messages_with_the_same_key_stay_in_order_on_one_partition(kafka_bootstrap, new_topic):
    topic = new_topic(partitions=3)
    producer = _producer(kafka_bootstrap)
    keys = [f"pathway-{k}".encode() for k in range(5)]
    for i in range(8):
        for key in keys:
            producer.send(topic, key=key, value=f"{key.decode()}:{i}".encode())
    producer.flush()
    producer.close()

    consumer = _consumer(kafka_bootstrap, topic, f"g.{uuid.uuid4().hex[:8]}")
    try:
        records = _take(consumer, 40)
    finally:
        consumer.close(autocommit=False)
    for key in keys:
        mine = [r for r in records if r.key == key]
        assert len({r.partition for r in mine}) == 1
        assert [r.value for r in mine] == [f"{key.decode()}:{i}".encode() for i in range(8)]


def test_new_topic_creates_the_requested_partitions(kafka_admin, new_topic):
    topic = new_topic(partitions=4, prefix="probe")
    assert topic.startswith("probe.")
    (described,) = kafka_admin.describe_topics([topic])
    assert len(described["partitions"]) == 4
