"""The case-conference query through the gateway vs the same data by plain SQL, same run.

    .venv/bin/python bench/bench_gateway.py [--pathways 10000] [--clients 50] [--seconds 20]

- A territory of `--pathways` synthetic pathways (services/territory/synthetic.py) in a
  PostgreSQL schema kept between runs (`bench_gateway_<n>`; loaded once through
  PathwaysHandler.handle_batch, one save per pathway, idempotent: same seed, same command ids),
  with two open alerts on each of the 200 pathways the clients read.
- The gateway: `relais serve` in distributed mode in its own process (uvicorn, one worker),
  fed by nothing else. Measured when its pathway index has caught up.
- The query (what a case conference opens): one pathway with its participants, open needs,
  referrals, actions, alerts and the first 50 timeline entries, for a random one of the 200
  pathways, by `--clients` concurrent HTTP/1.1 keep-alive clients (httpx, asyncio) with a
  coordinator's token of the lead agency (so consent and redaction run on every field), for
  `--seconds` seconds. Every request also writes its audit record.
- Plain SQL, same run, same concurrency (`--clients` threads, one connection each): the stored
  events of the same pathways (`SELECT ... FROM pathways_events WHERE originator_id = %s ORDER
  BY originator_version`), i.e. the rows the gateway reads, without decryption, folding,
  authorisation, audit nor GraphQL. The ratio is the gateway's whole overhead.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import os
import random
import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from bench._common import machine  # noqa: E402
from gateway.serving import free_port  # noqa: E402
from services.settings import Settings  # noqa: E402
from tests.tokens import identity_env, identity_settings, token  # noqa: E402

QUERY = """query CaseConference($id: UUID!) { pathway(id: $id) {
  id kind state territory leadAgency personRef exitDate version lastActivityAt
  access { membership visibleCategories }
  participants { agency role inCareTeam }
  openNeeds { needId category description status }
  referrals { referralId toAgency service status outcome }
  actions { actionId ownerAgency description dueOn done }
  alerts { alertId ruleId ruleLabel severity status ownerAgency suggestedAction raisedAt }
  redactions { field category reason }
  timeline(first: 50) { totalCount entries { position label occurredAt agency role details } }
} }"""


def settings_for(pathways: int) -> Settings:
    base = Settings()
    # Synthetic data only: a key derived from a constant, so that a later run reads this store.
    key = base64.b64encode(hashlib.sha256(b"relais-bench-gateway").digest()).decode()
    return Settings(mode="distributed", database_url=base.database_url, database_schema=f"bench_gateway_{pathways}",
                    kafka_bootstrap=base.kafka_bootstrap, cipher_key=SecretStr(key), environment="development",
                    **identity_settings())


def load_territory(settings: Settings, count: int) -> list[tuple[uuid.UUID, str]]:
    """Load (once) and return (pathway id, lead agency) of every pathway."""
    from services.bootstrap import build_pathways_application
    from services.pathways import PathwaysHandler, parse_command
    from services.territory.synthetic import PASS, SIAO, generate

    app = build_pathways_application(settings)
    handler = PathwaysHandler(app)
    stories = list(generate(count, seed=42, territory="76"))
    ids = [s.pathway_id for s in stories]
    with psycopg.connect(settings.database_url) as conn:
        have = conn.execute(sql.SQL("SELECT count(DISTINCT originator_id) FROM {}.pathways_events WHERE "
                                    "originator_version = 1 AND topic LIKE 'domain.%%'").format(
            sql.Identifier(settings.database_schema))).fetchone()[0]
    if have < count:
        started = time.monotonic()
        for n, story in enumerate(stories, 1):
            commands = [parse_command(name, payload) for name, payload in story.commands]
            results = handler.handle_batch(commands)
            assert all(r.accepted for r in results), [r.rejection for r in results if not r.accepted]
            if n % 250 == 0:
                rate = n / (time.monotonic() - started)
                print(f"\rchargement : {n}/{count} parcours ({rate:.0f}/s)", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
    leads = {s.pathway_id: s.commands[0][1]["lead_agency"] for s in stories}
    targets = [(pid, leads[pid]) for pid in ids[:200]]
    now = datetime.now(timezone.utc).isoformat()
    for pid, _lead in targets:  # two open alerts each (idempotent: ids derived from the pathway)
        for rule, owner in (("exit-without-housing", SIAO), ("referral-unverified", PASS)):
            alert = uuid.uuid5(pid, rule)
            handler.handle_payload("RaiseAlert", {
                "command_id": str(uuid.uuid5(alert, "raise")), "pathway_id": str(pid),
                "actor": {"agency": "relais", "professional": "risk-engine", "role": "systeme"},
                "occurred_at": now, "alert_id": str(alert), "rule_id": rule, "subject": "pathway",
                "triggering_event_ids": [], "owner_agency": owner, "severity": "high",
                "suggested_action": "Vérifier la solution avant la prochaine échéance."})
    return targets


def start_gateway(settings: Settings, port: int, workers: int = 1) -> subprocess.Popen:
    env = {**os.environ, "RELAIS_MODE": "distributed", "RELAIS_DATABASE_URL": settings.database_url,
           "RELAIS_DATABASE_SCHEMA": settings.database_schema, "RELAIS_ENVIRONMENT": "development", **identity_env(),
           "RELAIS_CIPHER_KEY": settings.cipher_key.get_secret_value(), "RELAIS_HTTP_PORT": str(port),
           "RELAIS_STATE_DIR": str(ROOT / ".relais" / "bench-gateway")}
    command = [sys.executable, "-m", "services.cli", "serve", "--port", str(port)]
    if workers > 1:
        command = [sys.executable, "-m", "uvicorn", "gateway.asgi:app", "--factory", "--workers", str(workers),
                   "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc


def wait_indexed(base: str, count: int, timeout: float = 900) -> float:
    """Until /health says the index caught up, ten times in a row (each worker has its own)."""
    started, streak = time.monotonic(), 0
    while time.monotonic() - started < timeout:
        try:
            health = httpx.get(f"{base}/health", timeout=2).json()
            streak = streak + 1 if health.get("indexed_pathways", 0) >= count else 0
            if streak >= 10:
                return time.monotonic() - started
        except httpx.HTTPError:
            streak = 0
        time.sleep(0.2 if streak else 0.5)
    raise RuntimeError("the gateway did not index the territory in time")


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2] * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


async def gateway_load(base: str, targets: list[tuple[uuid.UUID, str]], clients: int, seconds: float) -> dict:
    tokens = {lead: [token(lead, "coordinateur", f"{lead}-coord-{i}", ttl_seconds=7200) for i in range(40)]
              for lead in {lead for _, lead in targets}}
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + seconds

    async def client(n: int) -> None:
        nonlocal errors
        rng = random.Random(n)
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            while time.monotonic() < deadline:
                pid, lead = rng.choice(targets)
                token = rng.choice(tokens[lead])
                started = time.perf_counter()
                response = await http.post("/graphql", json={"query": QUERY, "variables": {"id": str(pid)}},
                                           headers={"Authorization": f"Bearer {token}"})
                elapsed = time.perf_counter() - started
                body = response.json()
                if response.status_code != 200 or body.get("errors") or not body["data"]["pathway"]:
                    errors += 1
                else:
                    latencies.append(elapsed)

    started = time.monotonic()
    await asyncio.gather(*(client(n) for n in range(clients)))
    wall = time.monotonic() - started
    p50, p99 = percentiles(latencies)
    return {"requests": len(latencies), "errors": errors, "rps": len(latencies) / wall, "p50": p50, "p99": p99}


def sql_load(settings: Settings, targets: list[tuple[uuid.UUID, str]], clients: int, seconds: float) -> dict:
    statement = sql.SQL("SELECT originator_id, originator_version, topic, state FROM {}.pathways_events "
                        "WHERE originator_id = %s ORDER BY originator_version").format(
        sql.Identifier(settings.database_schema))
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(n: int) -> None:
        rng = random.Random(n)
        mine = []
        with psycopg.connect(settings.database_url, autocommit=True) as conn:
            while time.monotonic() < deadline:
                pid, _ = rng.choice(targets)
                started = time.perf_counter()
                rows = conn.execute(statement, (pid,), prepare=True).fetchall()
                mine.append(time.perf_counter() - started)
                assert rows
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - started
    p50, p99 = percentiles(latencies)
    return {"requests": len(latencies), "errors": 0, "rps": len(latencies) / wall, "p50": p50, "p99": p99}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pathways", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (1: relais serve)")
    args = parser.parse_args()
    settings = settings_for(args.pathways)
    print(machine())
    targets = load_territory(settings, args.pathways)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_gateway(settings, port, args.workers)
    try:
        indexed = wait_indexed(base, args.pathways)
        print(f"gateway up ({args.workers} worker(s)), {args.pathways} pathways indexed in {indexed:.1f} s")
        asyncio.run(gateway_load(base, targets, args.clients, 3.0))  # warm-up
        gw = asyncio.run(gateway_load(base, targets, args.clients, args.seconds))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    raw = sql_load(settings, targets, args.clients, args.seconds)
    print(f"| gateway (GraphQL, HTTP, {args.workers} worker(s)) | {args.clients} | {gw['requests']} | {gw['errors']} | {gw['rps']:.0f} | "
          f"{gw['p50']:.1f} | {gw['p99']:.1f} |")
    print(f"| plain SQL (stored events) | {args.clients} | {raw['requests']} | 0 | {raw['rps']:.0f} | "
          f"{raw['p50']:.2f} | {raw['p99']:.2f} |")
    print(f"ratio gateway/SQL: p50 x{gw['p50'] / raw['p50']:.0f}, p99 x{gw['p99'] / raw['p99']:.0f}, "
          f"throughput {gw['rps'] / raw['rps'] * 100:.1f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
