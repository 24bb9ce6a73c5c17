"""Benchmark (not a test): latency from a triggering pathway event to the alert event, p50/p99.

    .venv/bin/python bench/bench_risk_latency.py [--mode kafka|embedded] [--alerts 200] [--pace-ms 50]

The trigger: a PASS -> GP pathway whose phone number is recorded as lost (`RecordPhoneStatus
lost`): the contact-lost rule fires on that fact alone. Latency = from the moment the
pathways service has stored that event (its command answered) to the moment the risk engine
has stored the AlertRaised event (its RaiseAlert command answered). Triggers are paced
(`--pace-ms`) so that the figure is a latency, not a queue under saturation.

- `kafka` (default; PostgreSQL and Kafka of infra/scripts/up.sh): event store on PostgreSQL
  (fresh schema), the outbox relay thread (notification log -> a fresh pathway-events topic,
  acks=all), the risk ConsumerRunner thread (group of its own: poll, position + dedup in
  PostgreSQL, engine, deadline row in the same transaction), alert command back to the store.
- `embedded`: event store in SQLite in memory, relay onto the InProcessBus, engine subscribed:
  the same path without the network, run synchronously after each trigger.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pydantic import SecretStr  # noqa: E402

from services.bootstrap import build_pathways_application, build_risk_engine, is_pathway_event  # noqa: E402
from services.clock import SystemClock  # noqa: E402
from services.pathways import PathwaysHandler  # noqa: E402
from services.pathways import commands as c  # noqa: E402
from services.relay.relay import Relay  # noqa: E402
from services.settings import DEFAULT_DATABASE_URL, DEFAULT_KAFKA_BOOTSTRAP, Settings  # noqa: E402

CASO = c.ActorModel(agency="mdm-caso-rouen", professional="pro-bench-1", role="accueillant")


def opening(pid: uuid.UUID, now: datetime) -> c.Command:
    return c.OpenPassGpPathway(command_id=uuid.uuid4(), pathway_id=pid, actor=CASO, occurred_at=now,
                               person_ref=f"P-{pid.hex[:8]}", territory="76", lead_agency=CASO.agency)


def trigger(pid: uuid.UUID, now: datetime) -> c.Command:
    return c.RecordPhoneStatus(command_id=uuid.uuid4(), pathway_id=pid, actor=CASO, occurred_at=now, status="lost")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class Recorder:
    """Times when each pathway's alert was stored (the engine calls it after its commands)."""

    def __init__(self) -> None:
        self.done: dict[uuid.UUID, float] = {}
        self.cond = threading.Condition()

    def __call__(self, outcome) -> None:  # noqa: ANN001
        if outcome.raised:
            with self.cond:
                self.done.setdefault(outcome.pathway_id, time.perf_counter())
                self.cond.notify_all()

    def wait(self, pid: uuid.UUID, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while pid not in self.done:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)
            return self.done[pid]


def run_embedded(args: argparse.Namespace) -> list[float]:
    import tempfile

    from infra.bus import InProcessBus
    from services.relay.positions import MemoryPositionStore
    from services.risk import SQLiteDeadlineIndex
    from services.risk.runner import EmbeddedRisk

    settings = Settings(mode="embedded", state_dir=Path(tempfile.mkdtemp()))
    app = build_pathways_application(settings, SQLITE_DBNAME=":memory:")
    handler = PathwaysHandler(app)
    bus = InProcessBus()
    relay = Relay(app, bus, MemoryPositionStore(), is_published=is_pathway_event)
    engine = build_risk_engine(settings, handler, clock=SystemClock(), deadlines=SQLiteDeadlineIndex())
    recorder = Recorder()
    engine.on_outcome = recorder
    EmbeddedRisk(engine, bus).start(timer=False)
    latencies = []
    for _ in range(args.alerts):
        pid = uuid.uuid4()
        assert handler.handle(opening(pid, datetime.now(timezone.utc))).accepted
        while relay.run_once():
            pass
        assert handler.handle(trigger(pid, datetime.now(timezone.utc))).accepted
        stored = time.perf_counter()
        while relay.run_once():
            pass
        alerted = recorder.wait(pid, 5.0)
        assert alerted is not None, "no alert"
        latencies.append(alerted - stored)
    app.close()
    return latencies


