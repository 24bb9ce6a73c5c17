"""The distributed workers as an operator runs them, on the real PostgreSQL and Kafka: an
unreachable broker is retried with backoff and logged once (JSON lines), `--metrics-port`
serves metrics that move as events flow, and the applied-ids table is pruned without ever
letting a redelivered record apply twice."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import uuid

import httpx
import psycopg
import pytest
from psycopg import sql

from infra.kafka.producer import EventProducer
from services.relay.relay import Relay
from tests.e2e.test_cli_serve_operations import _metric
from tests.integration.consumer_checksum_worker import ChecksumHandler, checksum_stats, make_event
from tests.integration.test_consumer_exactly_once import drive, runner_for
from tests.integration.test_projections_postgres import territory_events
from tests.unit.test_cli_check import CIPHER_KEY, RELAIS


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(pg_url: str, pg_schema: str, bootstrap: str, prefix: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env.update(RELAIS_MODE="distributed", RELAIS_ENVIRONMENT="development", RELAIS_DATABASE_URL=pg_url,
               RELAIS_DATABASE_SCHEMA=pg_schema, RELAIS_KAFKA_BOOTSTRAP=bootstrap, RELAIS_TOPIC_PREFIX=prefix,
               RELAIS_CIPHER_KEY=CIPHER_KEY)
    return env


def _records(err: str) -> list[dict]:
    return [json.loads(line) for line in err.splitlines() if line.strip()]  # every line is JSON


@pytest.mark.parametrize("command", [["alerting"], ["risk"], ["ingest", "siao"], ["projections", "run", "alerts"],
                                     ["relay"]])
def test_a_worker_whose_kafka_is_unreachable_keeps_retrying_and_logs_the_outage_once(
        tmp_path, pg_url, pg_schema, command):
    env = _env(pg_url, pg_schema, f"127.0.0.1:{_port()}", f"t{uuid.uuid4().hex[:8]}")
    if command == ["relay"]:  # the relay talks to Kafka only when there is something to publish
        from services.bootstrap import build_pathways_application
        from services.pathways import PathwaysHandler
        from services.settings import Settings
        from services.territory.load import load

        settings = Settings(mode="distributed", database_url=pg_url, database_schema=pg_schema, cipher_key=CIPHER_KEY)
        app = build_pathways_application(settings)
        load(PathwaysHandler(app), 1, progress=None)
        app.close()
    err_path = tmp_path / "stderr"
    with err_path.open("w") as err_file:
        proc = subprocess.Popen([RELAIS, *command], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err_file, text=True)
        try:
            deadline = time.monotonic() + 60
            while '"retry_start"' not in err_path.read_text():
                assert proc.poll() is None, err_path.read_text()
                assert time.monotonic() < deadline, f"no retry logged: {err_path.read_text()}"
                time.sleep(0.2)
            # Watch the outage go on: several attempts (0.2 s, 0.4 s, 0.8 s, ... capped) in 8 s.
            watched = time.monotonic() + 8
            while time.monotonic() < watched:
                assert proc.poll() is None, f"{command} died on an unreachable broker: {err_path.read_text()}"
                time.sleep(0.2)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
    records = _records(err_path.read_text())
    retries = [r for r in records if r.get("event") == "retry_start"]
    # `relais ingest` runs two consumers (inbound messages, the directory's quota places): each
    # of its loops logs the outage once.
    loops = 2 if command[0] == "ingest" else 1
    assert len(retries) == loops == len({r["loop"] for r in retries}), [r["message"] for r in records]
    assert len(records) < 15 * loops, [r["message"] for r in records]
    assert all(r["level"] == "error" and r["loop"] for r in retries)


def test_a_projections_worker_serves_metrics_whose_lag_and_applied_count_move_as_events_flow(
        tmp_path, pg_url, pg_schema, kafka_bootstrap, kafka_admin):
    prefix = f"t{uuid.uuid4().hex[:10]}"
    topic = f"{prefix}.pathway-events"
    kafka_admin.create_topics({topic: {"num_partitions": 3, "replication_factor": 1}}, wait_for_metadata=True)
    port = _port()
    proc = subprocess.Popen([RELAIS, "projections", "run", "timeline", "--metrics-port", str(port)],
                            env=_env(pg_url, pg_schema, kafka_bootstrap, prefix), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        def metrics() -> str:
            deadline = time.monotonic() + 30
            while True:
                assert proc.poll() is None, proc.stderr.read()
                try:
                    return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "no /metrics on --metrics-port"
                    time.sleep(0.2)

        assert _metric(metrics(), "relais_consumer_applied_total") == 0
        events = territory_events(tmp_path, 6)
        with EventProducer(kafka_bootstrap) as producer:
            producer.send_all(topic, events)
        deadline, text = time.monotonic() + 90, ""
        while time.monotonic() < deadline:
            text = metrics()
            if _metric(text, "relais_consumer_applied_total") >= len(events):
                break
            time.sleep(0.5)
        assert _metric(text, "relais_consumer_applied_total") == len(events)
        assert 'relais_consumer_lag{group="' in text and f'topic="{topic}"' in text
        assert _metric(text, "relais_consumer_lag", topic=topic) == 0  # caught up
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        kafka_admin.delete_topics([topic], raise_errors=False)


def _applied_offsets(pg_url: str, schema: str, group: str) -> list[int]:
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(sql.SQL('SELECT "offset" FROM {}.kafka_applied_events WHERE consumer_group = %s'
                                    ' ORDER BY 1').format(sql.Identifier(schema)), (group,)).fetchall()
    return [r[0] for r in rows]


def test_pruning_the_applied_ids_keeps_every_id_a_redelivery_could_match(
        kafka_bootstrap, pg_url, pg_schema, new_topic):
    topic, dlq, group = new_topic(1), new_topic(1, "dlq"), f"g-{uuid.uuid4().hex[:8]}"
    events = [make_event("pathway-prune", i, 1) for i in range(20)]
    runner = runner_for(ChecksumHandler(), kafka_bootstrap=kafka_bootstrap, pg_url=pg_url, pg_schema=pg_schema,
                        topic=topic, dlq=dlq, group_id=group, prune_every_s=0.0, applied_keep_offsets=5,
                        applied_keep_s=0.0)
    with EventProducer(kafka_bootstrap) as producer, runner:
        producer.send_all(topic, events)
        drive(runner, lambda: runner.totals.polled >= 20)
        producer.send_all(topic, [make_event("pathway-prune", 20, 1)])
        drive(runner, lambda: runner.totals.polled >= 21)
        # Offsets below the position (21) minus the margin (5) went; the last five and the new one stay.
        assert _applied_offsets(pg_url, pg_schema, group) == [16, 17, 18, 19, 20]
        # The relay republishing its last batch (records within the margin): applied once still.
        producer.send_all(topic, events[16:])
        drive(runner, lambda: runner.totals.polled >= 25)
    assert runner.totals.applied == 21 and runner.totals.skipped_duplicate == 4
    assert checksum_stats(pg_url, pg_schema) == {"rows": 21, "distinct": 21, "sum": 21}


def test_the_default_retention_of_applied_ids_is_far_beyond_a_relay_republication():
    from infra.kafka.consumer import RunnerConfig

    config = RunnerConfig(group_id="g", topics=["t"], bootstrap_servers="x:1")
    relay_batch = Relay.__init__.__kwdefaults__["batch_size"]
    assert config.applied_keep_offsets >= 100 * relay_batch and config.applied_keep_s >= 3600
