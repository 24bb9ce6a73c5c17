"""The whole backbone under faults: commands on the PostgreSQL event store, `relais relay` and
the checksum projection as separate processes, both killed with SIGKILL twice at random
moments and restarted, and the Kafka broker stopped and started once, while the commands keep
coming. Afterwards the topic holds every stored event in per-pathway order (a duplicate only
as an exact repeat), and the checksum projection equals the event store, exactly once.

The broker restarted is a private single-node KRaft broker started for this test from the
jars up.sh resolved (``PrivateBroker`` of test_consumer_broker_restart), not the shared
development broker: other tests, and other people's runs, use that one at the same time.
Set RELAIS_FAULT_SEED to replay a run's fault moments (the seed is printed).
"""

from __future__ import annotations

import os
import random
import threading
import time
import traceback
import uuid
from collections.abc import Callable

import psycopg
import pytest
from eventsourcing.cipher import AESCipher
from pydantic import SecretStr

from projections.checksum import audit, expected_chain
from services.bootstrap import build_pathways_application
from services.pathways import PathwaysHandler
from services.relay.wire import event_id
from services.settings import Settings
from tests.integration.backbone_harness import (
    Proc,
    checksum_command,
    checksum_rows,
    max_notification_id,
    per_key,
    read_topic,
    relais_env,
    relay_command,
    relay_position,
    stored_versions,
    workload,
)
from tests.integration.test_consumer_broker_restart import PrivateBroker

PATHWAYS, PER_PATHWAY = 200, 16  # 3,200 commands, 3,200 pathway events
RATE = 90.0  # commands per second: the faults happen while commands keep coming
PARTITIONS = 6


@pytest.fixture
def broker(tmp_path):
    workdir = tmp_path / "kafka"
    workdir.mkdir()
    b = PrivateBroker(workdir)
    b.start()
    try:
        yield b
    finally:
        b.stop()


class Faults:
    """Runs the fault plan in a thread, each fault once the commands reached its moment."""

    def __init__(self, rng: random.Random, plan: list[tuple[float, str, Callable[[], None]]]) -> None:
        self.rng = rng
        self.plan = sorted(plan, key=lambda p: p[0])
        self.progress = 0.0
        self.done: list[str] = []
        self.error: str | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            for at, name, action in self.plan:
                while self.progress < at:
                    time.sleep(0.02)
                action()
                self.done.append(name)
        except BaseException:  # noqa: BLE001 - reported by the test
            self.error = traceback.format_exc()


def wait_until(what: str, condition: Callable[[], bool], timeout: float, alive: Callable[[], None]) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        alive()
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        time.sleep(0.05)


