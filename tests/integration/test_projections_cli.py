"""`relais projections run` and `rebuild` as processes, on the real broker and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

from infra.kafka.producer import EventProducer
from tests.integration.test_projections_postgres import territory_events

RELAIS = str(Path(sys.executable).with_name("relais"))


def test_projections_run_until_sigterm_then_rebuild_with_a_progress_bar_and_a_swap(
    tmp_path, pg_url, pg_schema, kafka_bootstrap, kafka_admin
) -> None:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    topic = f"{prefix}.pathway-events"
    kafka_admin.create_topics({topic: {"num_partitions": 3, "replication_factor": 1}}, wait_for_metadata=True)
    try:
        events = territory_events(tmp_path, 12)
        with EventProducer(kafka_bootstrap) as producer:
            producer.send_all(topic, events)
        env = dict(os.environ, RELAIS_TOPIC_PREFIX=prefix, RELAIS_DATABASE_SCHEMA=pg_schema,
                   RELAIS_DATABASE_URL=pg_url, RELAIS_KAFKA_BOOTSTRAP=kafka_bootstrap)
        run = subprocess.Popen([RELAIS, "projections", "run", "pathway_summary", "timeline"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def count(table: str) -> int:
            with psycopg.connect(pg_url) as conn:
                conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(pg_schema)))
                try:
                    return conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0]
                except psycopg.errors.UndefinedTable:
                    return -1

        deadline = time.monotonic() + 90
        while count("timeline") < len(events) or count("pathway_summary") < 12:
            assert run.poll() is None, run.communicate()
            assert time.monotonic() < deadline, "relais projections run did not catch up"
            time.sleep(0.5)
        run.send_signal(signal.SIGTERM)
        _, err = run.communicate(timeout=60)
        assert run.returncode == 0, err[-2000:]

        done = subprocess.run([RELAIS, "projections", "rebuild", "timeline"], env=env, capture_output=True,
                              text=True, timeout=180)
        assert done.returncode == 0, done.stderr[-2000:]
        assert f"timeline v1 -> v2 : {len(events)} événements" in done.stdout
        assert "vue basculée" in done.stdout
        assert "év/s" in done.stderr and "reste" in done.stderr and f"{len(events)}/{len(events)}" in done.stderr
        assert count("timeline") == len(events)
        assert count("timeline_v1") == -1 and count("timeline_v2") == len(events)
    finally:
        kafka_admin.delete_topics([topic], raise_errors=False)
