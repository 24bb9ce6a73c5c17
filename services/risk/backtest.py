"""Back-test of a candidate rule set beside the one in force, on a territory's history.

Each pathway's events are replayed in order, as the engine would have seen them when the facts
happened (the clock is each fact's `occurred_at`, never earlier than the fact before it), and
between two facts the rules are evaluated again at each deadline they announce
(`domain.rules.next_deadline`): what a sweep does. Both rule sets run on the same replay. An
alert is a (rule, subject) finding that appears; it ends when the finding disappears (resolved)
or the pathway closes. No command is sent and nothing is written: the event store is read (or a
synthetic territory generated in memory, services/territory/synthetic.py) and the pathways are
rebuilt from their events with the domain's own methods.

What is reported, per rule and rule set (docs/backtest.md):
- alerts raised in the window, per week, and per week per worker of the owning agencies
  (workers: the professionals seen recording facts for that agency in the history; at least 1);
- the share of those alerts later dismissed by their owner (an `AlertDismissed` of the same
  rule and subject in the history; a synthetic territory has none);
- breaks: a pathway closed as lost to follow-up, an exit recorded with no housing solution
  (street exit), or a planned exit date passed with neither exit nor housing (missed exit) —
  the share of broken pathways that had an alert of the rule before the break, and the median
  lead time from the first such alert to the break.
"""

from __future__ import annotations

import csv
import io
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, TextIO
from uuid import UUID

from eventsourcing.application import project_aggregate

from domain.errors import DomainError
from domain.rules import CATALOGUE, evaluate, next_deadline
from domain.rules.facts import housing_solution
from domain.rules.settings import TerritorySettings
from domain.values import ClosureOutcome
from infra.progress import Progress

#: Guards the replay between two facts against a rule announcing deadlines without end.
MAX_STEPS_BETWEEN_FACTS = 200

BREAK_LABELS = {"lost_to_follow_up": "perdu de vue", "street_exit": "sortie à la rue",
                "missed_exit": "sortie manquée"}
ALL_RULES = "toutes règles"


@dataclass(frozen=True)
class History:
    """The events of one pathway, in their order."""

    pathway_id: UUID
    events: list[Any]


@dataclass
class ReplayedAlert:
    rule_id: str
    subject: str
    owner: str
    raised_at: datetime


@dataclass
class Replayed:
    """What one rule set raised on one pathway, and how the pathway ended."""

    alerts: dict[str, list[ReplayedAlert]] = field(default_factory=dict)  # rule set -> alerts
    broke_at: datetime | None = None
    break_kind: str | None = None
    dismissed: set[tuple[str, str]] = field(default_factory=set)
    workers: dict[str, set[str]] = field(default_factory=dict)
    exit_seen: bool = False


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class _RuleSetRun:
    """One rule set's open findings on one replayed pathway."""

    def __init__(self, settings: TerritorySettings) -> None:
        self.settings = settings
        self.open: set[tuple[str, str]] = set()
        self.raised: list[ReplayedAlert] = []

    def look(self, pathway: Any, now: datetime) -> None:
        found = {(f.rule_id, f.subject): f for f in evaluate(pathway, now, self.settings)}
        for key, finding in found.items():
            if key not in self.open:
                self.raised.append(ReplayedAlert(finding.rule_id, finding.subject, finding.owner_agency, now))
        self.open = set(found)

    def until(self, pathway: Any, now: datetime, before: datetime) -> None:
        """Evaluate at each deadline the rules announce from `now` until `before` (excluded)."""
        for _ in range(MAX_STEPS_BETWEEN_FACTS):
            due = next_deadline(pathway, now, self.settings)
            if due is None or due >= before or due <= now:
                return
            now = _aware(due)
            self.look(pathway, now)


def replay(history: History, rule_sets: Mapping[str, TerritorySettings], end: datetime) -> Replayed:
    """Replay one pathway's events under every rule set up to `end`."""
    out = Replayed()
    runs = {name: _RuleSetRun(s) for name, s in rule_sets.items()}
    pathway: Any = None
    now: datetime | None = None
    events = history.events
    for i, event in enumerate(events):
        pathway = event.mutate(pathway)
        moment = _aware(event.occurred_at)
        now = moment if now is None or moment > now else now
        if now > end:
            break
        actor = getattr(event, "actor", None)
        if actor is not None:
            out.workers.setdefault(actor.agency, set()).add(actor.professional)
        _record_break(out, pathway, now)
        for run in runs.values():
            run.look(pathway, now)
        following = _aware(events[i + 1].occurred_at) if i + 1 < len(events) else end
        following = min(max(following, now), end)
        if out.broke_at is None:
            _missed_exit(out, pathway, now, following, next(iter(rule_sets.values())))
        for run in runs.values():
            run.until(pathway, now, following)
    if pathway is not None:
        out.dismissed = {(a.rule_id, a.subject) for a in pathway.alerts.values()
                         if getattr(a, "dismissal_reason", None) is not None}
    out.alerts = {name: run.raised for name, run in runs.items()}
    return out


