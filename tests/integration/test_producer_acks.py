"""The event producer on the real broker: acks=all, idempotent, acknowledgments the relay can
wait for, failures reported instead of swallowed."""

from __future__ import annotations

import time

import pytest
from kafka import KafkaConsumer, TopicPartition

from infra.kafka.cloudevents import decode
from infra.kafka.producer import DeliveryFailed, EventProducer
from tests.integration.consumer_checksum_worker import make_event


def consume_all(bootstrap, topic, expected, timeout=30.0):
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < expected and time.monotonic() < deadline:
        for recs in consumer.poll(timeout_ms=500).values():
            out.extend(recs)
    consumer.close()
    return out


def test_producer_uses_acks_all_and_the_idempotent_producer(kafka_bootstrap):
    with EventProducer(kafka_bootstrap) as producer:
        assert producer.kafka.config["acks"] == -1
        assert producer.idempotent
    with pytest.raises(ValueError):
        EventProducer(kafka_bootstrap, acks=1)


def test_send_all_returns_acknowledgments_in_order_and_one_pathway_stays_on_one_partition(
    kafka_bootstrap, new_topic
):
    topic = new_topic(6)
    events = [make_event("pathway-ordered", i, i) for i in range(50)] + [
        make_event(f"pathway-{i}", 0, i) for i in range(50)]
    with EventProducer(kafka_bootstrap) as producer:
        acks = producer.send_all(topic, events)
    ordered = acks[:50]
    assert len({a.partition for a in ordered}) == 1
    assert [a.offset for a in ordered] == sorted(a.offset for a in ordered)
    assert len({a.partition for a in acks}) > 1

    records = consume_all(kafka_bootstrap, topic, 100)
    decoded = {decode(r.key, r.value, r.headers).id: decode(r.key, r.value, r.headers) for r in records}
    assert [decoded[e.id] for e in events] == events
    same = [decode(r.key, r.value, r.headers).data["seq"] for r in sorted(records, key=lambda r: r.offset)
            if r.key == b"pathway-ordered"]
    assert same == list(range(50))


def test_a_record_the_broker_refuses_is_reported_as_a_delivery_failure(kafka_bootstrap, new_topic):
    topic = new_topic(1)
    with EventProducer(kafka_bootstrap, max_request_size=8 * 1024 * 1024) as producer:
        future = producer.send_raw(topic, key=b"k", value=b"x" * (3 * 1024 * 1024))
        with pytest.raises(DeliveryFailed) as info:
            producer.wait([future], timeout=30)
    assert "MessageSizeTooLarge" in repr(info.value.errors[0]) or "TooLarge" in repr(info.value.errors[0])


def test_an_event_whose_body_consumers_would_refuse_is_not_sent(kafka_bootstrap, new_topic):
    topic = new_topic(1)
    with EventProducer(kafka_bootstrap) as producer:
        with pytest.raises(ValueError, match="body is"):
            producer.send(topic, make_event("p", 0, 0, note="x" * 600_000))
