"""The case-conference query through the gateway in-process vs the plain SQL read of the rows
its answer holds, same run; and its latency under an open-loop 100 requests/s.

    .venv/bin/python bench/bench_case_conference.py [--pathways 10000] [--targets 200]
        [--seconds 15] [--rate 100 [--rate 50]] [--profile 300]

- Territory: `--pathways` synthetic pathways (services/territory, seed 42) in the EMBEDDED
  runtime (services.bootstrap.build_embedded, without the risk engine: SQLite event store, the
  relay onto the in-process bus, the projections' SQLite read models), kept in
  `.relais/bench-case-conference-<n>/` between runs (loaded once, idempotent). The
  `--targets` pathways the requests read are given a case-conference history (needs, a
  conference and its actions, contact attempts, two open alerts): ~30-40 timeline events each.
- Gateway: `gateway.app.create_app` on that Relais, its lifespan running, driven IN-PROCESS
  through ASGI (`httpx.AsyncClient(transport=httpx.ASGITransport(app))`): JWT, rate limit,
  middleware, GraphQL (parse and validation caches), authorisation, audit record written before
  the answer — everything but the socket. It reads the projections' read models
  (gateway.readside), measured once the relay has put the whole event store on the bus (the
  projections apply synchronously on it).
- The query (CASE_CONFERENCE): what a partner's review screen opens for one pathway — its
  summary, participants, open needs, actions, open alerts and its timeline — with a
  coordinator's token of the lead agency (tests/tokens.py: the test identity provider's
  RS256 tokens; consent and redaction run on every field).
- Throughput: one client in a closed loop for `--seconds`, then the plain SQL read for as long
  (sqlite3 on the read-model file: the summary row, participants, open needs, actions, open
  alerts and the timeline rows of the same pathway — the rows the answer is made of); ratio.
- Latency: an OPEN loop — request i is sent at t0 + i/rate whether or not the earlier ones
  have answered, its latency counted from that scheduled instant (so queueing shows) — for
  `--seconds`, once per `--rate`; p50 / p99 / max.
- Then the closed loop again with every read-model read in a worker thread (`ReadSide.local`
  off: the distributed mode's path), for the effect of that thread hop in the same run.
- Then the query straight to the GraphQL schema (`schema.execute`, no HTTP nor token check)
  for as long: the floor under the HTTP layers.
- Then the floors, each alone for min(5, `--seconds`) s: the same POST (body, bearer header)
  to an empty FastAPI endpoint through the same client and middleware (HTTP + ASGI), and one
  audit record written and awaited as a request does (group commit, durable when it returns).
- `--profile N`: then N more closed-loop answers under cProfile, the top entries printed.

Bounded (load once, then (4 + rates) x `--seconds` + warm-up), stops by itself, no socket opened.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import sys
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench._common import machine  # noqa: E402
from bench.bench_gateway import percentiles  # noqa: E402
from services.bootstrap import EmbeddedRuntime, build_embedded  # noqa: E402
from services.settings import Settings  # noqa: E402
from tests.tokens import identity_settings, token  # noqa: E402

CASE_CONFERENCE = """query CaseConference($id: UUID!) { pathway(id: $id) {
  id kind state territory leadAgency personRef exitDate version lastActivityAt
  access { membership visibleCategories hiddenCategories }
  participants { agency role inCareTeam }
  openNeeds { needId infoCategory category description status recordedAt }
  actions { actionId conferenceId ownerAgency description dueOn done }
  alerts { alertId ruleId ruleLabel severity status ownerAgency subject suggestedAction raisedAt }
  timeline(first: 50) { totalCount entries { position infoCategory label occurredAt agency role } }
} }"""

#: The rows the answer is made of, read by plain SQL from the read models (same pathway).
SQL_READS = (
    "SELECT * FROM pathway_summary WHERE pathway_id = ?",
    "SELECT agency, role FROM caseload_participants WHERE pathway_id = ? ORDER BY agency",
    "SELECT * FROM pathway_summary_needs WHERE pathway_id = ? AND status = 'open' ORDER BY recorded_at, need_id",
    "SELECT * FROM pathway_summary_actions WHERE pathway_id = ? ORDER BY due_on, action_id",
    "SELECT * FROM alerts WHERE pathway_id = ? AND is_open = 1 ORDER BY raised_at DESC, alert_id DESC",
    "SELECT * FROM timeline WHERE pathway_id = ? ORDER BY occurred_at, seq LIMIT 50",
)


def settings_for(pathways: int) -> Settings:
    return Settings(mode="embedded", state_dir=ROOT / ".relais" / f"bench-case-conference-{pathways}",
                    synthetic_pathways=0, **identity_settings())


def wire(settings: Settings) -> EmbeddedRuntime:
    """The embedded runtime with its projections on the bus, without the risk engine (the
    alerts are raised here)."""
    return build_embedded(settings, risk=False)


def history(pid: uuid.UUID, lead: str, now: datetime, opened: datetime) -> list[tuple[str, dict[str, Any]]]:
    """A case-conference history for one pathway (ids derived from it: idempotent)."""
    def at(hours: float) -> str:  # never before the pathway opened (the domain refuses it)
        return max(now - timedelta(hours=hours), opened + timedelta(seconds=1)).isoformat()

    def cid(name: str) -> str:
        return str(uuid.uuid5(pid, name))

    system = {"agency": "relais", "professional": "risk-engine", "role": "systeme"}
    actor = {"agency": lead, "professional": f"{lead}-coord-1", "role": "coordinateur"}
    out: list[tuple[str, dict[str, Any]]] = []
    for n, (category, text) in enumerate((("housing", "Hébergement à la sortie"),
                                          ("health_coverage", "Renouvellement AME"),
                                          ("interpreting", "Interprète pour les rendez-vous"))):
        out.append(("RecordNeed", {"need_id": cid(f"need-{n}"), "category": category, "description": text,
                                   "actor": actor, "occurred_at": at(60 - n)}))
    conference = cid("conference")
    out.append(("HoldCaseConference", {"conference_id": conference, "agencies": [lead],
                                       "decisions": ["Relancer le SIAO", "Prendre rendez-vous CPAM"],
                                       "actor": actor, "occurred_at": at(50)}))
    for n in range(3):
        out.append(("AssignAction", {"conference_id": conference, "action_id": cid(f"action-{n}"),
                                     "owner_agency": lead, "description": f"Action {n + 1} décidée en synthèse",
                                     "due_on": (date.today() + timedelta(days=3 + n)).isoformat(),
                                     "actor": actor, "occurred_at": at(49)}))
    for n in range(10):
        out.append(("RecordContactAttempt", {"reached": n % 3 == 0, "channel": "phone", "actor": actor,
                                             "occurred_at": at(40 - n)}))
    for rule, owner in (("exit-without-housing", "siao"), ("referral-unverified", lead)):
        out.append(("RaiseAlert", {"alert_id": cid(rule), "rule_id": rule, "subject": "pathway",
                                   "triggering_event_ids": [], "owner_agency": owner, "severity": "high",
                                   "suggested_action": "Vérifier la solution avant la prochaine échéance.",
                                   "actor": system, "occurred_at": at(20)}))
    return [(name, {"command_id": cid(f"cmd-{i}"), "pathway_id": str(pid), **payload})
            for i, (name, payload) in enumerate(out)]


def load(relais: EmbeddedRuntime, count: int, targets: int) -> list[tuple[uuid.UUID, str]]:
    """The territory (once) and the targets' histories; returns (pathway id, lead agency)."""
    from services.territory.load import load as load_territory
    from services.territory.synthetic import generate

    stories = list(generate(count, seed=42, territory="76"))
    if (relais.pathways.app.recorder.max_notification_id() or 0) == 0:
        load_territory(relais.pathways, count, seed=42, territory="76", progress=True)
    # Open pathways only: a closed one takes no new fact (the case conference reviews open ones).
    open_ = [s for s in stories if not any(name == "ClosePathway" for name, _ in s.commands)]
    chosen = [(s.pathway_id, s.commands[0][1]["lead_agency"]) for s in open_[:targets]]
    opened = {s.pathway_id: datetime.fromisoformat(s.commands[0][1]["occurred_at"]) for s in open_[:targets]}
    if _histories_applied(Path(relais.settings.state_dir) / "read_models.sqlite3", chosen):
        return chosen  # a previous run wrote them and the read models hold them
    now = datetime.now(timezone.utc)
    for pid, lead in chosen:
        for name, payload in history(pid, lead, now, opened[pid]):
            result = relais.pathways.handle_payload(name, payload)
            assert result.accepted or result.duplicate, (name, result.rejection)
    return chosen