def run_kafka(args: argparse.Namespace) -> list[float]:
    import psycopg
    from eventsourcing.cipher import AESCipher
    from psycopg_pool import ConnectionPool

    from infra.kafka.consumer import ConsumerRunner, RunnerConfig
    from infra.kafka.producer import EventProducer
    from infra.kafka.publisher import KafkaPublisher
    from infra.kafka.topics import admin_client
    from services.relay.positions import PostgresPositionStore
    from services.risk import PostgresDeadlineIndex
    from services.risk.runner import RiskConsumerHandler

    schema = f"bench_latency_{uuid.uuid4().hex[:8]}"
    topic, deadletter = f"bench.risk.{uuid.uuid4().hex[:8]}", f"bench.risk-dlq.{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    from infra.postgres.migrations import apply as apply_migrations

    apply_migrations(args.database_url, schema)
    admin = admin_client(args.kafka, timeout_ms=10_000)
    admin.create_topics({topic: {"num_partitions": 3, "replication_factor": 1},
                         deadletter: {"num_partitions": 1, "replication_factor": 1}}, wait_for_metadata=True)
    settings = Settings(mode="distributed", database_url=args.database_url, database_schema=schema,
                        kafka_bootstrap=args.kafka, cipher_key=SecretStr(AESCipher.create_key(32)))
    app = build_pathways_application(settings)
    handler = PathwaysHandler(app)
    pool = ConnectionPool(args.database_url, min_size=1, max_size=4, open=True, kwargs={"autocommit": True})
    producer = EventProducer(args.kafka, client_id="bench-risk-relay")
    relay = Relay(app, KafkaPublisher(producer, topic), PostgresPositionStore(pool, schema),
                  is_published=is_pathway_event, batch_size=100)
    engine = build_risk_engine(settings, handler, clock=SystemClock(), deadlines=PostgresDeadlineIndex(pool, schema))
    recorder = Recorder()
    engine.on_outcome = recorder
    runner = ConsumerRunner(
        RiskConsumerHandler(engine),
        RunnerConfig(group_id=f"bench-risk-{uuid.uuid4().hex[:8]}", topics=[topic], bootstrap_servers=args.kafka,
                     schema=schema, deadletter_topic=deadletter, max_wait_ms=5, poll_timeout_ms=100),
        conninfo=args.database_url,
    )
    stop = threading.Event()

    def follow() -> None:  # the relay, kept alive across a database restart
        while not stop.is_set():
            try:
                if relay.run_once() == 0:
                    stop.wait(0.005)
            except Exception as exc:  # noqa: BLE001
                print(f"\n  relais : {exc!r} ; nouvel essai", file=sys.stderr)
                stop.wait(0.5)

    threads = [threading.Thread(target=follow, daemon=True),
               threading.Thread(target=runner.run, args=(stop,), daemon=True)]
    latencies: list[float] = []
    try:
        pids = [uuid.uuid4() for _ in range(args.alerts)]
        for pid in pids:
            assert handler.handle(opening(pid, datetime.now(timezone.utc))).accepted
        for thread in threads:
            thread.start()
        # let the engine consume the openings (nothing to raise) before timing
        deadline = time.monotonic() + 120
        while runner.totals.applied < len(pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        print(f"  {runner.totals.applied} ouvertures consommées ; mesure…", file=sys.stderr)
        for n, pid in enumerate(pids, start=1):
            assert handler.handle(trigger(pid, datetime.now(timezone.utc))).accepted
            stored = time.perf_counter()
            alerted = recorder.wait(pid, 30.0)
            assert alerted is not None, f"no alert for {pid}"
            latencies.append(alerted - stored)
            if n % 50 == 0:
                print(f"\r  {n}/{len(pids)} alertes", end="", file=sys.stderr, flush=True)
            time.sleep(args.pace_ms / 1000)
        print(file=sys.stderr)
    finally:
        stop.set()
        for thread in threads:
            if thread.is_alive():
                thread.join(10)
        producer.close()
        pool.close()
        app.close()
        admin.delete_topics([topic, deadletter])
        admin.close()
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--mode", choices=["kafka", "embedded"], default="kafka")
    parser.add_argument("--alerts", type=int, default=200, help="triggers measured (default 200)")
    parser.add_argument("--pace-ms", type=float, default=50, help="pause between triggers, kafka mode (default 50)")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--kafka", default=DEFAULT_KAFKA_BOOTSTRAP)
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING)
    latencies = run_embedded(args) if args.mode == "embedded" else run_kafka(args)
    ms = [x * 1000 for x in latencies]
    print(f"| {args.mode} | {len(ms)} | {statistics.median(ms):.1f} | {percentile(ms, 0.99):.1f} | {max(ms):.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