def _record_break(out: Replayed, pathway: Any, now: datetime) -> None:
    if out.broke_at is not None:
        return
    if pathway.is_closed:
        if pathway.closure_outcome is ClosureOutcome.LOST_TO_FOLLOW_UP:
            out.broke_at, out.break_kind = now, "lost_to_follow_up"
        return
    if getattr(pathway, "exited_on", None) is not None and not out.exit_seen:
        out.exit_seen = True  # the exit's own event: was there a housing solution then?
        if not housing_solution(pathway):
            out.broke_at, out.break_kind = now, "street_exit"


def _missed_exit(out: Replayed, pathway: Any, now: datetime, following: datetime, settings: TerritorySettings) -> None:
    """A planned exit whose day passed with no exit recorded and no housing solution."""
    planned = getattr(pathway, "exit_date", None)
    if (planned is None or getattr(pathway, "exited_on", None) is not None or pathway.is_closed
            or housing_solution(pathway)):
        return
    passed = datetime.combine(planned + timedelta(days=1), datetime.min.time(), settings.tz)
    if now < passed <= following:
        out.broke_at, out.break_kind = passed, "missed_exit"


# --------------------------------------------------------------------------- histories
def synthetic_histories(count: int, *, seed: int = 1, territory: str = "76",
                        now: datetime | None = None) -> Iterator[History]:
    """The synthetic territory's pathways rebuilt in memory from their commands (a command the
    domain refuses is skipped, as the service would refuse it)."""
    from services.pathways.application import PathwaysApplication
    from services.pathways.handler import parse_command
    from services.territory.synthetic import generate

    for story in generate(count, seed=seed, territory=territory, now=now):
        commands = [parse_command(name, payload) for name, payload in story.commands]
        pathway = PathwaysApplication.open_pathway(commands[0])
        for command in commands[1:]:
            try:
                PathwaysApplication.call(pathway, command)
            except DomainError:
                continue
        yield History(story.pathway_id, list(pathway.collect_events()))


def stored_histories(app: Any, territory: str) -> Iterator[History]:
    """The pathways of `territory` in the event store, each with its events."""
    seen: set[UUID] = set()
    start = 1
    while True:
        notifications = app.recorder.select_notifications(start, 500)
        if not notifications:
            return
        for n in notifications:
            pid = n.originator_id
            if pid in seen or not n.topic.startswith(("domain.", "services.")) or "Opened" not in n.topic:
                continue
            seen.add(pid)
            events = list(app.events.get(pid))
            if events and getattr(project_aggregate(None, events[:1]), "territory", None) == territory:
                yield History(pid, events)
        start = notifications[-1].id + 1


# --------------------------------------------------------------------------- report
@dataclass
class RuleFigures:
    rule_id: str
    alerts: int
    per_week: float
    per_worker_week: float
    dismissed_share: float | None
    breaks_alerted_share: float | None
    median_lead_days: float | None


@dataclass
class Report:
    territory: str
    start: datetime
    end: datetime
    pathways: int
    breaks: Counter[str]
    rule_sets: list[str]
    figures: dict[str, list[RuleFigures]]  # rule set -> per rule (and ALL_RULES last)
    weekly: dict[str, dict[date, int]]  # rule set -> week's Monday -> alerts
    seconds: float
    source: str
    settings: dict[str, dict[str, Any]]

    @property
    def weeks(self) -> float:
        return max((self.end - self.start).total_seconds() / (7 * 86400), 1 / 7)