def _histories_applied(path: Path, chosen: list[tuple[uuid.UUID, str]]) -> bool:
    """Whether every target's case conference is in the read models already (kept between runs)."""
    if not path.exists():
        return False
    conn = sqlite3.connect(path)
    try:
        wanted = [str(uuid.uuid5(pid, "conference")) for pid, _ in chosen]
        marks = ",".join("?" * len(wanted))
        found = conn.execute(f"SELECT COUNT(*) FROM pathway_summary_conferences WHERE conference_id IN ({marks})",
                             wanted).fetchone()[0]
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    return found == len(wanted)


def catch_up(relais: EmbeddedRuntime) -> float:
    """Relay the whole event store onto the bus; the projections apply each batch before
    `run_once` returns, so the read models have everything once it returns 0. Seconds taken."""
    started = time.monotonic()
    while relais.relay.run_once():
        pass
    return time.monotonic() - started


def sql_rows(conn: sqlite3.Connection, pid: str) -> int:
    return sum(len(conn.execute(q, (pid,)).fetchall()) for q in SQL_READS)


async def closed_loop(client: httpx.AsyncClient, targets: list[tuple[uuid.UUID, str]],
                      tokens: dict[str, list[str]], seconds: float) -> tuple[int, int, float]:
    done = errors = 0
    started = time.perf_counter()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        pid, lead = targets[done % len(targets)]
        if not await one(client, pid, tokens[lead][done % len(tokens[lead])]):
            errors += 1
        done += 1
    return done, errors, time.perf_counter() - started


