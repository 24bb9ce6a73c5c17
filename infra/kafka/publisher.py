"""The `Publisher` port on Kafka: a batch returns only once acks=all came back for all of it."""

from __future__ import annotations

from collections.abc import Sequence

from infra.kafka.cloudevents import CloudEvent
from infra.kafka.producer import EventProducer


class KafkaPublisher:
    def __init__(self, producer: EventProducer, topic: str, *, timeout: float = 60.0) -> None:
        self._producer = producer
        self.topic = topic
        self._timeout = timeout

    def publish(self, events: Sequence[CloudEvent]) -> None:
        self._producer.send_all(self.topic, events, timeout=self._timeout)
