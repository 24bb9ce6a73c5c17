"""The directory's match over 20,000 services vs a plain SQL filter of the same data, same run.

Builds a directory of `--services` synthetic services on a fresh PostgreSQL schema (the
directory's own event store, as `relais` runs it), then answers `--requests` random match
requests (commune, languages, kind) two ways:

- **match**: `Directory.match` as the gateway's `matchServices` calls it (the read side brought
  up to date from the store, every blocking criterion, the reasons and the ranking with
  opening hours, freshness and saturation);
- **SQL**: one plain `SELECT ... WHERE ... ORDER BY ... LIMIT` on a flat table of the same
  services (accepting, kind, commune rule, quota left, language or interpreting), with the
  indexes it wants: the floor of "the same answer from a database", without the reasons or
  the opening hours.

Prints p50/p99 of each and the ratio (aim: match p50 <= 2 x SQL p50). `--help` for options.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import machine, scratch  # noqa: E402
from domain.directory import Quota, QuotaPeriod, Service, ServiceDetails, ServiceKind  # noqa: E402
from domain.matching import MatchRequest  # noqa: E402
from domain.values import Actor  # noqa: E402
from services.bootstrap import build_directory  # noqa: E402
from services.territory.directory import COMMUNE_CODES, FOREIGN_LANGUAGES, HOURS  # noqa: E402

KINDS = [ServiceKind.MG] * 6 + [ServiceKind.PASS, ServiceKind.CSAPA, ServiceKind.CMP, ServiceKind.PMI]
ACTOR = Actor(agency="relais", professional="bench", role="annuaire")


def build_services(n: int, now: datetime, rng: random.Random) -> list[Service]:
    codes = list(COMMUNE_CODES.values()) + [f"76{rng.randint(100, 799):03d}" for _ in range(90)]
    out = []
    for i in range(n):
        commune = rng.choice(codes)
        details = ServiceDetails(
            name=f"Service {i:05d}", kind=rng.choice(KINDS), organization=f"Org {i}", code_insee=commune,
            commune=commune, zone_eligibilite=(commune,) if rng.random() < 0.35 else (),
            languages=("fr", rng.choice(FOREIGN_LANGUAGES)) if rng.random() < 0.1 else ("fr",),
            accepts_interpreting=rng.random() < 0.6, horaires_accueil=rng.choice(HOURS))
        quota = Quota(rng.randint(2, 5), QuotaPeriod.WEEK) if rng.random() < 0.3 else None
        service = Service.register(uuid4(), owner=f"org-{i}", details=details,
                                   accepting_new_patients=rng.random() < 0.2, quota=quota, saturation=None,
                                   actor=ACTOR, occurred_at=now - timedelta(days=rng.randint(1, 120)),
                                   command_id=uuid4())
        out.append(service)
    return out


FLAT = """
CREATE TABLE bench_services (id uuid PRIMARY KEY, name text, kind text, code_insee text, zone text[],
  accepting boolean, languages text[], accepts_interpreting boolean, quota_left int, date_maj date);
CREATE INDEX ON bench_services (kind, accepting);
"""
QUERY = """
SELECT id, name FROM bench_services
WHERE accepting AND kind = %(kind)s
  AND (cardinality(zone) = 0 OR %(commune)s = ANY(zone) OR left(%(commune)s, 2) = ANY(zone))
  AND (quota_left IS NULL OR quota_left > 0)
  AND (%(language)s::text IS NULL OR %(language)s = ANY(languages) OR accepts_interpreting)
ORDER BY (code_insee = %(commune)s) DESC, (%(language)s = ANY(languages)) DESC, date_maj DESC, name
LIMIT 10
"""


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    now = datetime(2026, 12, 2, 10, 30, tzinfo=timezone.utc)
    with scratch() as s:
        import psycopg

        directory = build_directory(s.settings)
        app = directory.handler.app
        started = time.perf_counter()
        services = build_services(args.services, now, rng)
        for i in range(0, len(services), 500):
            app.save(*services[i:i + 500])
        print(f"loaded {len(services)} services in {time.perf_counter() - started:.1f} s", file=sys.stderr)
        directory.index.refresh()
        with psycopg.connect(s.settings.database_url, autocommit=True) as conn:
            conn.execute(f"SET search_path TO {s.schema}")
            conn.execute(FLAT)
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO bench_services VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                    [(x.id, x.details.name, x.details.kind.value, x.details.code_insee, list(x.details.zone_eligibilite),
                      x.accepting_new_patients, list(x.details.languages), x.details.accepts_interpreting,
                      x.quota_left(now.date()), x.date_maj) for x in services])
            conn.execute("ANALYZE bench_services")
            codes = list(COMMUNE_CODES.values())
            requests = [MatchRequest(at=now, commune=rng.choice(codes), kind=rng.choice(KINDS),
                                     languages=(rng.choice(FOREIGN_LANGUAGES),) if rng.random() < 0.5 else ())
                        for _ in range(args.requests)]
            for r in requests[:20]:  # warm both paths (parsed opening hours, plans)
                directory.match(r)
                conn.execute(QUERY, _params(r)).fetchall()
            match_ms, sql_ms, found = [], [], 0
            for r in requests:  # interleaved: both see the same machine load
                t0 = time.perf_counter()
                found += len(directory.match(r))
                match_ms.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                conn.execute(QUERY, _params(r)).fetchall()
                sql_ms.append((time.perf_counter() - t0) * 1000)
        app.close()
    p50m, p99m, p50s, p99s = (percentile(match_ms, 50), percentile(match_ms, 99), percentile(sql_ms, 50),
                              percentile(sql_ms, 99))
    print(machine())
    print(f"| {args.services} services, {args.requests} requests | p50 | p99 | mean |")
    print("|---|---|---|---|")
    print(f"| match (Directory.match) | {p50m:.2f} ms | {p99m:.2f} ms | {statistics.mean(match_ms):.2f} ms |")
    print(f"| plain SQL filter | {p50s:.2f} ms | {p99s:.2f} ms | {statistics.mean(sql_ms):.2f} ms |")
    print(f"| ratio match / SQL | {p50m / p50s:.2f} | {p99m / p99s:.2f} | |")
    print(f"(matches returned on average: {found / len(requests):.1f}; aim p50 ratio <= 2)")
    return 0


def _params(r: MatchRequest) -> dict[str, object]:
    return {"kind": r.kind.value if r.kind else None, "commune": r.commune,
            "language": r.languages[0] if r.languages else None}


if __name__ == "__main__":
    raise SystemExit(main())
