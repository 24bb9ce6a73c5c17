"""Consumer processes killed with SIGKILL mid-batch, stopped with SIGTERM, and joined by a
second member of their group: afterwards every event is applied exactly once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from infra.kafka.producer import EventProducer
from tests.integration.consumer_checksum_worker import checksum_stats, make_event

ROOT = Path(__file__).resolve().parents[2]


class Worker:
    """One `python -m tests.integration.consumer_checksum_worker` process."""

    def __init__(self, name: str, log_dir: Path, **args: str) -> None:
        self.name = name
        self.log = log_dir / f"worker-{name}-{uuid.uuid4().hex[:6]}.log"
        cmd = [sys.executable, "-m", "tests.integration.consumer_checksum_worker", "--worker", name]
        for k, v in args.items():
            if v is True:
                cmd.append(f"--{k.replace('_', '-')}")
            elif v is not False:
                cmd += [f"--{k.replace('_', '-')}", str(v)]
        self._fh = open(self.log, "wb")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self._fh, stderr=subprocess.STDOUT,
                                     env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._fh.close()

    def terminate(self, timeout: float = 30.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=timeout)
        self._fh.close()
        return rc

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@pytest.fixture
def workers(tmp_path):
    made: list[Worker] = []

    def start(name: str, **args: str) -> Worker:
        w = Worker(name, tmp_path, **args)
        made.append(w)
        return w

    yield start
    for w in made:
        if w.alive():
            w.proc.kill()
            w.proc.wait(timeout=10)


def wait_rows(pg_url, schema, at_least, timeout, workers=()):
    deadline = time.monotonic() + timeout
    while True:
        stats = checksum_stats(pg_url, schema)
        if stats["rows"] >= at_least:
            return stats
        for w in workers:
            assert w.alive(), f"worker {w.name} died:\n{w.tail()}"
        assert time.monotonic() < deadline, f"only {stats} after {timeout}s"
        time.sleep(0.1)


def assert_exactly_once(pg_url, schema, n):
    stats = checksum_stats(pg_url, schema)
    assert stats == {"rows": n, "distinct": n, "sum": n * (n - 1) // 2}
    with psycopg.connect(pg_url) as conn:
        dup = conn.execute(
            f'SELECT topic, partition, "offset", count(*) FROM "{schema}".checksum'
            ' GROUP BY 1, 2, 3 HAVING count(*) > 1').fetchall()
    assert dup == []


@pytest.mark.parametrize("batch", [False, True], ids=["handle", "handle_batch"])
def test_consumer_killed_mid_batch_resumes_without_loss_or_duplicate(
    kafka_bootstrap, pg_url, pg_schema, new_topic, workers, batch
):
    n = 3000
    topic, dlq = new_topic(6), new_topic(1, "dlq")
    with EventProducer(kafka_bootstrap) as producer:
        producer.send_all(topic, [make_event(f"pathway-{i % 97}", i, i) for i in range(n)])
    args = dict(bootstrap=kafka_bootstrap, dsn=pg_url, schema=pg_schema, group=f"g-{uuid.uuid4().hex[:8]}",
                topic=topic, deadletter_topic=dlq, sleep_ms=1, max_batch=50, batch=batch)
    rng = random.Random(4)
    kills = 0
    for target in (400, 1100, 1900):
        w = workers(f"k{kills}", **args)
        wait_rows(pg_url, pg_schema, target + rng.randrange(0, 150), timeout=120, workers=[w])
        time.sleep(rng.random() * 0.05)  # a random moment, inside a batch transaction
        w.kill9()
        kills += 1
    survivor = workers("final", **args)
    wait_rows(pg_url, pg_schema, n, timeout=180, workers=[survivor])
    time.sleep(1.0)  # anything applied twice would show up now
    assert survivor.terminate() == 0
    assert kills == 3
    assert_exactly_once(pg_url, pg_schema, n)


@pytest.mark.parametrize("batch", [False, True], ids=["handle", "handle_batch"])
def test_two_consumers_in_one_group_rebalance_and_still_apply_each_event_once(
    kafka_bootstrap, pg_url, pg_schema, new_topic, workers, batch
):
    n = 2400
    topic, dlq = new_topic(6), new_topic(1, "dlq")
    args = dict(bootstrap=kafka_bootstrap, dsn=pg_url, schema=pg_schema, group=f"g-{uuid.uuid4().hex[:8]}",
                topic=topic, deadletter_topic=dlq, sleep_ms=1, max_batch=50, batch=batch)
    events = [make_event(f"pathway-{i % 61}", i, i) for i in range(n)]
    with EventProducer(kafka_bootstrap) as producer:
        a = workers("A", **args)
        producer.send_all(topic, events[:1200])
        wait_rows(pg_url, pg_schema, 300, timeout=120, workers=[a])
        b = workers("B", **args)  # joins: the group rebalances while A is applying
        producer.send_all(topic, events[1200:])
        wait_rows(pg_url, pg_schema, 1500, timeout=120, workers=[a, b])
        assert a.terminate() == 0  # leaves: B takes every partition
        wait_rows(pg_url, pg_schema, n, timeout=180, workers=[b])
    time.sleep(1.0)
    assert b.terminate() == 0
    assert_exactly_once(pg_url, pg_schema, n)
    with psycopg.connect(pg_url) as conn:
        per_worker = dict(conn.execute(
            f'SELECT worker, count(*) FROM "{pg_schema}".checksum GROUP BY worker').fetchall())
    assert per_worker.get("A", 0) > 0 and per_worker.get("B", 0) > 0, per_worker
    assert '"event": "assigned"' in b.tail() or "partitions assigned" in b.tail()


def test_database_connections_killed_during_batches_roll_back_and_the_runner_carries_on(
    kafka_bootstrap, pg_url, pg_schema, new_topic
):
    import threading

    from infra.kafka.consumer import ConsumerRunner, RunnerConfig
    from tests.integration.consumer_checksum_worker import ChecksumHandler

    n = 1500
    topic, dlq = new_topic(3), new_topic(1, "dlq")
    with EventProducer(kafka_bootstrap) as producer:
        producer.send_all(topic, [make_event(f"pathway-{i % 13}", i, i) for i in range(n)])
    app = f"runner-{uuid.uuid4().hex[:8]}"
    sep = "&" if "?" in pg_url else "?"
    runner = ConsumerRunner(
        ChecksumHandler(sleep_s=0.0005),
        RunnerConfig(group_id=f"g-{uuid.uuid4().hex[:8]}", topics=[topic],
                     bootstrap_servers=kafka_bootstrap, schema=pg_schema, deadletter_topic=dlq,
                     max_batch=100, backoff_initial_s=0.05, backoff_max_s=0.5,
                     session_timeout_ms=6000, heartbeat_interval_ms=500),
        conninfo=f"{pg_url}{sep}application_name={app}",
    )
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    killed = 0
    try:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            deadline = time.monotonic() + 120
            while checksum_stats(pg_url, pg_schema)["rows"] < n:
                assert time.monotonic() < deadline, checksum_stats(pg_url, pg_schema)
                if killed < 8 and checksum_stats(pg_url, pg_schema)["rows"] > killed * 150:
                    killed += admin.execute(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE application_name = %s AND state <> 'idle'", (app,)).fetchone()[0]
                time.sleep(0.02)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    assert killed >= 3
    time.sleep(0.5)
    assert_exactly_once(pg_url, pg_schema, n)


def test_a_runner_started_while_the_database_is_unreachable_keeps_retrying_until_stopped(
    kafka_bootstrap, new_topic
):
    import threading

    from infra.kafka.consumer import ConsumerRunner, RunnerConfig
    from tests.integration.consumer_checksum_worker import ChecksumHandler

    runner = ConsumerRunner(
        ChecksumHandler(),
        RunnerConfig(group_id="g-unreachable", topics=[new_topic(1)],
                     bootstrap_servers=kafka_bootstrap, db_timeout_s=0.5,
                     backoff_initial_s=0.05, backoff_max_s=0.2),
        conninfo="postgresql://relais:relais@127.0.0.1:1/relais?connect_timeout=1",
    )
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    time.sleep(2.0)
    assert thread.is_alive()  # not crashed: retrying
    stop.set()
    thread.join(timeout=15)
    assert not thread.is_alive()
    assert runner.totals.applied == 0


def test_cooperative_rebalances_keep_the_partitions_a_member_retains_and_apply_each_event_once(
    kafka_bootstrap, pg_url, pg_schema, new_topic
):
    import threading

    from kafka.coordinator.assignors.cooperative_sticky import CooperativeStickyAssignor

    from infra.kafka.consumer import ConsumerRunner, RunnerConfig
    from tests.integration.consumer_checksum_worker import ChecksumHandler

    n = 2000
    topic, dlq = new_topic(6), new_topic(1, "dlq")
    group = f"g-{uuid.uuid4().hex[:8]}"

    def member(name):
        runner = ConsumerRunner(
            ChecksumHandler(name, sleep_s=0.001),
            RunnerConfig(group_id=group, topics=[topic], bootstrap_servers=kafka_bootstrap,
                         schema=pg_schema, deadletter_topic=dlq, max_batch=40,
                         session_timeout_ms=6000, heartbeat_interval_ms=500, client_id=name,
                         consumer_options={"partition_assignment_strategy":
                                           (CooperativeStickyAssignor,)}),
            conninfo=pg_url,
        )
        stop = threading.Event()
        thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
        thread.start()
        return runner, stop, thread

    events = [make_event(f"pathway-{i % 53}", i, i) for i in range(n)]
    with EventProducer(kafka_bootstrap) as producer:
        producer.send_all(topic, events[:1000])
        a, stop_a, thread_a = member("A")
        wait_rows(pg_url, pg_schema, 200, timeout=120)
        b, stop_b, thread_b = member("B")
        producer.send_all(topic, events[1000:])
        wait_rows(pg_url, pg_schema, 1300, timeout=120)
        stop_a.set()
        thread_a.join(timeout=60)
        wait_rows(pg_url, pg_schema, n, timeout=180)
    time.sleep(1.0)
    stop_b.set()
    thread_b.join(timeout=60)
    assert not thread_a.is_alive() and not thread_b.is_alive()
    assert_exactly_once(pg_url, pg_schema, n)
    assert a.totals.applied > 0 and b.totals.applied > 0
    assert a.totals.applied + b.totals.applied == n


def test_partitions_added_while_consuming_are_picked_up_and_every_event_applied_once(
    kafka_bootstrap, pg_url, pg_schema, new_topic, kafka_admin
):
    from infra.kafka.consumer import ConsumerRunner, RunnerConfig
    from tests.integration.consumer_checksum_worker import ChecksumHandler

    topic, dlq = new_topic(2), new_topic(1, "dlq")
    with EventProducer(kafka_bootstrap) as producer:
        producer.send_all(topic, [make_event(f"pathway-{i % 17}", i, i) for i in range(300)])
    runner = ConsumerRunner(
        ChecksumHandler(),
        RunnerConfig(group_id=f"g-{uuid.uuid4().hex[:8]}", topics=[topic],
                     bootstrap_servers=kafka_bootstrap, schema=pg_schema, deadletter_topic=dlq,
                     max_batch=50, max_wait_ms=5, session_timeout_ms=6000,
                     heartbeat_interval_ms=500, consumer_options={"metadata_max_age_ms": 500}),
        conninfo=pg_url,
    )
    with runner:
        deadline = time.monotonic() + 60
        while runner.totals.applied < 300:
            assert time.monotonic() < deadline
            runner.run_once(timeout_ms=50)  # short polls: rebalances outlive them
        kafka_admin.create_partitions({topic: 6})
        with EventProducer(kafka_bootstrap) as producer:  # a producer that sees 6 partitions
            acks = producer.send_all(topic, [make_event(f"pathway-{i % 17}", i, i)
                                             for i in range(300, 900)])
        assert {a.partition for a in acks} - {0, 1}, "the new partitions got nothing"
        deadline = time.monotonic() + 90
        while runner.totals.applied < 900:
            assert time.monotonic() < deadline, runner.totals
            runner.run_once(timeout_ms=50)
        assert {tp.partition for tp in runner.consumer.assignment()} == set(range(6))
    assert_exactly_once(pg_url, pg_schema, 900)