async def one(client: httpx.AsyncClient, pid: uuid.UUID, token: str) -> bool:
    response = await client.post("/graphql", json={"query": CASE_CONFERENCE, "variables": {"id": str(pid)}},
                                 headers={"Authorization": f"Bearer {token}"})
    body = response.json()
    return response.status_code == 200 and not body.get("errors") and body["data"]["pathway"] is not None


async def open_loop(client: httpx.AsyncClient, targets: list[tuple[uuid.UUID, str]], tokens: dict[str, list[str]],
                    rate: float, seconds: float) -> dict[str, Any]:
    """Request i is sent at t0 + i / rate regardless of completions; latency from that instant."""
    latencies: list[float] = []
    errors = 0

    async def fire(i: int, scheduled: float) -> None:
        nonlocal errors
        pid, lead = targets[i % len(targets)]
        ok = await one(client, pid, tokens[lead][i % len(tokens[lead])])
        if ok:
            latencies.append(time.perf_counter() - scheduled)
        else:
            errors += 1

    total = int(rate * seconds)
    t0 = time.perf_counter() + 0.05
    tasks = []
    for i in range(total):
        scheduled = t0 + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(fire(i, scheduled)))
    await asyncio.gather(*tasks)
    p50, p99 = percentiles(latencies)
    return {"sent": total, "answered": len(latencies), "errors": errors, "p50": p50, "p99": p99,
            "max": max(latencies) * 1000 if latencies else float("nan")}


async def measure(relais: EmbeddedRuntime, targets: list[tuple[uuid.UUID, str]], seconds: float,
                  rates: list[float], profile: int = 0) -> dict[str, Any]:
    from gateway.app import create_app

    app = create_app(relais)

    @app.post("/bench-empty")
    async def empty() -> dict[str, Any]:  # the floor of FastAPI + ASGI + the client, same body
        return {"data": None}
    # Coordinators of each lead agency, enough of them that none reaches the per-token rate limit.
    tokens = {lead: [token(lead, "coordinateur", f"{lead}-coord-{n}", ttl_seconds=7200) for n in range(60)]
              for lead in {lead for _, lead in targets}}
    out: dict[str, Any] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://relais.test", timeout=30) as client:
            await closed_loop(client, targets, tokens, min(3.0, seconds))  # warm-up (caches, first paths)
            cpu = time.process_time()
            done, errors, wall = await closed_loop(client, targets, tokens, seconds)
            out.update(requests=done, errors=errors, rps=done / wall,
                       cpu_ms=(time.process_time() - cpu) / max(done, 1) * 1000)
            out["open"] = [(rate, await open_loop(client, targets, tokens, rate, seconds)) for rate in rates]
            read = app.state.gateway.read
            if read.local:  # the same closed loop with every read in a worker thread (distributed-mode path)
                read.local = False
                try:
                    cpu = time.process_time()
                    threaded, _, threaded_wall = await closed_loop(client, targets, tokens, seconds)
                    out.update(threaded_rps=threaded / threaded_wall,
                               threaded_cpu_ms=(time.process_time() - cpu) / max(threaded, 1) * 1000)
                finally:
                    read.local = True
            out.update(await schema_only(app, targets, seconds))
            out.update(await floors(client, app, targets, tokens, min(5.0, seconds)))
            if profile:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                profiler.enable()
                for i in range(profile):
                    pid, lead = targets[i % len(targets)]
                    await one(client, pid, tokens[lead][i % len(tokens[lead])])
                profiler.disable()
                stats = pstats.Stats(profiler)
                stats.sort_stats("cumulative").print_stats(45)
                stats.sort_stats("tottime").print_stats(30)
    return out


