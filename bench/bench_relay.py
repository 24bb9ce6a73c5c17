"""Benchmark (not a test): the outbox relay's throughput, from a pre-filled PostgreSQL event
store to Kafka, beside a raw kafka-python producer sending the very same records in the same run.

    .venv/bin/python bench/bench_relay.py [--pathways 100] [--per-pathway 40] [--batch-size 500] [--repeat 3]
                                          [--no-cipher | --cipher-topic MODULE:CLASS] [--profile]

What is timed
- "relay": `build_distributed(settings).relay(app)` (the composition root's relay, as `relais relay` runs
  it) looping `run_once()` until the log is exhausted: position read, notification select,
  AES-GCM decryption and event reconstruction, CloudEvent body and headers, producer send,
  flush and wait for every acknowledgment (acks=all, idempotent) per batch, position write.
  The producer is connected before the clock starts.
- "raw": a kafka-python `KafkaProducer` (acks=all, idempotence on, linger_ms=5: the
  EventProducer's settings) sending the records the relay put on the wire (same keys, bodies,
  headers), read back from its topic, then one flush. No database, no encoding, no batching
  boundary: the ceiling for this broker and client.
Both go to fresh topics with the same partition count. Each repeat alternates the two; the
median is reported. A fresh schema and topics are created and dropped.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import fmt_rate, machine, prefill, scratch  # noqa: E402


def read_records(bootstrap: str, topic: str, count: int) -> list[tuple[bytes, bytes, list]]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                             max_poll_records=5000)
    tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    out: list[tuple[bytes, bytes, list]] = []
    deadline = time.monotonic() + 60
    while len(out) < count and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            out.extend((r.key, r.value, list(r.headers)) for r in records)
    consumer.close()
    return out[:count]


#: This process's CPU seconds (all its threads: the producer's sender too) of each timed run,
#: in order: on a shared machine the wall-clock rates move with the load, CPU per event less.
CPU: list[float] = []


def run_relay(settings, app, name: str, batch_size: int) -> tuple[float, int]:  # noqa: ANN001
    from services.bootstrap import build_distributed

    relay = build_distributed(settings).relay(app)
    relay.name, relay.batch_size = name, batch_size
    relay._publisher.publish([])  # connect the producer before the clock starts  # noqa: SLF001
    start, cpu = time.perf_counter(), time.process_time()
    notifications = 0
    while True:
        n = relay.run_once()
        if n == 0:
            break
        notifications += n
    seconds = time.perf_counter() - start
    CPU.append(time.process_time() - cpu)
    relay._publisher.close()  # noqa: SLF001
    return seconds, notifications


def run_raw(bootstrap: str, topic: str, records: list[tuple[bytes, bytes, list]]) -> float:
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5)
    producer.partitions_for(topic)  # metadata before the clock starts
    start, cpu = time.perf_counter(), time.process_time()
    futures = [producer.send(topic, key=k, value=v, headers=h) for k, v, h in records]
    producer.flush()
    for f in futures:
        f.get(timeout=60)
    seconds = time.perf_counter() - start
    CPU.append(time.process_time() - cpu)
    producer.close()
    return seconds


def stages(app, events: int, raw_seconds: float) -> None:  # noqa: ANN001
    """Each stage of a relay pass timed alone over the whole log, in this process (wall and
    CPU), beside the raw producer's median: the per-event cost of the work the raw pass
    does not do."""
    from infra.kafka.cloudevents import encode
    from services.bootstrap import is_pathway_event
    from services.relay.relay import aggregate_name
    from services.relay.wire import to_cloud_event

    def timed(fn):  # noqa: ANN001, ANN202
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        return out, time.perf_counter() - wall, time.process_time() - cpu

    def read_log() -> list:
        out, position = [], 0
        while batch := app.recorder.select_notifications(start=position, limit=500, inclusive_of_start=False):
            out.append(batch)
            position = batch[-1].id
        return out

    notifications, w1, c1 = timed(read_log)
    notifications = [n for batch in notifications for n in batch if is_pathway_event(n.topic)]
    domain, w2, c2 = timed(lambda: [app.mapper.to_domain_event(n) for n in notifications])
    cloud, w3, c3 = timed(lambda: [to_cloud_event(d, notification_id=n.id, pathway_kind=aggregate_name(n.topic))
                                   for d, n in zip(domain, notifications)])
    _, w4, c4 = timed(lambda: [encode(c) for c in cloud])
    us = 1e6 / events
    print(f"stages alone, per event (wall / CPU of this process), {events} events:")
    for name, w, c in (("select the log (8 000 rows with the answers)", w1, c1),
                       ("decrypt + rebuild the domain event", w2, c2),
                       ("domain event -> CloudEvent", w3, c3), ("CloudEvent -> key, body, headers", w4, c4)):
        print(f"  {name:48s} {w * us:6.1f} / {c * us:6.1f} us")
    print(f"  {'sum of the relay own work':48s} {(w1 + w2 + w3 + w4) * us:6.1f} us; raw producer's whole pass "
          f"{raw_seconds * us:6.1f} us per record")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pathways", type=int, default=100)
    parser.add_argument("--per-pathway", type=int, default=40, help="commands per pathway (one event each)")
    parser.add_argument("--batch-size", type=int, default=None, help="relay notifications per batch (default: the relay's)")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the median is reported")
    parser.add_argument("--no-cipher", action="store_true",
                        help="event store without payload encryption (to see what decryption costs the relay)")
    parser.add_argument("--cipher-topic", default=None,
                        help="the eventsourcing cipher class instead of the composition root's, e.g. "
                        "eventsourcing.cipher:AESCipher (pycryptodome) or eventsourcing.cryptography:AESCipher (PyCA)")
    parser.add_argument("--profile", action="store_true", help="cProfile one extra relay run; print the top functions")
    parser.add_argument("--stages", action="store_true",
                        help="time each stage of the relay's work alone over the whole log (what is irreducible)")
    args = parser.parse_args()

    from services.bootstrap import build_pathways_application
    from services.pathways import PathwaysHandler
    from services.relay.relay import Relay

    batch_size = args.batch_size or Relay.__init__.__kwdefaults__["batch_size"]
    print(machine())
    with scratch(partitions=args.partitions) as s:
        overrides = {"CIPHER_TOPIC": "", "CIPHER_KEY": ""} if args.no_cipher else {}
        if args.cipher_topic and not args.no_cipher:
            overrides["CIPHER_TOPIC"] = args.cipher_topic
        app = build_pathways_application(s.settings, **overrides)
        cipher = type(app.mapper.cipher) if app.mapper.cipher is not None else None
        t = time.perf_counter()
        events = prefill(PathwaysHandler(app), args.pathways, args.per_pathway)
        print(f"event store pre-filled: {events} pathway events of {args.pathways} pathways "
              f"in {time.perf_counter() - t:.1f}s; relay batch size {batch_size}; {args.partitions} partitions; "
              f"payloads {'NOT encrypted' if cipher is None else 'AES-256-GCM encrypted'} at rest"
              + (f" ({cipher.__module__}:{cipher.__qualname__})" if cipher is not None else ""))
        records = None
        relay_s: list[float] = []
        raw_s: list[float] = []
        for r in range(args.repeat):
            seconds, notifications = run_relay(s.settings, app, f"bench-{r}", batch_size)
            relay_s.append(seconds)
            if records is None:
                records = read_records(s.settings.kafka_bootstrap, f"{s.prefix}.pathway-events", events)
                assert len(records) == events, f"read back {len(records)} of {events}"
                size = sum(len(v) + len(k) + sum(len(n) + len(x) for n, x in h) for k, v, h in records) / len(records)
                print(f"records: {events}, mean {size:.0f} bytes (key + body + headers); "
                      f"notifications read by the relay: {notifications}")
            raw_s.append(run_raw(s.settings.kafka_bootstrap, s.topic(f"raw-{r}", args.partitions), records))
            print(f"  run {r + 1}: relay {fmt_rate(events, relay_s[-1])} ({relay_s[-1]:.2f}s), "
                  f"raw {fmt_rate(events, raw_s[-1])} ({raw_s[-1]:.2f}s), relay/raw {raw_s[-1] / relay_s[-1]:.0%}; "
                  f"CPU per event relay {CPU[-2] * 1e6 / events:.0f} us, raw {CPU[-1] * 1e6 / events:.0f} us")
        relay_t, raw_t = statistics.median(relay_s), statistics.median(raw_s)
        ratio = statistics.median(raw / relay for raw, relay in zip(raw_s, relay_s))
        print(f"relay {fmt_rate(events, relay_t)}   raw kafka-python {fmt_rate(events, raw_t)}   "
              f"relay/raw {ratio:.0%} (medians of {args.repeat} runs; the ratio is the median of each run's ratio)")
        if args.stages:
            stages(app, events, raw_t)
        if args.profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.enable()
            run_relay(s.settings, app, "bench-profile", batch_size)
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(30)
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
