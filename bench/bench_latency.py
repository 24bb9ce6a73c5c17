"""Benchmark (not a test): end-to-end latency from "command accepted" to "read-model row
updated", at a sustained command rate.

    .venv/bin/python bench/bench_latency.py [--rate 200] [--seconds 20] [--pathways 200] [--senders 8]

The pipeline is the distributed one, each part its own process as in production:
- commands: this process, `PathwaysHandler.handle` on the PostgreSQL event store, from
  `--senders` threads (each owns a share of the pathways and keeps to its share of the rate
  on a fixed schedule; the rate actually achieved is printed);
- `relais relay` (a subprocess): notification log -> `<prefix>.pathway-events`;
- `python -m projections.checksum run` (a subprocess): ConsumerRunner -> `pathway_checksums`.
Latency of a command = the first moment a poll of `pathway_checksums` shows the pathway at
(or past) the version the command produced, minus the moment `handle()` returned it accepted.
The poller runs every `--poll-ms` (default 5 ms) and stamps a row with the start of the query
that first saw it, so a figure overstates the truth by at most one poll period plus a query.
The pathways are opened (and the workers warmed up) before the clock starts; a fresh schema
and topics are created and dropped.
"""

from __future__ import annotations

import argparse
import statistics
import uuid
from datetime import timedelta
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine, scratch  # noqa: E402


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[k]


