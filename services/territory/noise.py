"""How many alerts the rules leave open on a synthetic territory, per owning agency and rule.

Loads `count` synthetic pathways through the pathways service (embedded: SQLite in memory),
then has the risk engine evaluate each one at the territory's `now` — what a sweep does — and
counts the alerts open afterwards. The figure the noise target in docs/rules.md is checked
against (`relais`-free: run `python -m services.territory.noise [count] [seed]`).
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from datetime import date, datetime, time, timezone
from pathlib import Path

from services.bootstrap import build_pathways_application
from services.clock import TestClock
from services.pathways import PathwaysHandler
from services.risk import RiskEngine, SQLiteDeadlineIndex
from services.settings import Settings
from services.territory.load import load
from services.territory.synthetic import generate

#: The synthetic territory's default moment (`synthetic.generate`).
DEFAULT_NOW = datetime.combine(date(2026, 11, 23), time(9, 0), tzinfo=timezone.utc)


def open_alerts(count: int = 200, *, seed: int = 1, now: datetime = DEFAULT_NOW) -> Counter[tuple[str, str, str]]:
    """(owner agency, kind, rule) -> open alerts, on the default synthetic territory."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for (owner, kind, rule, _pathway), n in open_alerts_by_pathway(count, seed=seed, now=now).items():
        counts[(owner, kind, rule)] += n
    return counts


def open_alerts_by_pathway(count: int = 200, *, seed: int = 1,
                           now: datetime = DEFAULT_NOW) -> Counter[tuple[str, str, str, str]]:
    """(owner agency, kind, rule, pathway id) -> open alerts."""
    with tempfile.TemporaryDirectory() as tmp:
        app = build_pathways_application(Settings(mode="embedded", state_dir=Path(tmp)), SQLITE_DBNAME=":memory:")
        try:
            handler = PathwaysHandler(app)
            load(handler, count, seed=seed, now=now, progress=None)
            index = SQLiteDeadlineIndex()
            engine = RiskEngine(handler, TestClock(now), index)
            kinds = {story.pathway_id: story.kind for story in generate(count, seed=seed, now=now)}
            with index.transaction() as conn:
                for pathway_id in kinds:
                    engine.process(conn, pathway_id, now)
            counts: Counter[tuple[str, str, str, str]] = Counter()
            for pathway_id, kind in kinds.items():
                for alert in app.get_pathway(pathway_id).open_alerts:
                    counts[(alert.owner_agency, kind, alert.rule_id, str(pathway_id))] += 1
            index.close()
            return counts
        finally:
            app.close()


def per_owner(counts: Counter[tuple[str, str, str]]) -> Counter[str]:
    out: Counter[str] = Counter()
    for (owner, _kind, _rule), n in counts.items():
        out[owner] += n
    return out


def main(argv: list[str]) -> int:
    count = int(argv[0]) if argv else 200
    seed = int(argv[1]) if len(argv) > 1 else 1
    counts = open_alerts(count, seed=seed)
    print(f"{count} parcours synthétiques (graine {seed}) : {sum(counts.values())} alertes ouvertes")
    for owner, n in per_owner(counts).most_common():
        print(f"  {owner:<14} {n:>4}")
        for (o, kind, rule), m in sorted(counts.items()):
            if o == owner:
                print(f"      {kind:<10} {rule:<32} {m:>4}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