def test_relay_and_consumer_killed_and_broker_restarted_lose_nothing_and_apply_nothing_twice(
    broker, pg_url, pg_schema, tmp_path, request
):
    seed = int(os.environ.get("RELAIS_FAULT_SEED") or random.randrange(1 << 30))
    print(f"RELAIS_FAULT_SEED={seed}")
    rng = random.Random(seed)

    from infra.kafka.topics import admin_client

    prefix = f"bb{uuid.uuid4().hex[:10]}"
    events_topic, dlq_topic = f"{prefix}.pathway-events", f"{prefix}.deadletter"
    admin = admin_client(broker.bootstrap, timeout_ms=10_000)
    admin.create_topics({events_topic: {"num_partitions": PARTITIONS, "replication_factor": 1},
                         dlq_topic: {"num_partitions": 1, "replication_factor": 1}}, wait_for_metadata=True)

    def delete_topics() -> None:
        try:
            admin.delete_topics([events_topic, dlq_topic], raise_errors=False)
        finally:
            admin.close()

    request.addfinalizer(delete_topics)  # runs before the broker fixture stops the broker

    cipher_key = AESCipher.create_key(num_bytes=32)
    settings = Settings(mode="distributed", database_url=pg_url, database_schema=pg_schema,
                        kafka_bootstrap=broker.bootstrap, topic_prefix=prefix, cipher_key=SecretStr(cipher_key))
    handler = PathwaysHandler(build_pathways_application(settings))
    env = relais_env(database_url=pg_url, schema=pg_schema, bootstrap=broker.bootstrap, prefix=prefix,
                     cipher_key=cipher_key)
    commands = workload(PATHWAYS, PER_PATHWAY, seed=seed)

    procs: dict[str, Proc] = {}  # the running one of each
    every: list[Proc] = []
    started: dict[str, tuple[float, int]] = {}  # name -> (when, progress measure at start)
    counts = {"relay": 0, "checksum": 0}

    def applied() -> int:
        return sum(row[0] for row in checksum_rows(pg_url, pg_schema).values())

    def measure(name: str) -> int:
        return relay_position(pg_url, pg_schema) if name == "relay" else applied()

    def start(name: str) -> None:
        cmd = relay_command() if name == "relay" else checksum_command("--session-timeout-ms", "6000")
        started[name] = (time.monotonic(), measure(name))
        procs[name] = Proc(f"{name}{counts[name]}", tmp_path, cmd, env)
        every.append(procs[name])
        counts[name] += 1

    swapping = threading.Lock()  # held while a process is killed and replaced

    def alive() -> None:
        with swapping:
            for p in list(procs.values()):
                assert p.alive(), f"{p.name} died (rc {p.proc.returncode}):\n{p.tail()}"

    def caught_up(name: str) -> bool:
        if name == "relay":
            return relay_position(pg_url, pg_schema) >= max_notification_id(pg_url, pg_schema)
        return applied() >= sum(len(v) for v in stored_versions(pg_url, pg_schema).values())

    def kill_and_restart(name: str, *, wait_for_progress: bool = True) -> None:
        if wait_for_progress:
            # A random moment while it works: once it has made progress since it (re)started
            # (or has nothing left to do), then up to 300 ms later.
            wait_until(f"{name} progress", lambda: measure(name) > started[name][1] or caught_up(name),
                       90, alive)
        time.sleep(rng.uniform(0, 0.3))
        with swapping:
            procs[name].kill9()
            time.sleep(rng.uniform(0.1, 1.0))
            start(name)

    def restart_broker_and_the_relay_meanwhile() -> None:
        # The broker stops while the relay publishes; the relay is killed during the outage
        # and restarted while the broker is still down ("restart it at any time").
        try:
            broker.stop()
            time.sleep(rng.uniform(0.2, 1.5))
            kill_and_restart("relay", wait_for_progress=False)
            time.sleep(rng.uniform(4.0, 6.0))
        finally:
            broker.start()  # waits until it answers: the broker is back even if the test fails

    faults = Faults(rng, [
        (rng.uniform(0.04, 0.10), "relay kill 1", lambda: kill_and_restart("relay")),
        (rng.uniform(0.12, 0.20), "consumer kill 1", lambda: kill_and_restart("checksum")),
        (rng.uniform(0.24, 0.30), "broker restart + relay kill 2", restart_broker_and_the_relay_meanwhile),
        (rng.uniform(0.60, 0.75), "consumer kill 2", lambda: kill_and_restart("checksum")),
    ])

    t0 = time.monotonic()
    try:
        start("relay")
        start("checksum")
        faults.thread.start()
        for i, command in enumerate(commands):
            delay = t0 + i / RATE - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            result = handler.handle(command)
            assert result.accepted, result
            faults.progress = (i + 1) / len(commands)
            if i % 100 == 0:
                alive()
                assert faults.error is None, faults.error
        faults.thread.join(timeout=120)
        assert faults.error is None, faults.error
        assert not faults.thread.is_alive(), f"faults still running; done: {faults.done}"
        commands_s = time.monotonic() - t0

        store = stored_versions(pg_url, pg_schema)
        total = sum(len(v) for v in store.values())
        wait_until("relay caught up", lambda: caught_up("relay"), 90, alive)
        wait_until("projection caught up", lambda: applied() >= total, 90, alive)
        time.sleep(1.0)  # anything applied twice would show up now
        for name in ("relay", "checksum"):
            rc = procs[name].terminate(timeout=30)
            assert rc == 0, f"{name} exited {rc} on SIGTERM:\n{procs[name].tail()}"
    finally:
        for p in every:
            p.stop()

    assert faults.done == ["relay kill 1", "consumer kill 1", "broker restart + relay kill 2", "consumer kill 2"]
    assert counts == {"relay": 3, "checksum": 3}

    # The event store: what must have gone out.
    assert len(store) == PATHWAYS and total >= len(commands)
    for pid, versions in store.items():
        assert versions == list(range(1, len(versions) + 1)), pid

    # The topic: every stored event, per pathway in order; a duplicate only as an exact repeat.
    records = read_topic(broker.bootstrap, events_topic)
    duplicates = 0
    on_wire: set[tuple[str, int]] = set()
    for key, recs in per_key(records).items():
        assert len({r.partition for r in recs}) == 1, f"pathway {key} on several partitions"
        first: dict[str, bytes] = {}
        last = 0
        for r in recs:
            assert r.pathway == key and r.ce_id == event_id(key, r.version), r
            if r.ce_id in first:
                assert first[r.ce_id] == r.value, f"{key} v{r.version}: same ce_id, different body"
                duplicates += 1
                continue
            assert r.version == last + 1, f"{key}: v{r.version} after v{last} (order or gap)"
            first[r.ce_id] = r.value
            last = r.version
            on_wire.add((key, r.version))
    in_store = {(pid, v) for pid, versions in store.items() for v in versions}
    assert on_wire == in_store, (f"missing on the wire: {sorted(in_store - on_wire)[:5]}, "
                                 f"not in the store: {sorted(on_wire - in_store)[:5]}")

    # The checksum projection: the event store, exactly once, in order.
    rows = checksum_rows(pg_url, pg_schema)
    assert set(rows) == set(store)
    for pid, versions in store.items():
        events, last_version, chain, out_of_order = rows[pid]
        assert (events, last_version, out_of_order) == (len(versions), versions[-1], 0), pid
        assert chain == expected_chain(event_id(pid, v) for v in versions), pid
    with psycopg.connect(pg_url) as conn:
        assert audit(conn, pg_schema) == []

    skipped = sum(p.log.read_text(errors="replace").count('"duplicate ce_id skipped"')
                  for p in every)
    print(f"backbone fault run: {len(commands)} commands, {total} events, {len(records)} records on the wire "
          f"({duplicates} exact repeats), {skipped} duplicates skipped by the projection; "
          f"commands phase {commands_s:.1f}s, total {time.monotonic() - t0:.1f}s; faults {faults.done}")
