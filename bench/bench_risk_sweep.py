"""Benchmark (not a test): the risk engine's clock sweep on PostgreSQL — time to select the
due pathways through the `risk_deadlines` index and evaluate them, with a small due share of
a large index, to show the cost follows the due pathways and not the indexed total.

    .venv/bin/python bench/bench_risk_sweep.py [--indexed 10000,100000,1000000] [--due 1000]
        [--due-series 100,1000,2000] [--batch 200] [--repeat 1] [--with-raise]

Set-up (fresh schema, dropped at the end):
- `max(--due, --due-series)` real pathways in the PostgreSQL event store, saved by the
  pathways application 100 at a time (PASS -> GP pathway, consent given, one referral made at T0: the
  referral-unverified rule is due at T0 + 14 days), each indexed at that deadline;
- filler rows in `risk_deadlines` up to the indexed total, due in the future (T0 + 30 to 60
  days): open pathways that are not due. They have no events in the store, which is the
  point: the sweep must never read them, and it reads nothing but the due rows.

What is timed, at now = T0 + 14 days, for each indexed total:
- "select": `due(now, batch)` batches (`ORDER BY due_at LIMIT .. FOR UPDATE SKIP LOCKED`);
- "sweep (evaluate)": `engine.sweep(send=False)`: select + read each due pathway from the
  event store (decrypt, replay) + evaluate the 13 rules + write its next deadline, committed
  per batch; no alert command;
- "sweep CPU": the engine process's CPU time of that sweep (the wall time includes waiting
  for PostgreSQL and, on a busy machine, for a CPU);
- with `--with-raise`, once at the middle total: the full sweep that also writes one
  AlertRaised per due pathway through the pathways service.
Between runs the due rows are put back at T0 + 14 days. Then, at the middle total, the sweep
with 0.1 % / 1 % / 2 % due (`--due-series`).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402
from eventsourcing.cipher import AESCipher  # noqa: E402
from psycopg_pool import ConnectionPool  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from infra.postgres.migrations import apply as apply_migrations  # noqa: E402
from services.bootstrap import build_pathways_application, build_risk_engine  # noqa: E402
from services.clock import TestClock  # noqa: E402
from services.pathways import PathwaysHandler  # noqa: E402
from services.pathways import commands as c  # noqa: E402
from services.risk import PostgresDeadlineIndex  # noqa: E402
from services.settings import DEFAULT_DATABASE_URL, Settings  # noqa: E402

T0 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
DUE_AT = T0 + timedelta(days=14)
CASO = c.ActorModel(agency="mdm-caso-rouen", professional="pro-bench-1", role="accueillant")


def make_pathways(app, count: int) -> list[uuid.UUID]:
    """`count` real pathways, saved 100 at a time (the same events the commands would write)."""
    from domain import PassGpPathway
    from domain.values import Actor

    actor = Actor(CASO.agency, CASO.professional, CASO.role)
    ids: list[uuid.UUID] = []
    started = time.perf_counter()
    while len(ids) < count:
        chunk = []
        for _ in range(min(100, count - len(ids))):
            pid = uuid.uuid4()
            pathway = PassGpPathway(id=pid, person_ref=f"P-{pid.hex[:8]}", territory="76", lead_agency=CASO.agency,
                                    actor=actor, occurred_at=T0)
            pathway.grant_consent(agency="csapa-rouen", categories=["medical"], actor=actor, occurred_at=T0)
            pathway.make_referral(referral_id=uuid.uuid4(), to_agency="csapa-rouen", service="addictologie",
                                  need_id=None, actor=actor, occurred_at=T0)
            chunk.append(pathway)
            ids.append(pid)
        app.save(*chunk)
        rate = len(ids) / (time.perf_counter() - started)
        print(f"\r  parcours réels : {len(ids)}/{count} ({rate:.0f}/s)", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return ids


def reset(conn: psycopg.Connection, schema: str, due_ids: list[uuid.UUID], indexed: int) -> None:
    """The index holds exactly `indexed` rows: the due ones at DUE_AT, the rest in the future."""
    table = f'"{schema}".risk_deadlines'
    conn.execute(f"DELETE FROM {table} WHERE pathway_id <> ALL(%s)", (due_ids,))
    conn.execute(f"INSERT INTO {table} (pathway_id, territory, due_at) SELECT id, '76', %s FROM unnest(%s::uuid[]) id "
                 "ON CONFLICT (pathway_id) DO UPDATE SET due_at = excluded.due_at", (DUE_AT, due_ids))
    filler = indexed - len(due_ids)
    if filler > 0:
        conn.execute(
            f"INSERT INTO {table} (pathway_id, territory, due_at) SELECT gen_random_uuid(), '76', "
            "%s::timestamptz + make_interval(secs => 2592000 + (random() * 2592000)::int) FROM generate_series(1, %s)",
            (T0, filler))
    conn.execute(f"ANALYZE {table}")


def put_back(conn: psycopg.Connection, schema: str, due_ids: list[uuid.UUID]) -> None:
    """The due rows back at DUE_AT (a sweep moved or removed them)."""
    conn.execute(f'INSERT INTO "{schema}".risk_deadlines (pathway_id, territory, due_at) '
                 "SELECT id, '76', %s FROM unnest(%s::uuid[]) id "
                 "ON CONFLICT (pathway_id) DO UPDATE SET due_at = excluded.due_at", (DUE_AT, due_ids))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--indexed", default="10000,100000,1000000",
                        help="indexed totals, comma-separated (default 10000,100000,1000000)")
    parser.add_argument("--due", type=int, default=1000, help="due pathways at every total (default 1000)")
    parser.add_argument("--due-series", default="100,1000,2000",
                        help="due counts tried at the middle total (default 100,1000,2000; empty: skip)")
    parser.add_argument("--with-raise", action="store_true",
                        help="also time, once, the sweep that writes one AlertRaised per due pathway")
    parser.add_argument("--batch", type=int, default=200, help="rows per sweep transaction (default 200)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per measure; the median is shown (default 1)")
    args = parser.parse_args()

    totals = [int(x) for x in args.indexed.split(",") if x]
    series = [int(x) for x in args.due_series.split(",") if x]
    middle = totals[len(totals) // 2]
    schema = f"bench_risk_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.database_url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        version = conn.execute("SHOW server_version").fetchone()[0]
    apply_migrations(args.database_url, schema)
    settings = Settings(mode="distributed", database_url=args.database_url, database_schema=schema,
                        cipher_key=SecretStr(AESCipher.create_key(32)))
    app = build_pathways_application(settings)
    pool = ConnectionPool(args.database_url, min_size=1, max_size=4, open=True, kwargs={"autocommit": True})
    try:
        index = PostgresDeadlineIndex(pool, schema)
        clock = TestClock(DUE_AT)
        engine = build_risk_engine(settings, PathwaysHandler(app), clock=clock, deadlines=index)
        engine.sweep_batch = args.batch
        print(f"PostgreSQL {version}, schema {schema}; sweep batch {args.batch}; median of {args.repeat}", file=sys.stderr)
        all_ids = make_pathways(app, max([args.due, *series]))
        due_ids = all_ids[: args.due]

        def measure(indexed: int, ids: list[uuid.UUID], *, send: bool = False) -> tuple:
            with pool.connection() as conn:
                reset(conn, schema, ids, indexed)
            selects, sweeps, cpus, reads, loads = [], [], [], [], 0
            result = None
            for _ in range(1 if send else args.repeat):
                with pool.connection() as conn:
                    put_back(conn, schema, ids)
                engine.loads = 0
                started, cpu = time.perf_counter(), time.process_time()
                result = engine.sweep(DUE_AT, send=send)
                sweeps.append(time.perf_counter() - started)
                cpus.append(time.process_time() - cpu)
                selects.append(result.select_s)
                reads.append(result.load_s)
                loads = engine.loads
                assert result.due == len(ids), (result.due, len(ids))
            assert result is not None
            return (statistics.median(selects), statistics.median(reads), statistics.median(sweeps),
                    statistics.median(cpus), loads, result.raised)

        rows = []
        for indexed in totals:
            sel, read, sweep, cpu, loads, _ = measure(indexed, due_ids)
            rows.append((indexed, len(due_ids), sel, read, sweep, cpu, loads, "evaluate"))
            print(f"  {indexed:>9,} indexés, {len(due_ids)} dus : sélection {sel * 1000:7.1f} ms, "
                  f"sweep {sweep * 1000:7.1f} ms, {loads} parcours lus".replace(",", " "), file=sys.stderr)
        for due in series:
            ids = all_ids[:due]
            sel, read, sweep, cpu, loads, _ = measure(middle, ids)
            rows.append((middle, due, sel, read, sweep, cpu, loads, "evaluate"))
        if args.with_raise:
            sel, read, sweep, cpu, loads, raised = measure(middle, due_ids, send=True)
            rows.append((middle, len(due_ids), sel, read, sweep, cpu, loads, f"raise ({raised} AlertRaised written)"))

        print("\n| indexed | due | share | select (ms) | read+decode (ms) | sweep wall (ms) | sweep CPU (ms) "
              "| pathways read | mode |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for indexed, due, sel, read, sweep, cpu, loads, mode in rows:
            print(f"| {indexed:,} | {due:,} | {100 * due / indexed:.2g} % | {sel * 1000:.1f} | {read * 1000:.0f} | "
                  f"{sweep * 1000:.0f} | {cpu * 1000:.0f} | {loads:,} | {mode} |")
        with pool.connection() as conn:
            reset(conn, schema, due_ids, middle)
            plan = index.explain_due(conn, DUE_AT, args.batch)
        print("\nplan of the due query at the middle total:\n" + "\n".join("    " + line for line in plan.splitlines()))
    finally:
        app.close()
        pool.close()
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return 0


if __name__ == "__main__":
    sys.exit(main())