def run(histories: Iterable[History], rule_sets: Mapping[str, TerritorySettings], *, territory: str,
        start: datetime | None = None, end: datetime, total: int | None = None,
        progress: TextIO | None = None, source: str = "") -> Report:
    """Replay `histories` under `rule_sets` and count (see the module doc)."""
    began = time.perf_counter()
    bar = Progress(f"back-test {territory}", progress, unit="parcours", rate_unit="parcours/s")
    bar.start(total or 0)
    raised: dict[str, list[tuple[ReplayedAlert, bool]]] = {name: [] for name in rule_sets}
    lead: dict[str, dict[str, list[float]]] = {name: defaultdict(list) for name in rule_sets}
    alerted_breaks: dict[str, Counter[str]] = {name: Counter() for name in rule_sets}
    workers: dict[str, set[str]] = defaultdict(set)
    breaks: Counter[str] = Counter()
    first_moment: datetime | None = None
    done = 0
    for history in histories:
        if history.events:
            opened = _aware(history.events[0].occurred_at)
            first_moment = opened if first_moment is None or opened < first_moment else first_moment
        result = replay(history, rule_sets, end)
        for agency, people in result.workers.items():
            workers[agency] |= people
        if result.broke_at is not None:
            breaks[result.break_kind or "?"] += 1
        for name, alerts in result.alerts.items():
            for alert in alerts:
                if start is None or alert.raised_at >= start:
                    raised[name].append((alert, (alert.rule_id, alert.subject) in result.dismissed))
            if result.broke_at is not None:
                before = [a for a in alerts if a.raised_at <= result.broke_at]
                for rule_id in {a.rule_id for a in before} | ({ALL_RULES} if before else set()):
                    first = min(a.raised_at for a in before if rule_id in (ALL_RULES, a.rule_id))
                    alerted_breaks[name][rule_id] += 1
                    lead[name][rule_id].append((result.broke_at - first).total_seconds() / 86400)
        done += 1
        bar.update(done)
    bar.finish()
    window_start = start or first_moment or end
    report = Report(territory=territory, start=window_start, end=end, pathways=done, breaks=breaks,
                    rule_sets=list(rule_sets), figures={}, weekly={}, seconds=0.0, source=source,
                    settings={n: s.model_dump(mode="json", exclude={"agency_names"}) for n, s in rule_sets.items()})
    broken = sum(breaks.values())
    for name in rule_sets:
        rows = []
        for rule_id in [r.rule_id for r in CATALOGUE] + [ALL_RULES]:
            mine = [(a, d) for a, d in raised[name] if rule_id in (ALL_RULES, a.rule_id)]
            owners = {a.owner for a, _ in mine}
            staff = sum(max(1, len(workers.get(o, ()))) for o in owners) or 1
            leads = lead[name].get(rule_id, [])
            rows.append(RuleFigures(
                rule_id=rule_id, alerts=len(mine), per_week=len(mine) / report.weeks,
                per_worker_week=len(mine) / report.weeks / staff,
                dismissed_share=(sum(d for _, d in mine) / len(mine)) if mine else None,
                breaks_alerted_share=(alerted_breaks[name][rule_id] / broken) if broken else None,
                median_lead_days=statistics.median(leads) if leads else None))
        report.figures[name] = rows
        weekly: Counter[date] = Counter()
        for alert, _ in raised[name]:
            day = alert.raised_at.astimezone(UTC).date()
            weekly[day - timedelta(days=day.weekday())] += 1
        report.weekly[name] = dict(sorted(weekly.items()))
    report.seconds = time.perf_counter() - began
    return report


#: Rule-set names in the report.
IN_FORCE, CANDIDATE = "en vigueur", "candidat"


def backtest(territory: str, candidate: TerritorySettings, in_force: TerritorySettings, *,
             synthetic: int | None = None, seed: int = 1, app: Any = None, start: datetime | None = None,
             end: datetime | None = None, progress: TextIO | None = None) -> Report:
    """The candidate rule set beside the one in force, on `synthetic` generated pathways (seen
    from `end`) or on the history of `territory` in `app`'s event store."""
    end = _aware(end or datetime.now(UTC))
    rule_sets = {IN_FORCE: in_force, CANDIDATE: candidate}
    if synthetic is not None:
        histories: Iterable[History] = synthetic_histories(synthetic, seed=seed, territory=territory, now=end)
        source = f"territoire synthétique de {synthetic} parcours (graine {seed})"
    else:
        histories = stored_histories(app, territory)
        source = "historique du magasin d'événements"
    return run(histories, rule_sets, territory=territory, start=start, end=end, total=synthetic,
               progress=progress, source=source)


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %".replace(".", ",")


def _num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}".replace(".", ",")


