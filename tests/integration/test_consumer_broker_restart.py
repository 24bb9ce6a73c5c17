"""The Kafka broker killed and restarted while a consumer applies events: afterwards nothing is
lost and nothing is applied twice.

The shared development broker (up.sh) serves every other test running at the same time, so
this test starts its own private single-node KRaft broker, on free ports, from the jars up.sh
already resolved, and kills that one.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from infra.kafka.consumer import ConsumerRunner, RunnerConfig
from infra.kafka.producer import EventProducer
from tests.integration.consumer_checksum_worker import ChecksumHandler, checksum_stats, make_event
from tests.integration.test_consumer_faults import assert_exactly_once

RUN_DIR = Path(os.environ.get("RELAIS_RUN_DIR", "/var/tmp/relais"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PrivateBroker:
    def __init__(self, workdir: Path) -> None:
        libs = sorted(glob.glob(str(RUN_DIR / "kafka-libs-*")))
        java = os.environ.get("RELAIS_JAVA") or shutil.which("java")
        if not libs or not java:
            pytest.fail(f"no Kafka jars under {RUN_DIR} or no java: run `bash infra/scripts/up.sh`",
                        pytrace=False)
        self.java, self.libs = java, libs[-1]
        self.port, self.controller = free_port(), free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.dir = workdir
        self.props = workdir / "server.properties"
        self.log4j = workdir / "log4j2.properties"
        self.log = workdir / "kafka.log"
        self.props.write_text(
            "process.roles=broker,controller\nnode.id=1\n"
            f"controller.quorum.voters=1@127.0.0.1:{self.controller}\n"
            f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller}\n"
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}\n"
            "controller.listener.names=CONTROLLER\ninter.broker.listener.name=PLAINTEXT\n"
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\n"
            f"log.dirs={workdir / 'data'}\nnum.partitions=3\ndefault.replication.factor=1\n"
            "min.insync.replicas=1\nauto.create.topics.enable=false\n"
            "offsets.topic.replication.factor=1\noffsets.topic.num.partitions=3\n"
            "transaction.state.log.replication.factor=1\ntransaction.state.log.min.isr=1\n"
            "share.coordinator.state.topic.replication.factor=1\n"
            "share.coordinator.state.topic.min.isr=1\ngroup.initial.rebalance.delay.ms=0\n"
        )
        self.log4j.write_text(
            "status = warn\nappender.f.type = Console\nappender.f.name = F\n"
            "appender.f.layout.type = PatternLayout\nappender.f.layout.pattern = [%d] %p %m (%c)%n\n"
            "rootLogger.level = WARN\nrootLogger.appenderRef.f.ref = F\n"
        )
        cp = f"{self.libs}/*"
        cluster = subprocess.run(
            [java, "-cp", cp, f"-Dlog4j2.configurationFile={self.log4j}", "kafka.tools.StorageTool",
             "random-uuid"], capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        subprocess.run(
            [java, "-cp", cp, f"-Dlog4j2.configurationFile={self.log4j}", "kafka.tools.StorageTool",
             "format", "-t", cluster, "-c", str(self.props)], capture_output=True, check=True)
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        fh = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [self.java, "-Xms128m", "-Xmx512m", f"-Dlog4j2.configurationFile={self.log4j}",
             "-cp", f"{self.libs}/*", "kafka.Kafka", str(self.props)],
            stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        from infra.kafka.topics import ping

        deadline = time.monotonic() + 90
        while True:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            try:
                ping(self.bootstrap, timeout_ms=2000)
                return
            except Exception:  # noqa: BLE001 - not up yet
                assert time.monotonic() < deadline, "private broker did not start"
                time.sleep(0.3)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


@pytest.fixture
def private_broker(tmp_path):
    broker = PrivateBroker(tmp_path)
    broker.start()
    yield broker
    broker.stop()


def test_broker_killed_and_restarted_mid_run_loses_nothing_and_applies_nothing_twice(
    private_broker, pg_url, pg_schema
):
    from infra.kafka.topics import admin_client

    admin = admin_client(private_broker.bootstrap, timeout_ms=10_000)
    topic, dlq = f"t.{uuid.uuid4().hex[:8]}", f"dlq.{uuid.uuid4().hex[:8]}"
    admin.create_topics({topic: {"num_partitions": 6, "replication_factor": 1},
                         dlq: {"num_partitions": 1, "replication_factor": 1}},
                        wait_for_metadata=True)
    admin.close()

    n_before, n_after = 1500, 1000
    events = [make_event(f"pathway-{i % 41}", i, i) for i in range(n_before + n_after)]
    with EventProducer(private_broker.bootstrap) as producer:
        producer.send_all(topic, events[:n_before])

    runner = ConsumerRunner(
        ChecksumHandler(sleep_s=0.001),
        RunnerConfig(group_id=f"g-{uuid.uuid4().hex[:8]}", topics=[topic],
                     bootstrap_servers=private_broker.bootstrap, schema=pg_schema,
                     deadletter_topic=dlq, max_batch=50, backoff_initial_s=0.1, backoff_max_s=1.0,
                     session_timeout_ms=6000, heartbeat_interval_ms=500),
        conninfo=pg_url,
    )
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 120
        while checksum_stats(pg_url, pg_schema)["rows"] < 500:
            assert thread.is_alive() and time.monotonic() < deadline
            time.sleep(0.05)
        private_broker.kill9()
        applied_during_outage = checksum_stats(pg_url, pg_schema)["rows"]
        time.sleep(3.0)  # the consumer sees the broker gone; what it fetched may still apply
        private_broker.start()
        restarted = time.monotonic()
        with EventProducer(private_broker.bootstrap) as producer:
            producer.send_all(topic, events[n_before:])
        deadline = time.monotonic() + 180
        while checksum_stats(pg_url, pg_schema)["rows"] < n_before + n_after:
            assert thread.is_alive(), "runner died"
            assert time.monotonic() < deadline, checksum_stats(pg_url, pg_schema)
            time.sleep(0.1)
        recovery_s = time.monotonic() - restarted
        time.sleep(1.0)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not thread.is_alive()
    assert applied_during_outage < n_before
    assert recovery_s < 60, f"took {recovery_s:.1f}s to catch up after the restart"
    assert_exactly_once(pg_url, pg_schema, n_before + n_after)
