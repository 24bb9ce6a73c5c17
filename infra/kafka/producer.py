"""The Relais Kafka producer: a thin wrapper over kafka-python's ``KafkaProducer``.

Durability settings are fixed, not optional: ``acks='all'`` and the idempotent producer
(kafka-python 3 supports ``enable_idempotence``; we set it explicitly so that any conflicting
setting raises instead of silently turning idempotence off). ``retries`` stays at
kafka-python's default (infinite) as its documentation recommends for idempotence; the time
spent retrying is bounded by ``delivery_timeout_ms``. With at most 5 requests in flight per
connection the idempotent producer keeps per-partition order across retries.

Sending is asynchronous: :meth:`EventProducer.send` returns kafka-python's
``FutureRecordMetadata``; its ``get(timeout)`` blocks until the broker acknowledged the record
(acks=all) and returns a ``RecordMetadata`` (topic, partition, offset, ...), or raises the
delivery error. A caller that must only move on after the broker has the records (the relay
advancing its position, the consumer runner publishing to the dead-letter topic) uses
:meth:`EventProducer.send_all`, which sends, flushes and waits for every acknowledgment.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from kafka import KafkaProducer
from kafka.producer.future import FutureRecordMetadata, RecordMetadata

from infra.kafka.cloudevents import DEFAULT_MAX_BODY_BYTES, CloudEvent, encode

log = logging.getLogger("relais.kafka.producer")

Headers = list[tuple[str, bytes]]


class DeliveryFailed(RuntimeError):
    """At least one record was not acknowledged by the broker; nothing can be assumed sent."""

    def __init__(self, message: str, errors: Sequence[BaseException]) -> None:
        super().__init__(message)
        self.errors = list(errors)


class EventProducer:
    """Publishes CloudEvents (and raw records) with acks=all and idempotence.

    ``EventProducer(bootstrap_servers, client_id=..., linger_ms=5, **kafka_options)``;
    ``kafka_options`` are passed to ``KafkaProducer`` (e.g. ``compression_type``,
    ``batch_size``, ``max_request_size``), except the durability settings, which are fixed.
    """

    FIXED = {"acks": "all", "enable_idempotence": True}

    def __init__(
        self,
        bootstrap_servers: str | list[str],
        *,
        client_id: str | None = None,
        linger_ms: int = 5,
        delivery_timeout_ms: int = 120_000,
        request_timeout_ms: int = 30_000,
        max_block_ms: int = 60_000,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        **kafka_options: Any,
    ) -> None:
        for name in self.FIXED:
            if name in kafka_options:
                raise ValueError(f"{name} is fixed by EventProducer ({self.FIXED[name]!r})")
        if "retries" in kafka_options and not kafka_options["retries"]:
            raise ValueError("retries=0 would disable idempotence")
        options: dict[str, Any] = dict(
            bootstrap_servers=bootstrap_servers,
            linger_ms=linger_ms,
            delivery_timeout_ms=delivery_timeout_ms,
            request_timeout_ms=request_timeout_ms,
            max_block_ms=max_block_ms,
            **self.FIXED,
            **kafka_options,
        )
        if client_id is not None:
            options["client_id"] = client_id
        self.max_body_bytes = max_body_bytes
        self._producer = KafkaProducer(**options)
        self._closed = False

    # ------------------------------------------------------------------ sending

    def send(
        self, topic: str, event: CloudEvent, *, partition: int | None = None
    ) -> FutureRecordMetadata:
        """Queue one CloudEvent (key = its partition key). Returns the acknowledgment future."""
        key, value, headers = encode(event, max_body_bytes=self.max_body_bytes)
        return self._producer.send(topic, value=value, key=key, headers=headers, partition=partition)

    def send_raw(
        self,
        topic: str,
        *,
        key: bytes | None,
        value: bytes | None,
        headers: Headers | None = None,
        partition: int | None = None,
        timestamp_ms: int | None = None,
    ) -> FutureRecordMetadata:
        """Queue one record as bytes (the dead-letter publisher, tests, benchmarks)."""
        return self._producer.send(
            topic, value=value, key=key, headers=list(headers or []), partition=partition,
            timestamp_ms=timestamp_ms,
        )

    def flush(self, timeout: float | None = None) -> None:
        """Send everything queued now and block until each record is acknowledged or failed."""
        self._producer.flush(timeout=timeout)

    def send_all(
        self, topic: str, events: Iterable[CloudEvent], *, timeout: float = 60.0
    ) -> list[RecordMetadata]:
        """Send ``events`` in order, flush, and return their acknowledgments in order.

        Raises :class:`DeliveryFailed` if any record failed; the caller must then treat the
        whole batch as unsent (and may re-send it: a duplicate on the wire is fine, consumers
        deduplicate by ``ce_id``).
        """
        # Every record encoded before the first is queued: the sends then follow each other as
        # fast as the client takes them, so the producer's batches fill instead of lingering
        # half-empty between two encodings (fewer, fuller requests; measured in
        # docs/benchmarks.md); and a record that cannot be encoded fails the batch before
        # anything of it is on the wire.
        records = [encode(event, max_body_bytes=self.max_body_bytes) for event in events]
        futures = [
            self._producer.send(topic, value=value, key=key, headers=headers) for key, value, headers in records
        ]
        return self.wait(futures, timeout=timeout)

    def wait(
        self, futures: Sequence[FutureRecordMetadata], *, timeout: float = 60.0
    ) -> list[RecordMetadata]:
        """Flush, then wait for every future; :class:`DeliveryFailed` if any failed."""
        if not futures:
            return []
        self.flush(timeout=timeout)
        results: list[RecordMetadata] = []
        errors: list[BaseException] = []
        for future in futures:
            try:
                results.append(future.get(timeout=timeout))
            except Exception as exc:  # noqa: BLE001 - reported together below
                errors.append(exc)
        if errors:
            raise DeliveryFailed(
                f"{len(errors)} of {len(futures)} records not acknowledged: {errors[0]!r}", errors
            )
        return results

    # ------------------------------------------------------------------ lifecycle

    @property
    def kafka(self) -> KafkaProducer:
        """The underlying ``KafkaProducer`` (metrics, partitions_for)."""
        return self._producer

    @property
    def idempotent(self) -> bool:
        return bool(self._producer.config.get("enable_idempotence"))

    def close(self, timeout: float | None = 30.0) -> None:
        if not self._closed:
            self._closed = True
            self._producer.close(timeout=timeout)

    def __enter__(self) -> EventProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["EventProducer", "DeliveryFailed", "FutureRecordMetadata", "RecordMetadata"]
