"""Benchmark (not a test): the ConsumerRunner applying the checksum projection, beside a raw
consume-and-insert loop over the same topic in the same run.

    .venv/bin/python bench/bench_consumer.py [--pathways 200] [--per-pathway 40] [--max-batch 500] [--repeat 3]
                                             [--per-message]

The topic is filled first with pathway events shaped as the relay puts them on the wire
(CloudEvents in binary mode, key = pathway id, ~750 bytes with headers), versions 1..n per
pathway. Then, alternately:
- "runner": `ConsumerRunner(ChecksumProjection())`, a fresh consumer group: per batch ONE
  PostgreSQL transaction that locks the partitions' position rows, records every ce_id in the
  applied-events table (deduplication), runs the projection's upsert for every event (count,
  last version, order check, running sha256 of ce_ids) through its `handle_batch` (one
  pipelined executemany for the batch; `--per-message`: through `handle`, one round trip per
  event), advances the positions, commits; then the Kafka offset commit. CloudEvents decoded
  and checked by the codec.
- "raw": a kafka-python `KafkaConsumer` (partitions assigned, from the beginning, same
  max_poll_records) and, per poll, `executemany` of one plain INSERT per record
  (pathway id, version, ce_id: ce_id from its header, version from `json.loads` of the body)
  into a table without indexes, one commit per batch. No dedup, no positions, no codec.
  Also, for reference, the same loop with one `execute` per record instead of `executemany`
  (what the runner's per-message handler API amounts to: one round trip per event).
Each is timed from the start of the poll that returned the first records (group join not
counted) to the commit of the last. A fresh schema and topics are created and dropped.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import fmt_rate, machine, scratch  # noqa: E402


def wire_events(pathways: int, per_pathway: int) -> list:
    """Relay-shaped pathway CloudEvents, pathways interleaved, each pathway's versions in order."""
    from infra.kafka.cloudevents import CloudEvent
    from services.relay.wire import SOURCE, TYPE_PREFIX, event_id

    t0 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
    ids = [str(uuid.uuid4()) for _ in range(pathways)]
    out = []
    n = 0
    for version in range(1, per_pathway + 1):
        for pid in ids:
            n += 1
            when = t0 + timedelta(minutes=n)
            out.append(CloudEvent(
                id=event_id(pid, version), source=SOURCE, type=f"{TYPE_PREFIX}NeedRecorded.v1", subject=pid,
                partitionkey=pid, time=when,
                data={"originator_id": pid, "originator_version": version, "timestamp": when.isoformat(),
                      "occurred_at": when.isoformat(), "need_id": str(uuid.uuid4()), "category": "care",
                      "description": "Bilan de santé à organiser, interprète arabe.",
                      "actor": {"agency": "siao-76", "professional": "pro-bench-1", "role": "coordinatrice"},
                      "notification_id": 2 * n},
                extensions={"pathwaykind": "PassGpPathway", "sequence": str(version)},
            ))
    return out


def run_runner(s, topic: str, total: int, max_batch: int, group: str, *, per_message: bool = False) -> float:  # noqa: ANN001
    from infra.kafka.consumer import ConsumerRunner, FunctionHandler, RunnerConfig
    from projections.checksum import ChecksumProjection

    projection = ChecksumProjection()
    # --per-message: the same projection without its batch entry point (one round trip per event).
    handler = FunctionHandler(projection.handle, projection.setup) if per_message else projection
    runner = ConsumerRunner(
        handler,
        RunnerConfig(group_id=group, topics=[topic], bootstrap_servers=s.settings.kafka_bootstrap,
                     schema=s.schema, deadletter_topic=f"{s.prefix}.deadletter", max_batch=max_batch),
        conninfo=s.settings.database_url,
    )
    first = None
    with runner:
        deadline = time.monotonic() + 300
        while runner.totals.applied < total:
            assert time.monotonic() < deadline, runner.totals
            t = time.perf_counter()
            result = runner.run_once()
            if first is None and result.polled:
                first = t
        end = time.perf_counter()
    assert runner.totals.applied == total and runner.totals.deadlettered == 0, runner.totals
    return end - first


