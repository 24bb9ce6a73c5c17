"""A consumer process for the fault tests: runs the ConsumerRunner into a checksum table.

    python -m tests.integration.consumer_checksum_worker --bootstrap 127.0.0.1:59092 \
        --dsn postgresql://... --schema t_x --group g --topic t.x --deadletter-topic dlq.x \
        --worker A [--sleep-ms 1] [--max-batch 100] [--batch]

The tests kill it with SIGKILL at random moments, or stop it with SIGTERM, and then count the
rows: every event must be there exactly once. Also holds the helpers the tests share (event
factory, the checksum handler, table reads).
"""

from __future__ import annotations

import argparse
import threading
import time
import uuid
from datetime import datetime, timezone
from collections.abc import Sequence
from typing import Any

import psycopg

from infra.kafka.cloudevents import CloudEvent
from infra.kafka.consumer import (
    ConsumedMessage,
    ConsumerRunner,
    RejectMessage,
    RunnerConfig,
    configure_json_logging,
    install_signal_handlers,
)

CHECKSUM_DDL = """
CREATE TABLE IF NOT EXISTS checksum (
    n bigserial PRIMARY KEY,
    ce_id text NOT NULL,
    pathway text NOT NULL,
    seq integer NOT NULL,
    amount bigint NOT NULL,
    worker text NOT NULL,
    topic text NOT NULL,
    partition integer NOT NULL,
    "offset" bigint NOT NULL
)"""


def make_event(pathway: str, seq: int, amount: int, *, ce_id: str | None = None,
               **data: Any) -> CloudEvent:
    """A pathway event as the relay would publish it."""
    return CloudEvent(
        id=ce_id or str(uuid.uuid4()),
        source="/relais/tests",
        type="fr.relais.test.Counted.v1",
        subject=pathway,
        partitionkey=pathway,
        time=datetime.now(timezone.utc),
        data={"seq": seq, "amount": amount, **data},
    )


class ChecksumHandler:
    """Inserts one row per applied event (no unique constraint: a duplicate would show)."""

    def __init__(self, worker: str = "test", sleep_s: float = 0.0) -> None:
        self.worker = worker
        self.sleep_s = sleep_s
        self.fail_next: dict[str, int] = {}

    def setup(self, conn: psycopg.Connection) -> None:
        conn.execute("SELECT pg_advisory_xact_lock(4242)")
        conn.execute(CHECKSUM_DDL)

    def handle(self, conn: psycopg.Connection, message: ConsumedMessage) -> None:
        event = message.event
        if event is None:
            raise RejectMessage(f"not a CloudEvent: {message.decode_error}")
        data = event.data
        if not isinstance(data, dict) or not isinstance(data.get("amount"), int):
            raise RejectMessage("data.amount must be an integer")
        if data.get("reject"):
            raise RejectMessage(str(data["reject"]))
        if self.fail_next.get(event.id, 0) > 0:
            self.fail_next[event.id] -= 1
            raise RuntimeError(f"simulated outage while applying {event.id}")
        if self.sleep_s:
            time.sleep(self.sleep_s)
        conn.execute(
            'INSERT INTO checksum (ce_id, pathway, seq, amount, worker, topic, partition, "offset")'
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (event.id, event.subject, data["seq"], data["amount"], self.worker, message.topic,
             message.partition, message.offset),
        )


class BatchChecksumHandler(ChecksumHandler):
    """The same effect through the runner's batch entry point: every record checked first,
    then one pipelined ``executemany`` for the batch. ``name_rejected=False`` raises
    RejectMessage without naming the record (the runner then replays one by one)."""

    def __init__(self, worker: str = "test", sleep_s: float = 0.0, *, name_rejected: bool = True) -> None:
        super().__init__(worker, sleep_s)
        self.name_rejected = name_rejected
        self.batches: list[int] = []

    def handle_batch(self, conn: psycopg.Connection, messages: Sequence[ConsumedMessage]) -> None:
        rows = []
        for message in messages:
            event = message.event
            named = message if self.name_rejected else None
            if event is None:
                raise RejectMessage(f"not a CloudEvent: {message.decode_error}", message=named)
            data = event.data
            if not isinstance(data, dict) or not isinstance(data.get("amount"), int):
                raise RejectMessage("data.amount must be an integer", message=named)
            if data.get("reject"):
                raise RejectMessage(str(data["reject"]), message=named)
            if self.fail_next.get(event.id, 0) > 0:
                self.fail_next[event.id] -= 1
                raise RuntimeError(f"simulated outage while applying {event.id}")
            rows.append((event.id, event.subject, data["seq"], data["amount"], self.worker,
                         message.topic, message.partition, message.offset))
        if self.sleep_s:
            time.sleep(self.sleep_s * len(messages))
        with conn.cursor() as cur:
            cur.executemany(
                'INSERT INTO checksum (ce_id, pathway, seq, amount, worker, topic, partition, "offset")'
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                rows,
            )
        self.batches.append(len(messages))


def checksum_stats(dsn: str, schema: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        exists = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (f'"{schema}".checksum',)
        ).fetchone()[0]
        if not exists:
            return {"rows": 0, "distinct": 0, "sum": 0}
        rows, distinct, total = conn.execute(
            f'SELECT count(*), count(DISTINCT ce_id), coalesce(sum(amount), 0) FROM "{schema}".checksum'
        ).fetchone()
    return {"rows": rows, "distinct": distinct, "sum": int(total)}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--dsn", required=True)
    p.add_argument("--schema", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--deadletter-topic", required=True)
    p.add_argument("--worker", default="w")
    p.add_argument("--sleep-ms", type=float, default=0.0)
    p.add_argument("--max-batch", type=int, default=100)
    p.add_argument("--batch", action="store_true", help="apply through handle_batch")
    args = p.parse_args(argv)

    configure_json_logging("INFO")
    stop = threading.Event()
    install_signal_handlers(stop)
    runner = ConsumerRunner(
        (BatchChecksumHandler if args.batch else ChecksumHandler)(args.worker, args.sleep_ms / 1000.0),
        RunnerConfig(
            group_id=args.group, topics=[args.topic], bootstrap_servers=args.bootstrap,
            schema=args.schema, deadletter_topic=args.deadletter_topic, max_batch=args.max_batch,
            client_id=f"checksum-{args.worker}", session_timeout_ms=6000,
            heartbeat_interval_ms=500,
        ),
        conninfo=args.dsn,
    )
    runner.run(stop)


if __name__ == "__main__":
    main()