def record_times(bootstrap: str, topic: str) -> dict[tuple[str, int], float]:
    """(pathway, version) -> when the relay's producer created the record (seconds), first copy."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             max_poll_records=5000)
    tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    end = consumer.end_offsets(tps)
    out: dict[tuple[str, int], float] = {}
    deadline = time.monotonic() + 60
    while any(consumer.position(tp) < end[tp] for tp in tps) and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            for r in records:
                version = int(next(v for k, v in r.headers if k == "ce_sequence"))
                out.setdefault((r.key.decode(), version), r.timestamp / 1000)
    consumer.close()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0, help="commands per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long the rate is held")
    parser.add_argument("--pathways", type=int, default=200)
    parser.add_argument("--senders", type=int, default=8, help="threads sending commands")
    parser.add_argument("--poll-ms", type=float, default=5.0)
    args = parser.parse_args()

    import tempfile

    import psycopg
    from psycopg import sql

    from services.bootstrap import build_pathways_application
    from services.pathways import PathwaysHandler
    from bench.workload import (
        Proc,
        checksum_command,
        pathway_commands,
        relais_env,
        relay_command,
    )

    print(machine())
    total = int(args.rate * args.seconds)
    per_pathway = -(-total // args.pathways)
    with scratch() as s, tempfile.TemporaryDirectory() as logs:
        app = build_pathways_application(s.settings)
        handler = PathwaysHandler(app)
        plans = [pathway_commands(uuid.uuid4(), 4 + per_pathway) for _ in range(args.pathways)]
        for plan in plans:  # opened and joined by three agencies, before the clock
            assert all(r.accepted for r in handler.handle_batch(plan[:4]))
        env = relais_env(database_url=s.settings.database_url, schema=s.schema, bootstrap=s.settings.kafka_bootstrap,
                         prefix=s.prefix, cipher_key=s.cipher_key)
        relay = Proc("relay", Path(logs), relay_command(), env)
        projection = Proc("checksum", Path(logs), checksum_command(), env)
        table = sql.SQL("{}.pathway_checksums").format(sql.Identifier(s.schema))
        try:
            # Warm-up: every opened pathway visible in the read model.
            deadline = time.monotonic() + 120
            with psycopg.connect(s.settings.database_url, autocommit=True) as conn:
                while True:
                    assert relay.alive() and projection.alive(), relay.tail() + projection.tail()
                    assert time.monotonic() < deadline, "warm-up: the read model did not catch up in 120 s"
                    if conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f'"{s.schema}".pathway_checksums',)).fetchone()[0]:
                        if conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE last_version >= 4").format(table)).fetchone()[0] == args.pathways:
                            break
                    time.sleep(0.2)

            accepted: dict[str, list[tuple[int, float]]] = {str(p[0].pathway_id): [] for p in plans}
            latencies: list[float] = []
            observed: dict[tuple[str, int], tuple[float, float]] = {}  # (pathway, version) -> (accepted, seen)
            lock = threading.Lock()
            stop_polling = threading.Event()
            sent = [0]

            def poll() -> None:
                seen: dict[str, int] = {}
                with psycopg.connect(s.settings.database_url, autocommit=True) as conn:
                    since = conn.execute("SELECT now() - interval '5 seconds'").fetchone()[0]
                    while True:
                        started = time.time()
                        rows = conn.execute(
                            sql.SQL("SELECT pathway_id, last_version, updated_at FROM {} WHERE updated_at > %s").format(table),
                            (since,)).fetchall()
                        with lock:
                            for pid, version, updated in rows:
                                if version > seen.get(pid, 0):
                                    seen[pid] = version
                                    pending = accepted[pid]
                                    while pending and pending[0][0] <= version:
                                        v, at = pending.pop(0)
                                        latencies.append(started - at)
                                        observed[(pid, v)] = (at, started)
                        if rows:  # one consumer commits its batches in turn: later rows, later stamps
                            since = max(since, max(r[2] for r in rows) - timedelta(milliseconds=500))
                        if stop_polling.is_set() and all(not v for v in accepted.values()):
                            return
                        time.sleep(args.poll_ms / 1000)

            def send(index: int) -> None:
                mine = plans[index::args.senders]
                queue = [cmd for i in range(per_pathway) for plan in mine for cmd in [plan[4 + i]]]
                rate = args.rate / args.senders
                n = min(len(queue), int(rate * args.seconds))
                for i in range(n):
                    delay = t0 + i / rate - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                    result = handler.handle(queue[i])
                    done = time.time()
                    assert result.accepted, result
                    with lock:
                        accepted[str(result.pathway_id)].append((result.version, done))
                        sent[0] += 1

            poller = threading.Thread(target=poll, daemon=True)
            poller.start()
            t0 = time.monotonic() + 0.2
            senders = [threading.Thread(target=send, args=(i,), daemon=True) for i in range(args.senders)]
            for t in senders:
                t.start()
            for t in senders:
                t.join()
            elapsed = time.monotonic() - t0
            stop_polling.set()
            poller.join(timeout=60)
            assert not poller.is_alive(), "some commands never reached the read model in 60 s"
            assert relay.alive() and projection.alive()
        finally:
            relay.stop()
            projection.stop()
        app.close()
        created = record_times(s.settings.kafka_bootstrap, f"{s.prefix}.pathway-events")

    lat = sorted(x * 1000 for x in latencies)
    print(f"{sent[0]} commands in {elapsed:.1f}s = {sent[0] / elapsed:.0f} commands/s achieved "
          f"(target {args.rate:.0f}/s, {args.senders} sender threads, {args.pathways} pathways); "
          f"relay and checksum projection as subprocesses")
    print(f"latency command accepted -> read-model row (ms): p50 {percentile(lat, 50):.0f}  "
          f"p90 {percentile(lat, 90):.0f}  p99 {percentile(lat, 99):.0f}  max {lat[-1]:.0f}  "
          f"mean {statistics.fmean(lat):.0f}  (n={len(lat)})")
    # Where the time goes: the relay's producer stamps each record when it sends it (CreateTime).
    first_leg = sorted(1000 * (created[k] - a) for k, (a, _) in observed.items() if k in created)
    second_leg = sorted(1000 * (seen - created[k]) for k, (_, seen) in observed.items() if k in created)
    print(f"  of which accepted -> sent by the relay: p50 {percentile(first_leg, 50):.0f}  p99 {percentile(first_leg, 99):.0f}; "
          f"sent -> row seen: p50 {percentile(second_leg, 50):.0f}  p99 {percentile(second_leg, 99):.0f}  (ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
