"""Dead-letter records keep the original bytes and say why, where and by whom they were refused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from infra.kafka.deadletter import (
    MAX_REASON_BYTES,
    DeadLetterPublisher,
    deadletter_headers,
    dlq_info,
    truncation_headers,
)


def test_deadletter_headers_keep_the_originals_and_add_the_reason_and_origin():
    original = [("ce_id", b"abc"), ("content-type", b"application/json"), ("weird", None)]
    headers = deadletter_headers(
        original, reason="missing header ce_type", topic="relais.inbound.siao", partition=2,
        offset=41, consumer_group="ingest", now=datetime(2026, 11, 24, 1, 2, 3, tzinfo=timezone.utc),
    )
    assert headers[:3] == [("ce_id", b"abc"), ("content-type", b"application/json"), ("weird", b"")]
    assert dlq_info(headers) == {
        "dlq_reason": "missing header ce_type",
        "dlq_topic": "relais.inbound.siao",
        "dlq_partition": "2",
        "dlq_offset": "41",
        "dlq_consumer_group": "ingest",
        "dlq_time": "2026-11-24T01:02:03.000000Z",
    }
    assert all(isinstance(v, bytes) for _, v in headers)


def test_a_huge_reason_is_clipped_to_a_readable_size():
    headers = deadletter_headers([], reason="é" * 100_000, topic="t", partition=0, offset=0,
                                 consumer_group="g")
    reason = dict(headers)["dlq_reason"]
    assert len(reason) <= MAX_REASON_BYTES
    assert reason.endswith(b"...")
    reason.decode("utf-8")


def test_truncation_headers_name_the_original_size_and_digest():
    h = dict(truncation_headers(b"x" * 10))
    assert h["dlq_value_truncated"] == b"10"
    assert len(h["dlq_value_sha256"]) == 64
    assert truncation_headers(None) == []


@dataclass
class Record:
    topic: str = "relais.inbound.cpam"
    partition: int = 1
    offset: int = 7
    key: bytes | None = b"pathway-1"
    value: bytes | None = b'{"truncated'
    headers: tuple = (("ce_id", b"1"),)


class RecordingProducer:
    def __init__(self):
        self.sent = []

    def send_raw(self, topic, *, key, value, headers, partition=None, timestamp_ms=None):
        self.sent.append((topic, key, value, headers))
        return "future"


def test_publisher_sends_the_original_key_and_value_to_the_deadletter_topic():
    producer = RecordingProducer()
    dlq = DeadLetterPublisher(producer, topic="relais.deadletter", consumer_group="ingest")
    assert dlq.publish(Record(), "bad JSON at position 11") == "future"
    topic, key, value, headers = producer.sent[0]
    assert (topic, key, value) == ("relais.deadletter", b"pathway-1", b'{"truncated')
    assert headers[0] == ("ce_id", b"1")
    assert dlq_info(headers)["dlq_reason"] == "bad JSON at position 11"
    assert dlq_info(headers)["dlq_offset"] == "7"


def test_a_dead_letter_carries_the_code_a_graphql_caller_would_get_beside_its_reason():
    headers = deadletter_headers([], reason="RecordNeed refused: person_ref: champ obligatoire", topic="t",
                                 partition=0, offset=0, consumer_group="g", code="REQUIRED_FIELD")
    info = dlq_info(headers)
    assert info["dlq_code"] == "REQUIRED_FIELD" and info["dlq_reason"].startswith("RecordNeed refused")
    assert "dlq_code" not in dlq_info(deadletter_headers([], reason="r", topic="t", partition=0, offset=0,
                                                         consumer_group="g"))