def markdown(report: Report) -> str:
    """The report in French markdown: one table per rule set, then the differences."""
    names = report.rule_sets
    lines = [f"# Back-test du territoire {report.territory}", "",
             f"- Source : {report.source}; {report.pathways} parcours rejoués.",
             f"- Fenêtre : {report.start:%d/%m/%Y} → {report.end:%d/%m/%Y} ({_num(report.weeks)} semaines).",
             f"- Ruptures : {sum(report.breaks.values())} parcours ("
             + ", ".join(f"{BREAK_LABELS.get(k, k)} {n}" for k, n in sorted(report.breaks.items())) + ").",
             f"- Durée du back-test : {_num(report.seconds)} s.", ""]
    header = ("| règle | alertes | par semaine | par semaine et par professionnel | levées puis écartées "
              "| ruptures précédées d'une alerte | délai médian avant rupture (jours) |")
    for name in names:
        lines += [f"## Jeu de règles « {name} »", "", header, "|---|---:|---:|---:|---:|---:|---:|"]
        for f in report.figures[name]:
            lines.append(f"| {f.rule_id} | {f.alerts} | {_num(f.per_week)} | {_num(f.per_worker_week, 2)} | "
                         f"{_pct(f.dismissed_share)} | {_pct(f.breaks_alerted_share)} | {_num(f.median_lead_days)} |")
        lines.append("")
    if len(names) == 2:
        a, b = names
        lines += [f"## Écart « {b} » − « {a} »", "", "| règle | alertes | ruptures précédées d'une alerte |",
                  "|---|---:|---:|"]
        for fa, fb in zip(report.figures[a], report.figures[b], strict=True):
            share = ("—" if fa.breaks_alerted_share is None or fb.breaks_alerted_share is None
                     else f"{(fb.breaks_alerted_share - fa.breaks_alerted_share) * 100:+.1f} pts".replace(".", ","))
            lines.append(f"| {fa.rule_id} | {fb.alerts - fa.alerts:+d} | {share} |")
        lines.append("")
    return "\n".join(lines)


def csv_text(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["rule_set", "rule_id", "alerts", "alerts_per_week", "alerts_per_worker_week",
                     "dismissed_share", "breaks_alerted_share", "median_lead_days"])
    for name in report.rule_sets:
        for f in report.figures[name]:
            writer.writerow([name, f.rule_id, f.alerts, f"{f.per_week:.3f}", f"{f.per_worker_week:.4f}",
                             "" if f.dismissed_share is None else f"{f.dismissed_share:.4f}",
                             "" if f.breaks_alerted_share is None else f"{f.breaks_alerted_share:.4f}",
                             "" if f.median_lead_days is None else f"{f.median_lead_days:.2f}"])
    return out.getvalue()


_COLOURS = ("#1f5fa8", "#c0392b", "#2e8b57", "#8e44ad")


def svg(report: Report, width: int = 760, height: int = 320) -> str:
    """Alerts per week under each rule set, as an SVG line chart (no library: a few elements)."""
    weeks = sorted({w for series in report.weekly.values() for w in series})
    left, right, top, bottom = 56, 16, 36, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([n for series in report.weekly.values() for n in series.values()] + [1])
    step = plot_w / max(len(weeks) - 1, 1)

    def x(i: int) -> float:
        return left + i * step

    def y(n: int) -> float:
        return top + plot_h - n / peak * plot_h

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
             f'<title>Alertes levées par semaine, territoire {_esc(report.territory)}</title>',
             f'<rect width="{width}" height="{height}" fill="#fff"/>',
             f'<text x="{left}" y="20" font-size="13">Alertes levées par semaine — territoire '
             f'{_esc(report.territory)}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#333"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#333"/>']
    for k in range(5):
        n = round(peak * k / 4)
        parts.append(f'<text x="{left - 6}" y="{y(n) + 4:.1f}" text-anchor="end">{n}</text>')
        parts.append(f'<line x1="{left}" y1="{y(n):.1f}" x2="{left + plot_w}" y2="{y(n):.1f}" stroke="#ddd"/>')
    label_every = max(1, len(weeks) // 8)
    for i, week in enumerate(weeks):
        if i % label_every == 0:
            parts.append(f'<text x="{x(i):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{week:%d/%m/%y}</text>')
    for c, name in enumerate(report.rule_sets):
        series = report.weekly[name]
        points = " ".join(f"{x(i):.1f},{y(series.get(w, 0)):.1f}" for i, w in enumerate(weeks))
        colour = _COLOURS[c % len(_COLOURS)]
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>')
        parts.append(f'<rect x="{left + 10 + c * 220}" y="{height - 16}" width="12" height="4" fill="{colour}"/>')
        parts.append(f'<text x="{left + 28 + c * 220}" y="{height - 11}">{_esc(name)} '
                     f'({sum(series.values())} alertes)</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
