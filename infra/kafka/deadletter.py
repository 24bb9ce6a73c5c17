"""The dead-letter topic: where a record that cannot be handled goes, with the reason.

The dead-letter record keeps the original key, value bytes and headers untouched (so it can be
inspected and replayed as it was) and appends:

=====================  ==========================================================
``dlq_reason``         what is wrong, for a human (UTF-8, at most 4 kB)
``dlq_code``           what is wrong, for a program: the code a GraphQL caller making the same
                       mistake gets (docs/graphql/errors.md); absent when the handler gives none
``dlq_topic``          topic of the original record
``dlq_partition``      its partition (decimal)
``dlq_offset``         its offset (decimal)
``dlq_consumer_group`` the consumer group that refused it
``dlq_time``           when it was refused (RFC 3339, UTC)
=====================  ==========================================================

A record too large to be republished with these headers (the original was close to the
broker's limit) is republished with its value cut to ``TRUNCATED_VALUE_BYTES`` and two more
headers, ``dlq_value_truncated`` (original size) and ``dlq_value_sha256``, so that the reason
is never lost.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Protocol

from kafka.errors import MessageSizeTooLargeError

from infra.kafka.cloudevents import format_time
from infra.kafka.producer import EventProducer, FutureRecordMetadata

log = logging.getLogger("relais.kafka.deadletter")

DEFAULT_DEADLETTER_TOPIC = "relais.deadletter"
MAX_REASON_BYTES = 4096
TRUNCATED_VALUE_BYTES = 64 * 1024
DLQ_HEADERS = (
    "dlq_reason", "dlq_topic", "dlq_partition", "dlq_offset", "dlq_consumer_group", "dlq_time",
)


class RecordLike(Protocol):
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes | None]]


def clip_reason(reason: str) -> bytes:
    data = reason.encode("utf-8", "replace")
    if len(data) <= MAX_REASON_BYTES:
        return data
    return data[: MAX_REASON_BYTES - 3].decode("utf-8", "ignore").encode("utf-8") + b"..."


def deadletter_headers(
    original: Sequence[tuple[str, bytes | None]],
    *,
    reason: str,
    topic: str,
    partition: int,
    offset: int,
    consumer_group: str,
    now: datetime | None = None,
    code: str | None = None,
) -> list[tuple[str, bytes]]:
    """The original headers (a null header value becomes empty bytes: kafka-python sends
    bytes only) followed by the ``dlq_*`` headers."""
    when = now or datetime.now(timezone.utc)
    headers = [(str(name), bytes(value) if value is not None else b"") for name, value in original]
    headers += [
        ("dlq_reason", clip_reason(reason)),
        *([("dlq_code", code.encode("ascii"))] if code else []),
        ("dlq_topic", topic.encode("utf-8")),
        ("dlq_partition", str(partition).encode("ascii")),
        ("dlq_offset", str(offset).encode("ascii")),
        ("dlq_consumer_group", consumer_group.encode("utf-8")),
        ("dlq_time", format_time(when).encode("ascii")),
    ]
    return headers


class DeadLetterPublisher:
    """Publishes refused records to the dead-letter topic through an :class:`EventProducer`."""

    def __init__(
        self, producer: EventProducer, *, topic: str = DEFAULT_DEADLETTER_TOPIC,
        consumer_group: str,
    ) -> None:
        self.producer = producer
        self.topic = topic
        self.consumer_group = consumer_group

    def publish(self, record: RecordLike, reason: str, *, code: str | None = None) -> FutureRecordMetadata:
        """Queue the dead-letter copy of ``record``; the caller waits on the future (or uses
        :meth:`EventProducer.wait`) before treating the record as dealt with."""
        headers = deadletter_headers(
            record.headers, reason=reason, topic=record.topic, partition=record.partition,
            offset=record.offset, consumer_group=self.consumer_group, code=code,
        )
        log.warning(
            "dead-lettered record",
            extra={"event": "deadletter", "topic": record.topic, "partition": record.partition,
                   "offset": record.offset, "group": self.consumer_group, "reason": reason[:500],
                   "code": code},
        )
        value = record.value
        try:
            return self.producer.send_raw(self.topic, key=record.key, value=value, headers=headers)
        except MessageSizeTooLargeError:
            return self.producer.send_raw(
                self.topic, key=record.key, value=truncate(value), headers=headers
                + truncation_headers(value),
            )

    def publish_truncated(self, record: RecordLike, reason: str, *, code: str | None = None) -> FutureRecordMetadata:
        """Fallback when the broker refused the full copy as too large."""
        headers = deadletter_headers(
            record.headers, reason=reason, topic=record.topic, partition=record.partition,
            offset=record.offset, consumer_group=self.consumer_group, code=code,
        ) + truncation_headers(record.value)
        return self.producer.send_raw(
            self.topic, key=record.key, value=truncate(record.value), headers=headers
        )


def truncate(value: bytes | None) -> bytes | None:
    return None if value is None else bytes(value[:TRUNCATED_VALUE_BYTES])


def truncation_headers(value: bytes | None) -> list[tuple[str, bytes]]:
    if value is None:
        return []
    return [
        ("dlq_value_truncated", str(len(value)).encode("ascii")),
        ("dlq_value_sha256", hashlib.sha256(value).hexdigest().encode("ascii")),
    ]


def dlq_info(headers: Sequence[tuple[str, bytes | None]]) -> dict[str, str]:
    """The ``dlq_*`` headers of a dead-letter record as text (for tools and tests)."""
    return {
        name: (value or b"").decode("utf-8", "replace")
        for name, value in headers
        if name.startswith("dlq_")
    }


__all__ = [
    "DeadLetterPublisher",
    "deadletter_headers",
    "dlq_info",
    "DEFAULT_DEADLETTER_TOPIC",
    "DLQ_HEADERS",
]