async def schema_only(app: Any, targets: list[tuple[uuid.UUID, str]], seconds: float) -> dict[str, Any]:
    """The same query straight to the GraphQL schema (no HTTP, no token check, no rate limit;
    resolvers, authorisation, redaction and the audit write as in a request): the floor the
    HTTP layers sit on."""
    from gateway.context import Context
    from gateway.permissions import Principal, Role
    from gateway.schema import build_schema

    schema, services = build_schema(), app.state.gateway
    principals = {lead: Principal(agency=lead, professional=f"{lead}-coord-0", role=Role("coordinateur"))
                  for lead in {lead for _, lead in targets}}
    done = errors = 0
    cpu = time.process_time()
    started = time.perf_counter()
    while time.perf_counter() < started + seconds:
        pid, lead = targets[done % len(targets)]
        result = await schema.execute(CASE_CONFERENCE, variable_values={"id": str(pid)},
                                      context_value=Context(services, principals[lead]))
        errors += bool(result.errors) or not (result.data or {}).get("pathway")
        done += 1
    wall = time.perf_counter() - started
    return {"schema_rps": done / wall, "schema_cpu_ms": (time.process_time() - cpu) / max(done, 1) * 1000,
            "schema_errors": errors}


async def floors(client: httpx.AsyncClient, app: Any, targets: list[tuple[uuid.UUID, str]],
                 tokens: dict[str, list[str]], seconds: float) -> dict[str, Any]:
    """Fixed costs under the query, each alone: the same POST (body, bearer header) to an empty
    FastAPI endpoint through the same in-process client and middleware stack; one audit record
    written and awaited as a request does (group commit: durable before the await returns)."""
    from gateway.audit import READ, SUCCESS, AuditRecord

    async def timed(step: Any) -> tuple[float, float]:
        done, cpu, started = 0, time.process_time(), time.perf_counter()
        while time.perf_counter() < started + seconds:
            await step(done)
            done += 1
        return done / (time.perf_counter() - started), (time.process_time() - cpu) / max(done, 1) * 1000

    async def post_empty(i: int) -> None:
        pid, lead = targets[i % len(targets)]
        response = await client.post("/bench-empty", json={"query": CASE_CONFERENCE, "variables": {"id": str(pid)}},
                                     headers={"Authorization": f"Bearer {tokens[lead][i % len(tokens[lead])]}"})
        response.json()

    audit = app.state.gateway.audit

    async def audit_one(i: int) -> None:
        pid, lead = targets[i % len(targets)]
        await audit.write_async([AuditRecord(professional=f"{lead}-coord-0", agency=lead, role="coordinateur",
                                             action=READ, operation="pathway", purpose="CAREMGT", pathway_id=str(pid),
                                             categories=("administrative", "identity", "social"), outcome=SUCCESS)])

    empty_rps, empty_cpu = await timed(post_empty)
    audit_rps, audit_cpu = await timed(audit_one)
    return {"empty_rps": empty_rps, "empty_cpu_ms": empty_cpu, "audit_rps": audit_rps, "audit_cpu_ms": audit_cpu}


