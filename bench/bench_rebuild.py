"""Benchmark (not a test): projection rebuild rate in events/s, beside a raw consume-only pass
over the very same topic in the same run.

    .venv/bin/python bench/bench_rebuild.py [--pathways 300] [--copies 5] [--repeat 3] [--projection NAME ...]

What is timed
- "raw consume": a KafkaConsumer assigned to every partition from the beginning, polling
  until the end offsets taken at the start; it only counts records (no decode, no write).
- "rebuild NAME": `projections.postgres.rebuild`, end to end — the same consumer settings,
  plus per record: the CloudEvent headers and JSON body decoded, the pure `apply` of the
  projection and its statements run on the local SQLite staging file; then the tables
  COPYed into PostgreSQL in one transaction with the new consumer group's positions and
  applied ce_ids, the view swap, and the drop of the old version (1 -> 2 here).
Each rebuild is timed right after its own raw pass (the ratio compares neighbours: the
machine's load drifts during a run); `--repeat` pairs per projection, medians reported
(seconds, rates and the ratio are each the median of their own column).

The events are real pathway events: a synthetic territory (services.territory) of
`--pathways` pathways sent through the pathways service on an in-memory SQLite store and
relayed; the stream is then copied `--copies` times under fresh pathway ids (so the topic is
large without running the domain for minutes). A fresh topic and a fresh schema are created
and deleted. Defaults finish in well under a minute when the machine is not saturated.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402
from kafka import KafkaConsumer, TopicPartition  # noqa: E402
from psycopg import sql  # noqa: E402

from infra.bus import InProcessBus  # noqa: E402
from infra.kafka.cloudevents import CloudEvent  # noqa: E402
from infra.kafka.producer import EventProducer  # noqa: E402
from infra.kafka.topics import admin_client  # noqa: E402
from projections.postgres import Target, rebuild  # noqa: E402
from infra.progress import Progress  # noqa: E402
from projections.registry import PROJECTIONS, projection_class  # noqa: E402
from services.bootstrap import build_pathways_application, is_pathway_event  # noqa: E402
from services.pathways import PathwaysHandler  # noqa: E402
from services.relay.positions import MemoryPositionStore  # noqa: E402
from services.relay.relay import Relay  # noqa: E402
from services.relay.wire import event_id  # noqa: E402
from services.settings import Settings  # noqa: E402
from services.territory.load import load  # noqa: E402


def territory_events(pathways: int) -> list[CloudEvent]:
    with tempfile.TemporaryDirectory() as tmp:
        app = build_pathways_application(Settings(mode="embedded", state_dir=Path(tmp)), SQLITE_DBNAME=":memory:")
        load(PathwaysHandler(app), pathways, seed=11, progress=None)
        bus = InProcessBus()
        relay = Relay(app, bus, MemoryPositionStore(), is_published=is_pathway_event, batch_size=2000)
        while relay.run_once():
            pass
        app.close()
        return bus.events()


def copies(events: list[CloudEvent], n: int) -> list[CloudEvent]:
    """`n` copies of the stream, each under fresh pathway ids (ids, subjects, bodies renamed)."""
    out: list[CloudEvent] = []
    base = max(e.data["notification_id"] for e in events)
    for k in range(n):
        rename: dict[str, str] = {}
        for e in events:
            old = e.subject
            new = rename.setdefault(old, str(uuid.uuid4()) if k else old)
            text = json.dumps(e.data).replace(old, new) if k else None
            data = json.loads(text) if text else e.data
            data["notification_id"] = e.data["notification_id"] + k * base
            out.append(e.model_copy(update={
                "id": event_id(new, data["originator_version"]), "subject": new, "partitionkey": new, "data": data,
            }))
    return out


def raw_consume(bootstrap: str, topic: str) -> tuple[int, float]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             isolation_level="read_committed", max_poll_records=5000,
                             fetch_max_bytes=64 * 1024 * 1024, max_partition_fetch_bytes=16 * 1024 * 1024)
    parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
    consumer.assign(parts)
    started = time.monotonic()
    consumer.seek_to_beginning(*parts)
    end = consumer.end_offsets(parts)
    total, nxt = 0, {tp: 0 for tp in parts}
    while any(nxt[tp] < end[tp] for tp in parts):
        for tp, records in consumer.poll(timeout_ms=1000, max_records=5000).items():
            total += len(records)
            nxt[tp] = records[-1].offset + 1
    seconds = time.monotonic() - started
    consumer.close()
    return total, seconds


def main(argv: list[str] | None = None) -> int:
    settings = Settings()
    parser = argparse.ArgumentParser(prog="bench_rebuild.py", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--pathways", type=int, default=300, help="synthetic pathways run through the domain")
    parser.add_argument("--copies", type=int, default=5, help="copies of their stream under fresh ids")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--projection", action="append", choices=list(PROJECTIONS),
                        help="projection(s) to rebuild (default: pathway_summary, timeline, territory_indicators)")
    parser.add_argument("--repeat", type=int, default=3, help="raw/rebuild pairs per projection (medians)")
    parser.add_argument("--workers", type=int, default=1, help="rebuild worker processes (default 1)")
    parser.add_argument("--profile", action="store_true", help="cProfile one extra rebuild of each; print the top functions")
    parser.add_argument("--database-url", default=settings.database_url)
    parser.add_argument("--bootstrap", default=settings.kafka_bootstrap)
    args = parser.parse_args(argv)
    names = args.projection or ["pathway_summary", "timeline", "territory_indicators"]

    t = time.monotonic()
    events = copies(territory_events(args.pathways), args.copies)
    print(f"events: {len(events)} ({args.pathways} pathways x {args.copies} copies), generated in "
          f"{time.monotonic() - t:.1f} s", file=sys.stderr)

    topic, schema = f"bench.rebuild.{uuid.uuid4().hex[:8]}", f"bench_rebuild_{uuid.uuid4().hex[:8]}"
    admin = admin_client(args.bootstrap)
    admin.create_topics({topic: {"num_partitions": args.partitions, "replication_factor": 1}}, wait_for_metadata=True)
    producer = EventProducer(args.bootstrap, client_id="bench-rebuild", linger_ms=20)
    try:
        for i in range(0, len(events), 5000):
            producer.send_all(topic, events[i:i + 5000], timeout=120)
        producer.close()
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        from infra.postgres.migrations import apply as apply_migrations

        apply_migrations(args.database_url, schema)
        target = Target(conninfo=args.database_url, schema=schema, bootstrap=args.bootstrap, topic=topic,
                        deadletter_topic=f"{topic}.dlq", group_prefix=f"bench{uuid.uuid4().hex[:8]}")
        raw_consume(args.bootstrap, topic)  # warm the broker's page cache and the client
        results = []
        for name in names:
            # each rebuild right after its own raw pass (the machine's load drifts during a
            # run), `--repeat` pairs; the medians are reported
            pairs = []
            for _ in range(args.repeat):
                n, seconds = raw_consume(args.bootstrap, topic)
                result = rebuild(target, projection_class(name), progress=Progress(f"reconstruction {name}"),
                                 workers=args.workers)
                pairs.append((n / seconds, seconds, result.rate, result.seconds, result.rate / (n / seconds)))
            if args.profile:
                import cProfile
                import pstats

                prof = cProfile.Profile()
                prof.enable()
                rebuild(target, projection_class(name), progress=None, workers=args.workers)
                prof.disable()
                print(f"profile of a rebuild of {name}:", file=sys.stderr)
                pstats.Stats(prof, stream=sys.stderr).sort_stats("tottime").print_stats(25)
            med = [statistics.median(p[i] for p in pairs) for i in range(5)]
            results.append(("raw consume-only pass", n, med[1], med[0], None))
            results.append((f"rebuild {name} (x{args.repeat}, last v{result.old_version}->v{result.new_version})",
                            result.events, med[3], med[2], med[4]))
    finally:
        try:
            admin.delete_topics([topic])
        finally:
            admin.close()
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))

    print(f"\n| pass | events | seconds | events/s | vs raw |\n|---|---:|---:|---:|---:|")
    for label, count, secs, rate, ratio in results:
        print(f"| {label} | {count} | {secs:.2f} | {rate:,.0f} | {'' if ratio is None else f'{ratio:.0%}'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
