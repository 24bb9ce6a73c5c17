"""Benchmark (not a test): pathway events appended per second through the application
service on PostgreSQL, beside a raw psycopg insert of the very same rows in the same run.

    .venv/bin/python bench/bench_append.py [--pathways 40] [--commands 50] [--batch 1 --batch 10]

What is timed
- "service": `PathwaysHandler.handle` (one command per save) or `handle_batch` (K commands
  of one pathway per save): fingerprint, aggregate read (repository cache + fast-forward
  select), domain checks, event mapping, AES-GCM encryption (`eventsourcing.cryptography`),
  and the insert (table lock, NOTIFY, INSERT ... unnest, in one server-side function called
  once per save: services/pathways/recorder.py) of the pathway events AND the
  processed-command records, in one transaction per save.
- "raw psycopg": the same rows (same bytes, copied from the service's table after its run),
  into a table of the same shape, with the same grouping (one transaction per save),
  `executemany` of a plain INSERT on one connection. No reads, no lock, no encryption.
Both rates count pathway events only (processed-command rows are written by both and not
counted). A fresh schema is created and dropped.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID, uuid4

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from eventsourcing.cryptography import AESCipher  # noqa: E402
from services.bootstrap import CIPHER_TOPIC, build_pathways_application  # noqa: E402
from services.pathways import PathwaysHandler  # noqa: E402
from services.pathways import commands as c  # noqa: E402
from services.settings import Settings  # noqa: E402

T0 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
AGENCIES = ["pass-chu-rouen", "siao-76", "dac-rouen", "cpam-76"]


def actor(agency: str) -> c.ActorModel:
    return c.ActorModel(agency=agency, professional="pro-bench-1", role="coordinatrice")


def workload(pathways: int, commands: int) -> tuple[list[c.Command], dict[UUID, list[c.Command]]]:
    """Opening commands, then per pathway a realistic mix of small field facts."""
    openers: list[c.Command] = []
    per_pathway: dict[UUID, list[c.Command]] = {}
    for _ in range(pathways):
        pid = uuid4()
        openers.append(c.OpenPassGpPathway(command_id=uuid4(), pathway_id=pid, actor=actor(AGENCIES[0]), occurred_at=T0,
                                           person_ref=f"P-{pid.hex[:8]}", territory="76", lead_agency=AGENCIES[0]))
        for agency in AGENCIES[1:]:
            openers.append(c.AddAgency(command_id=uuid4(), pathway_id=pid, actor=actor(AGENCIES[0]), occurred_at=T0,
                                       agency=agency, role="coordination"))
        batch: list[c.Command] = []
        for i in range(commands):
            who = actor(AGENCIES[i % 4])
            when = T0 + timedelta(hours=i)
            if i % 3 == 0:
                batch.append(c.RecordNeed(command_id=uuid4(), pathway_id=pid, actor=who, occurred_at=when, need_id=uuid4(),
                                          category="care", description="Bilan de santé à organiser, interprète arabe."))
            elif i % 3 == 1:
                batch.append(c.RecordContactAttempt(command_id=uuid4(), pathway_id=pid, actor=who, occurred_at=when,
                                                    reached=bool(i % 2), channel="phone"))
            else:
                batch.append(c.BookAppointment(command_id=uuid4(), pathway_id=pid, actor=who, occurred_at=when,
                                               appointment_id=uuid4(), with_agency="chu-rouen", service="consultation",
                                               scheduled_at=when + timedelta(days=3), interpreter_needed=False))
        per_pathway[pid] = batch
    return openers, per_pathway


def run_service(
    handler: PathwaysHandler, per_pathway: dict[UUID, list[c.Command]], batch: int
) -> tuple[float, int, float]:
    """Returns (seconds, pathway events appended, this process's CPU seconds)."""
    events = 0
    # Interleave pathways, as agencies do, so no pathway stays hot in one loop.
    queues = {pid: list(cmds) for pid, cmds in per_pathway.items()}
    cpu = time.process_time()
    start = time.perf_counter()
    while queues:
        for pid in list(queues):
            chunk, queues[pid] = queues[pid][:batch], queues[pid][batch:]
            if not queues[pid]:
                del queues[pid]
            results = [handler.handle(chunk[0])] if batch == 1 else handler.handle_batch(chunk)
            assert all(r.accepted for r in results), results
            events += sum(r.new_events for r in results)
    return time.perf_counter() - start, events, time.process_time() - cpu


def run_raw(url: str, schema: str, source_table: str, first_notification: int, group_rows: int,
            *, pipelined: bool) -> float:
    """Inserts the same rows, same groups, into a same-shaped table; returns seconds.

    pipelined: `executemany` (psycopg 3 pipelines it: one round trip per group);
    otherwise one `execute` per row, the plain loop."""
    table = "raw_events_pipelined" if pipelined else "raw_events_loop"
    with psycopg.connect(url) as conn:
        conn.execute(sql.SQL(
            "CREATE TABLE {s}.{t} (originator_id uuid NOT NULL, originator_version bigint NOT NULL, "
            "topic text, state bytea, notification_id bigserial, PRIMARY KEY (originator_id, originator_version))"
        ).format(s=sql.Identifier(schema), t=sql.Identifier(table)))
        conn.execute(sql.SQL("CREATE UNIQUE INDEX ON {s}.{t} (notification_id)").format(
            s=sql.Identifier(schema), t=sql.Identifier(table)))
        rows = conn.execute(sql.SQL(
            "SELECT originator_id, originator_version, topic, state FROM {s}.{t} "
            "WHERE notification_id > %s ORDER BY notification_id"
        ).format(s=sql.Identifier(schema), t=sql.Identifier(source_table)), (first_notification,)).fetchall()
        conn.commit()
        insert = sql.SQL(
            "INSERT INTO {s}.{t} (originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %s)"
        ).format(s=sql.Identifier(schema), t=sql.Identifier(table))
        groups = [rows[i:i + group_rows] for i in range(0, len(rows), group_rows)]
        start = time.perf_counter()
        with conn.cursor() as cur:
            for group in groups:
                if pipelined:
                    cur.executemany(insert, group)
                else:
                    for row in group:
                        cur.execute(insert, row)
                conn.commit()
        return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=Settings().database_url)
    parser.add_argument("--pathways", type=int, default=40)
    parser.add_argument("--commands", type=int, default=50, help="commands per pathway (one event each)")
    parser.add_argument("--batch", type=int, action="append", help="commands per save (repeatable); default 1 and 10")
    parser.add_argument("--repeat", type=int, default=3, help="runs per batch size; the median is reported")
    parser.add_argument("--no-cipher", action="store_true", help="service without payload encryption (to see its cost)")
    args = parser.parse_args()
    batches = args.batch or [1, 10, 25]

    print(f"PostgreSQL {args.database_url.rsplit('@', 1)[-1]}, {args.pathways} pathways x {args.commands} commands, "
          f"cipher {'OFF' if args.no_cipher else CIPHER_TOPIC + ' (AES-256-GCM)'}, median of {args.repeat}")
    print(f"{'cmds/save':>9} {'service ev/s':>12} {'raw pipelined ev/s':>18} {'ratio':>6} {'raw loop ev/s':>13} "
          f"{'ratio':>6} {'service CPU us/ev':>17}")
    for batch in batches:
        runs: list[tuple[float, float, float, float]] = []
        for _ in range(args.repeat):
            schema = f"bench_{uuid4().hex[:10]}"
            settings = Settings(mode="distributed", database_url=args.database_url, database_schema=schema,
                                cipher_key=SecretStr(AESCipher.create_key(32)))
            overrides = {"CIPHER_TOPIC": "", "CIPHER_KEY": ""} if args.no_cipher else {}
            app = build_pathways_application(settings, **overrides)
            try:
                handler = PathwaysHandler(app)
                openers, per_pathway = workload(args.pathways, args.commands)
                for command in openers:
                    assert handler.handle(command).accepted
                first = app.recorder.max_notification_id() or 0
                seconds, events, cpu = run_service(handler, per_pathway, batch)
                # Each save wrote `batch` events and `batch` processed-command rows.
                table = app.recorder.events_table_name
                pipelined = run_raw(args.database_url, schema, table, first, 2 * batch, pipelined=True)
                loop = run_raw(args.database_url, schema, table, first, 2 * batch, pipelined=False)
            finally:
                app.close()
                with psycopg.connect(args.database_url, autocommit=True) as conn:
                    conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
            runs.append((events / seconds, events / pipelined, events / loop, cpu / events * 1e6))
        service, raw_pipelined, raw_loop, cpu_per_event = (statistics.median(r[i] for r in runs) for i in range(4))
        print(f"{batch:>9} {service:>12.0f} {raw_pipelined:>18.0f} {service / raw_pipelined:>6.0%} "
              f"{raw_loop:>13.0f} {service / raw_loop:>6.0%} {cpu_per_event:>17.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