def run_raw(s, topic: str, total: int, max_batch: int, *, executemany: bool = True) -> float:  # noqa: ANN001
    import psycopg
    from kafka import KafkaConsumer, TopicPartition
    from psycopg import sql

    table = sql.SQL("{}.raw_events").format(sql.Identifier(s.schema))
    consumer = KafkaConsumer(bootstrap_servers=s.settings.kafka_bootstrap, group_id=None, enable_auto_commit=False,
                             max_poll_records=max_batch, isolation_level="read_committed")
    tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    insert = sql.SQL("INSERT INTO {} (pathway_id, version, ce_id) VALUES (%s, %s, %s)").format(table)
    done, first = 0, None
    with psycopg.connect(s.settings.database_url) as conn:
        conn.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} (pathway_id text, version bigint, ce_id text)").format(table))
        conn.execute(sql.SQL("TRUNCATE {}").format(table))
        conn.commit()
        deadline = time.monotonic() + 300
        with conn.cursor() as cur:
            while done < total:
                assert time.monotonic() < deadline, done
                t = time.perf_counter()
                polled = consumer.poll(timeout_ms=500, max_records=max_batch)
                rows = [(r.key.decode(), json.loads(r.value)["originator_version"],
                         next(v for k, v in r.headers if k == "ce_id").decode())
                        for records in polled.values() for r in records]
                if not rows:
                    continue
                if first is None:
                    first = t
                if executemany:
                    cur.executemany(insert, rows)
                else:
                    for row in rows:
                        cur.execute(insert, row)
                conn.commit()
                done += len(rows)
        end = time.perf_counter()
    consumer.close()
    assert done == total, done
    return end - first


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pathways", type=int, default=200)
    parser.add_argument("--per-pathway", type=int, default=40, help="events per pathway")
    parser.add_argument("--max-batch", type=int, default=500, help="records per batch, both sides (runner's default: 500)")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; medians are reported")
    parser.add_argument("--per-message", action="store_true",
                        help="runner calls the projection's handle() per event instead of handle_batch()")
    parser.add_argument("--profile", action="store_true", help="cProfile one extra runner run; print the top functions")
    args = parser.parse_args()

    import psycopg
    from psycopg import sql

    from infra.kafka.producer import EventProducer
    from projections.checksum import TABLE

    print(machine())
    with scratch(partitions=args.partitions) as s:
        topic = f"{s.prefix}.pathway-events"
        events = wire_events(args.pathways, args.per_pathway)
        t = time.perf_counter()
        with EventProducer(s.settings.kafka_bootstrap) as producer:
            producer.send_all(topic, events, timeout=300)
        total = len(events)
        print(f"topic filled: {total} events of {args.pathways} pathways, {args.partitions} partitions, "
              f"in {time.perf_counter() - t:.1f}s; batches of {args.max_batch}")
        runner_s: list[float] = []
        raw_s: list[float] = []
        loop_s: list[float] = []
        for r in range(args.repeat):
            with psycopg.connect(s.settings.database_url, autocommit=True) as conn:
                exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f'"{s.schema}".{TABLE}',)).fetchone()[0]
                if exists:
                    conn.execute(sql.SQL("TRUNCATE {}.{}").format(sql.Identifier(s.schema), sql.Identifier(TABLE)))
            runner_s.append(run_runner(s, topic, total, args.max_batch, f"bench-checksum-{r}",
                                       per_message=args.per_message))
            with psycopg.connect(s.settings.database_url) as conn:
                applied, bad = conn.execute(sql.SQL("SELECT sum(events), sum(out_of_order) FROM {}.{}").format(
                    sql.Identifier(s.schema), sql.Identifier(TABLE))).fetchone()
            assert (applied, bad) == (total, 0), (applied, bad)
            raw_s.append(run_raw(s, topic, total, args.max_batch))
            loop_s.append(run_raw(s, topic, total, args.max_batch, executemany=False))
            print(f"  run {r + 1}: runner {fmt_rate(total, runner_s[-1])} ({runner_s[-1]:.2f}s), "
                  f"raw {fmt_rate(total, raw_s[-1])} ({raw_s[-1]:.2f}s), runner/raw {raw_s[-1] / runner_s[-1]:.0%}; "
                  f"raw with one execute per record {fmt_rate(total, loop_s[-1])}")
        runner_t, raw_t = statistics.median(runner_s), statistics.median(raw_s)
        ratio = statistics.median(raw / run for raw, run in zip(raw_s, runner_s))
        loop_t = statistics.median(loop_s)
        print(f"runner + checksum projection {fmt_rate(total, runner_t)}   raw consume-and-insert "
              f"{fmt_rate(total, raw_t)}   runner/raw {ratio:.0%} "
              f"({'handle per event' if args.per_message else 'handle_batch'}; medians of {args.repeat} runs; the ratio is "
              f"the median of each run's ratio)")
        print(f"raw consume-and-insert with one execute per record (no executemany): {fmt_rate(total, loop_t)}, "
              f"runner/that {statistics.median(lo / run for lo, run in zip(loop_s, runner_s)):.0%}")
        if args.profile:
            import cProfile
            import pstats

            with psycopg.connect(s.settings.database_url, autocommit=True) as conn:
                conn.execute(sql.SQL("TRUNCATE {}.{}").format(sql.Identifier(s.schema), sql.Identifier(TABLE)))
            prof = cProfile.Profile()
            prof.enable()
            run_runner(s, topic, total, args.max_batch, "bench-checksum-profile", per_message=args.per_message)
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
