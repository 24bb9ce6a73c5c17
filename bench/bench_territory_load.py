"""Benchmark (not a test): a synthetic territory loaded in the distributed mode, end to end,
beside the single-command append rate of bench_append measured in the same run.

    .venv/bin/python bench/bench_territory_load.py [--pathways 300] [--baseline-pathways 20]
                                                   [--baseline-commands 60] [--no-risk]

What is timed
- "baseline": what `bench_append.py --batch 1` times: `PathwaysHandler.handle`, one command per
  save, 20 pathways x 60 commands interleaved, on the same PostgreSQL event store (same schema,
  its own pathways), before any worker runs.
- "territory": the commands of `services.territory.load` (`relais territory --pathways N`: the
  synthetic generator, one `handle_batch` per pathway) sent to the same event store WHILE the
  distributed mode's workers run as their own processes with the RELAIS_* environment:
  `relais relay`, `relais projections run` (every read model) and `relais risk` (the rupture-
  risk engine, whose alerts are pathway events too, relayed and projected in turn). Timed from
  the first command to the moment everything has caught up: the relay's position at the end of
  the notification log and every consumer group's PostgreSQL positions (the ones written in
  the same transaction as its rows) at the end offsets of `<prefix>.pathway-events`, twice in a
  row 0.5 s apart. Also reported: the store-only part (the load returning).
- ratio = territory commands per second, end to end / baseline commands per second.
A fresh schema and topics are created and dropped (bench/_common.py `scratch`).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import fmt_rate, machine, scratch  # noqa: E402


def caught_up(conn, schema: str, topic: str, end: dict[int, int]) -> tuple[bool, int, str]:  # noqa: ANN001
    """(every part at the end?, consumer groups with a position, a one-line state)."""
    from psycopg import sql

    last = conn.execute(sql.SQL("SELECT max(notification_id) FROM {}.pathways_events").format(
        sql.Identifier(schema))).fetchone()[0] or 0
    relayed = conn.execute(sql.SQL("SELECT max(notification_id) FROM {}.relay_positions").format(
        sql.Identifier(schema))).fetchone()[0] or 0
    behind: dict[str, int] = defaultdict(int)
    groups = conn.execute(sql.SQL(
        "SELECT consumer_group, partition, next_offset FROM {}.kafka_consumer_positions WHERE topic = %s").format(
        sql.Identifier(schema)), (topic,)).fetchall()
    seen: dict[str, set[int]] = defaultdict(set)
    for group, partition, offset in groups:
        behind[group] += max(0, end.get(partition, 0) - offset)
        seen[group].add(partition)
    for group, parts in seen.items():
        behind[group] += sum(o for p, o in end.items() if p not in parts)
    done = relayed >= last and bool(behind) and not any(behind.values())
    return done, len(seen), f"log {last}, relayed {relayed}, behind per group {dict(behind)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pathways", type=int, default=300, help="synthetic pathways of the territory")
    parser.add_argument("--baseline-pathways", type=int, default=20)
    parser.add_argument("--baseline-commands", type=int, default=60, help="commands per baseline pathway")
    parser.add_argument("--no-risk", action="store_true", help="without the risk engine")
    parser.add_argument("--timeout", type=float, default=150.0, help="seconds to wait for the workers to catch up")
    args = parser.parse_args()

    import psycopg
    from kafka import KafkaConsumer, TopicPartition

    from bench_append import run_service
    from projections.registry import PROJECTIONS
    from bench.workload import Proc, relais_env, relay_command, workload
    from services.bootstrap import build_pathways_application
    from services.pathways import PathwaysHandler
    from services.territory.load import load

    print(machine())
    with scratch() as s, tempfile.TemporaryDirectory() as logs:
        app = build_pathways_application(s.settings)
        handler = PathwaysHandler(app)
        per: dict = defaultdict(list)
        for command in workload(args.baseline_pathways, args.baseline_commands, seed=3):
            per[command.pathway_id].append(command)
        base_s, base_events, _cpu = run_service(handler, per, 1)
        base_rate = base_events / base_s
        print(f"baseline (bench_append, 1 command per save): {base_events} commands in {base_s:.2f}s, "
              f"{fmt_rate(base_events, base_s)}")

        env = relais_env(database_url=s.settings.database_url, schema=s.schema, bootstrap=s.settings.kafka_bootstrap,
                         prefix=s.prefix, cipher_key=s.cipher_key)
        relais = relay_command()[:-1]
        kinds = {"relay": ["relay"], "projections": ["projections", "run"]}
        if not args.no_risk:
            kinds["risk"] = ["risk", "--interval", "5"]
        procs = [Proc(name, Path(logs), relais + cmd, env) for name, cmd in kinds.items()]
        topic = f"{s.prefix}.pathway-events"
        # one group per read model, one for the risk engine
        expected_groups = len(PROJECTIONS) + (0 if args.no_risk else 1)
        consumer = KafkaConsumer(bootstrap_servers=s.settings.kafka_bootstrap, group_id=None)
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        try:
            with psycopg.connect(s.settings.database_url, autocommit=True) as conn:
                def wait(label: str) -> float:
                    deadline, streak = time.monotonic() + args.timeout, 0
                    while True:
                        dead = [p for p in procs if not p.alive()]
                        assert not dead, "\n".join(f"{p.name} exited:\n{p.tail()}" for p in dead)
                        end = {tp.partition: o for tp, o in consumer.end_offsets(parts).items()}
                        done, groups, state = caught_up(conn, s.schema, topic, end)
                        if done and groups >= expected_groups:
                            streak += 1
                            if streak == 1:
                                at = time.perf_counter()
                            if streak == 2:
                                return at
                        else:
                            streak = 0
                        assert time.monotonic() < deadline, f"{label}: not caught up in {args.timeout:.0f}s: {state}"
                        time.sleep(0.5)

                wait("warm-up (the baseline's events)")
                start = time.perf_counter()
                sent = load(handler, args.pathways, seed=5, progress=None)
                stored = time.perf_counter()
                finished = wait("territory")
                _, _, state = caught_up(conn, s.schema, topic,
                                     {tp.partition: o for tp, o in consumer.end_offsets(parts).items()})
        finally:
            consumer.close()
            for p in procs:
                p.stop()
        app.close()
        store_s, total_s = stored - start, finished - start
        rate = sent / total_s
        print(f"territory: {args.pathways} pathways, {sent} commands; in the store after {store_s:.1f}s "
              f"({fmt_rate(sent, store_s)}); everything caught up after {total_s:.1f}s ({fmt_rate(sent, total_s)}; "
              f"workers: {', '.join(kinds)})")
        print(f"  final state: {state}")
        print(f"territory end to end / baseline single-command append: {rate / base_rate:.0%}  "
              f"(store only: {sent / store_s / base_rate:.0%}); 100 000 pathways at this rate: "
              f"{100_000 * sent / args.pathways / rate / 60:.0f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