def sql_baseline(path: Path, targets: list[tuple[uuid.UUID, str]], seconds: float) -> dict[str, Any]:
    conn = sqlite3.connect(path)
    try:
        done = rows = 0
        started = time.perf_counter()
        deadline = started + seconds
        while time.perf_counter() < deadline:
            rows += sql_rows(conn, str(targets[done % len(targets)][0]))
            done += 1
        wall = time.perf_counter() - started
    finally:
        conn.close()
    return {"requests": done, "rps": done / wall, "rows_per_read": rows / max(done, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pathways", type=int, default=10_000)
    parser.add_argument("--targets", type=int, default=200, help="pathways the requests read")
    parser.add_argument("--seconds", type=float, default=15.0, help="each of the measurements")
    parser.add_argument("--rate", type=float, action="append", help="open-loop requests per second (repeatable; "
                                                                     "default 100)")
    parser.add_argument("--profile", type=int, default=0, help="then N answers under cProfile")
    args = parser.parse_args()
    rates = args.rate or [100.0]
    print(machine())
    avg = os.getloadavg()
    print(f"load average at the start: {avg[0]:.2f} {avg[1]:.2f} {avg[2]:.2f}", flush=True)
    settings = settings_for(args.pathways)
    relais = wire(settings)
    try:
        started = time.monotonic()
        targets = load(relais, args.pathways, args.targets)
        print(f"territory: {args.pathways} pathways, {args.targets} with a case-conference history "
              f"({time.monotonic() - started:.0f} s to load/check)", flush=True)
        print(f"read models caught up in {catch_up(relais):.0f} s", flush=True)
        read_models = Path(settings.state_dir) / "read_models.sqlite3"
        conn = sqlite3.connect(read_models)
        events = [conn.execute("SELECT COUNT(*) FROM timeline WHERE pathway_id = ?", (str(p),)).fetchone()[0]
                  for p, _ in targets]
        conn.close()
        print(f"timeline events per target: min {min(events)}, max {max(events)}", flush=True)
        raw_before = sql_baseline(read_models, targets, args.seconds / 3)
        gw = asyncio.run(measure(relais, targets, args.seconds, rates, args.profile))
        raw = sql_baseline(read_models, targets, args.seconds)
    finally:
        relais.close()
    print("| reader | requests | errors | req/s | CPU ms/answer |")
    print("| --- | ---: | ---: | ---: | ---: |")
    print(f"| gateway in-process (ASGI, 1 client, closed loop) | {gw['requests']} | {gw['errors']} | {gw['rps']:.0f} | "
          f"{gw['cpu_ms']:.2f} |")
    print(f"| plain SQL (sqlite3, {len(SQL_READS)} SELECTs, {raw['rows_per_read']:.0f} rows) | {raw['requests']} | 0 | "
          f"{raw['rps']:.0f} | |")
    if "threaded_rps" in gw:
        print(f"| gateway, reads in a worker thread (ReadSide.local off) | | | {gw['threaded_rps']:.0f} | "
              f"{gw['threaded_cpu_ms']:.2f} |")
    print(f"| GraphQL schema only (schema.execute, no HTTP) | | {gw['schema_errors']} | {gw['schema_rps']:.0f} | "
          f"{gw['schema_cpu_ms']:.2f} |")
    print(f"| empty FastAPI endpoint, same POST and client (floor of HTTP + ASGI) | | | {gw['empty_rps']:.0f} | "
          f"{gw['empty_cpu_ms']:.2f} |")
    print(f"| one audit record written and awaited (group commit, alone) | | | {gw['audit_rps']:.0f} | "
          f"{gw['audit_cpu_ms']:.2f} |")
    print(f"(plain SQL before the gateway, {args.seconds / 3:.0f} s: {raw_before['rps']:.0f} req/s)")
    print(f"throughput ratio gateway / plain SQL: {gw['rps'] / raw['rps'] * 100:.1f} % (aim >= 20 %)")
    for rate, latency in gw["open"]:
        print(f"open loop {rate:.0f} req/s for {args.seconds:.0f} s: sent {latency['sent']}, answered "
              f"{latency['answered']}, errors {latency['errors']}, p50 {latency['p50']:.1f} ms, "
              f"p99 {latency['p99']:.1f} ms, max {latency['max']:.1f} ms (aim p99 < 50 ms at 100 req/s)")
    avg = os.getloadavg()
    print(f"load average at the end: {avg[0]:.2f} {avg[1]:.2f} {avg[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
