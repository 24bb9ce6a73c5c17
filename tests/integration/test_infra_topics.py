"""infra/kafka/topics.py against the real broker: the topic file is applied idempotently."""

from __future__ import annotations

import time
import uuid

import pytest
from kafka.admin import ConfigResource, ConfigResourceType

from infra.kafka.topics import apply, load_topics


@pytest.fixture
def prefixed_specs(kafka_admin):
    prefix = f"x{uuid.uuid4().hex[:8]}"
    specs = load_topics(prefix=prefix)
    yield specs
    kafka_admin.delete_topics([s.name for s in specs], raise_errors=False)


def test_applying_the_topic_file_twice_creates_then_changes_nothing(kafka_bootstrap, kafka_admin, prefixed_specs):
    lines: list[str] = []
    first = apply(kafka_bootstrap, prefixed_specs, out=lines.append)
    assert all(v.startswith("créé") for v in first.values())
    second = apply(kafka_bootstrap, prefixed_specs, out=lines.append)
    assert set(second.values()) == {"à jour"}
    described = {t["name"]: t for t in kafka_admin.describe_topics([s.name for s in prefixed_specs])}
    for s in prefixed_specs:
        assert len(described[s.name]["partitions"]) == s.partitions


def test_a_topic_config_changed_by_hand_is_put_back(kafka_bootstrap, kafka_admin, prefixed_specs):
    apply(kafka_bootstrap, prefixed_specs, out=lambda _line: None)
    dead = next(s for s in prefixed_specs if s.name.endswith(".deadletter"))
    kafka_admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, dead.name, {"retention.ms": "1000"})])
    # The broker applies the controller's metadata asynchronously: wait until it shows the change.
    deadline = time.monotonic() + 15
    while _retention(kafka_admin, dead.name) != "1000" and time.monotonic() < deadline:
        time.sleep(0.2)
    done = apply(kafka_bootstrap, prefixed_specs, out=lambda _line: None)
    assert "retention.ms" in done[dead.name]
    deadline = time.monotonic() + 15
    while _retention(kafka_admin, dead.name) != dead.config["retention.ms"] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _retention(kafka_admin, dead.name) == dead.config["retention.ms"]


def _retention(admin, topic: str) -> str | None:
    configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    return configs["topic"][topic].get("retention.ms", {}).get("value")


def test_a_topic_config_the_file_does_not_name_is_reset_to_the_default(kafka_bootstrap, kafka_admin, prefixed_specs):
    apply(kafka_bootstrap, prefixed_specs, out=lambda _line: None)
    events = next(s for s in prefixed_specs if s.name.endswith(".pathway-events"))
    kafka_admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, events.name, {"max.message.bytes": "2000000"})])
    deadline = time.monotonic() + 15
    while _config(kafka_admin, events.name, "max.message.bytes") != "2000000" and time.monotonic() < deadline:
        time.sleep(0.2)
    done = apply(kafka_bootstrap, prefixed_specs, out=lambda _line: None)
    assert "max.message.bytes (défaut)" in done[events.name]
    deadline = time.monotonic() + 15
    while _config(kafka_admin, events.name, "max.message.bytes") is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _config(kafka_admin, events.name, "max.message.bytes") is None  # no longer set on the topic


def _config(admin, topic: str, key: str) -> str | None:
    configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    return configs["topic"][topic].get(key, {}).get("value")
