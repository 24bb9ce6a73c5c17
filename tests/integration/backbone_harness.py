"""What the backbone fault run and the backbone benchmarks share: a pathway workload, the
RELAIS_* environment of the worker processes, the worker processes themselves (`relais relay`,
`python -m projections.checksum run`), and readers of the event store and of the topic.

The process wrapper reuses the SIGKILL harness of test_consumer_faults (``Worker``): same log
file, ``kill9``, ``terminate``, ``alive``, ``tail``; only the command line differs.
"""

from __future__ import annotations

import subprocess
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

# The workload and the worker command lines live with the benchmarks (bench/ must not import
# tests/); the fault test uses the very same ones.
from bench.workload import (
    AGENCIES,
    T0,
    checksum_command,
    pathway_commands,
    relais_env,
    relay_command,
    workload,
)
from tests.integration.test_consumer_faults import ROOT, Worker

__all__ = ["AGENCIES", "T0", "checksum_command", "pathway_commands", "relais_env", "relay_command", "workload"]


class Proc(Worker):
    """A worker process with its own command line and environment (see ``Worker``)."""

    def __init__(self, name: str, log_dir: Path, cmd: list[str], env: dict[str, str]) -> None:  # noqa: D107
        self.name = name
        self.log = log_dir / f"{name}-{uuid.uuid4().hex[:6]}.log"
        self._fh = open(self.log, "wb")  # noqa: SIM115 - closed by kill9/terminate
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self._fh, stderr=subprocess.STDOUT, env=env)

    def stop(self) -> None:
        """SIGTERM, or SIGKILL when it does not exit in time; never raises."""
        if not self.alive():
            return
        try:
            self.terminate(timeout=20)
        except Exception:  # noqa: BLE001
            self.proc.kill()
            self.proc.wait(timeout=10)


# --------------------------------------------------------------------------- readers


def stored_versions(database_url: str, schema: str) -> dict[str, list[int]]:
    """pathway id -> its stored versions in order (pathway events only)."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            sql.SQL("SELECT originator_id::text, array_agg(originator_version ORDER BY originator_version)"
                    " FROM {}.pathways_events WHERE topic LIKE %s GROUP BY 1").format(sql.Identifier(schema)),
            ("domain.%",),
        ).fetchall()
    return {pid: list(vs) for pid, vs in rows}


def max_notification_id(database_url: str, schema: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}.pathways_events").format(sql.Identifier(schema))
        ).fetchone()[0]


def relay_position(database_url: str, schema: str, name: str = "relay") -> int:
    with psycopg.connect(database_url) as conn:
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f'"{schema}".relay_positions',)).fetchone()[0]
        if not exists:
            return 0
        row = conn.execute(
            sql.SQL("SELECT notification_id FROM {}.relay_positions WHERE name = %s").format(sql.Identifier(schema)),
            (name,),
        ).fetchone()
    return int(row[0]) if row else 0


def checksum_rows(database_url: str, schema: str) -> dict[str, tuple[int, int, str, int]]:
    """pathway id -> (events, last_version, chain, out_of_order) of the checksum projection."""
    with psycopg.connect(database_url) as conn:
        exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f'"{schema}".pathway_checksums',)).fetchone()[0]
        if not exists:
            return {}
        rows = conn.execute(
            sql.SQL("SELECT pathway_id, events, last_version, chain, out_of_order FROM {}.pathway_checksums")
            .format(sql.Identifier(schema))
        ).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


@dataclass(frozen=True)
class WireRecord:
    partition: int
    offset: int
    key: str
    ce_id: str
    pathway: str
    version: int
    value: bytes


def read_topic(bootstrap: str, topic: str, *, timeout_s: float = 60.0) -> list[WireRecord]:
    """Every record of `topic`, from the beginning to the end offsets seen at the start."""
    import time

    from kafka import KafkaConsumer, TopicPartition

    from infra.kafka.cloudevents import decode

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                             isolation_level="read_committed", max_poll_records=5000)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        remaining = {tp for tp in tps if end[tp] > 0}
        out: list[WireRecord] = []
        deadline = time.monotonic() + timeout_s
        while remaining:
            assert time.monotonic() < deadline, f"topic {topic} not read to its end in {timeout_s}s"
            for tp, records in consumer.poll(timeout_ms=500).items():
                for r in records:
                    if r.offset >= end[tp]:
                        continue
                    event = decode(r.key, r.value, r.headers)
                    out.append(WireRecord(r.partition, r.offset, r.key.decode(), event.id, event.subject,
                                          event.data["originator_version"], r.value))
                if consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
        return out
    finally:
        consumer.close(autocommit=False)


def per_key(records: list[WireRecord]) -> dict[str, list[WireRecord]]:
    """Records grouped by key, in partition-offset order (the order a consumer sees them)."""
    out: dict[str, list[WireRecord]] = defaultdict(list)
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        out[r.key].append(r)
    return dict(out)
