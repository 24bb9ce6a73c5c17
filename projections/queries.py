"""Small query functions over the read-model VIEWS (CLI, tests), and the one cursor codec.

The gateway reads through gateway/readside.py (its own page-batched queries over the same
views) and uses `encode_cursor` / `decode_cursor` from here: one codec for every cursor.

Every function takes an open connection — psycopg (PostgreSQL, with ``search_path`` set to the
read models' schema) or sqlite3 (embedded mode) — and returns plain dicts (column -> value).
Nothing here checks who asks: authorisation (membership, role, consent per category) is the
gateway's job; :func:`consented_categories` and the timeline's ``category`` column are what it
needs for that.

Lists are paginated with opaque cursors (``first`` items ``after`` a cursor; the answer's
``end_cursor`` continues). Ordering is stable: pathways by (opened_at, pathway_id) newest
first, alerts by (raised_at, alert_id) newest first.
"""

from __future__ import annotations

import base64
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from projections.schema import Db

MAX_PAGE = 200
#: Below this many people, a territory count is not shown (statistical secrecy).
SUPPRESSION_THRESHOLD = 5


@dataclass
class Page:
    items: list[dict[str, Any]]
    end_cursor: str | None
    has_next_page: bool


@dataclass
class _Where:
    clauses: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def sql(self) -> str:
        return (" WHERE " + " AND ".join(self.clauses)) if self.clauses else ""


def _dicts(db: Db, text: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cur = db.execute(text, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def encode_cursor(*parts: Any) -> str:
    """An opaque cursor of the sort key of the last item of a page."""
    return base64.urlsafe_b64encode("\x1f".join(str(p) for p in parts).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, n: int) -> list[str]:
    """The ``n`` parts of a cursor; ValueError when it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raise ValueError("curseur invalide") from None
    parts = text.split("\x1f")
    if len(parts) != n:
        raise ValueError("curseur invalide")
    return parts


def _page(rows: list[dict[str, Any]], first: int, key: tuple[str, str]) -> Page:
    more = len(rows) > first
    rows = rows[:first]
    end = encode_cursor(rows[-1][key[0]], rows[-1][key[1]]) if rows else None
    return Page(rows, end, more)


def _first(first: int) -> int:
    if first < 1:
        raise ValueError("first doit être >= 1")
    return min(first, MAX_PAGE)


def _in(column: str, values: Sequence[Any]) -> str:
    return f"{column} IN ({', '.join(['%s'] * len(values))})"


# --------------------------------------------------------------------------- pathways


def pathways(conn: Any, *, kind: str | None = None, territory: str | None = None, agency: str | None = None,
             state: str | None = None, has_open_alert: bool | None = None, first: int = 50,
             after: str | None = None) -> Page:
    """Pathway summaries (``pathway_summary`` columns), newest opened first. ``agency``: only
    pathways that agency takes part in (``caseload_participants``)."""
    db, first, where = Db.of(conn), _first(first), _Where()
    if kind is not None:
        where.add("s.kind = %s", kind)
    if territory is not None:
        where.add("s.territory = %s", territory)
    if state is not None:
        where.add("s.state = %s", state)
    if has_open_alert is not None:
        where.add("s.open_alerts_count > 0" if has_open_alert else "s.open_alerts_count = 0")
    if agency is not None:
        where.add("EXISTS (SELECT 1 FROM caseload_participants a WHERE a.pathway_id = s.pathway_id "
                  "AND a.agency = %s)", agency)
    if after is not None:
        opened_at, pid = decode_cursor(after, 2)
        where.add("(s.opened_at < %s OR (s.opened_at = %s AND s.pathway_id < %s))", opened_at, opened_at, pid)
    rows = _dicts(db, f"SELECT s.* FROM pathway_summary s{where.sql()} "
                      f"ORDER BY s.opened_at DESC, s.pathway_id DESC LIMIT {first + 1}", where.params)
    return _page(rows, first, ("opened_at", "pathway_id"))


def pathway_summary(conn: Any, pathway_id: str) -> dict[str, Any] | None:
    rows = _dicts(Db.of(conn), "SELECT * FROM pathway_summary WHERE pathway_id = %s", (str(pathway_id),))
    return rows[0] if rows else None


def pathway_summaries(conn: Any, pathway_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Several summaries in one query (for DataLoaders)."""
    ids = [str(p) for p in pathway_ids]
    if not ids:
        return {}
    rows = _dicts(Db.of(conn), f"SELECT * FROM pathway_summary WHERE {_in('pathway_id', ids)}", ids)
    return {r["pathway_id"]: r for r in rows}


def needs(conn: Any, pathway_ids: Sequence[str], *, open_only: bool = True) -> dict[str, list[dict[str, Any]]]:
    """Needs per pathway (``pathway_summary_needs`` columns), oldest first."""
    ids = [str(p) for p in pathway_ids]
    out: dict[str, list[dict[str, Any]]] = {p: [] for p in ids}
    if not ids:
        return out
    status = " AND status = 'open'" if open_only else ""
    for row in _dicts(Db.of(conn), f"SELECT * FROM pathway_summary_needs WHERE {_in('pathway_id', ids)}{status} "
                                   "ORDER BY recorded_at, need_id", ids):
        out[row["pathway_id"]].append(row)
    return out


def actions(conn: Any, pathway_ids: Sequence[str], *, open_only: bool = False) -> dict[str, list[dict[str, Any]]]:
    """Case-conference actions per pathway (``pathway_summary_actions`` columns), by due date."""
    ids = [str(p) for p in pathway_ids]
    out: dict[str, list[dict[str, Any]]] = {p: [] for p in ids}
    if not ids:
        return out
    done = " AND done = 0" if open_only else ""
    for row in _dicts(Db.of(conn), f"SELECT * FROM pathway_summary_actions WHERE {_in('pathway_id', ids)}{done} "
                                   "ORDER BY due_on, action_id", ids):
        out[row["pathway_id"]].append(row)
    return out


# --------------------------------------------------------------------------- timeline


def timeline(conn: Any, pathway_id: str, *, categories: Iterable[str] | None = None,
             order: str = "occurred") -> list[dict[str, Any]]:
    """The pathway's events (``timeline`` columns). ``categories``: only rows of those
    information categories (what the caller may see); ``order``: ``occurred`` (when it
    happened, then recording order) or ``recorded``."""
    where = _Where()
    where.add("pathway_id = %s", str(pathway_id))
    if categories is not None:
        cats = sorted(set(categories))
        if not cats:
            return []
        where.add(_in("category", cats), *cats)
    order_by = "occurred_at, seq" if order == "occurred" else "seq"
    return _dicts(Db.of(conn), f"SELECT * FROM timeline{where.sql()} ORDER BY {order_by}", where.params)


# --------------------------------------------------------------------------- caseload


def caseload_by_agency(conn: Any, agency: str, *, state: str | None = "open", first: int = 50,
                       after: str | None = None) -> Page:
    """The pathways ``agency`` takes part in, with its role there (``caseload_pathways``
    columns + ``role``), newest opened first."""
    db, first, where = Db.of(conn), _first(first), _Where()
    where.add("c.agency = %s", agency)
    if state is not None:
        where.add("p.state = %s", state)
    if after is not None:
        opened_at, pid = decode_cursor(after, 2)
        where.add("(p.opened_at < %s OR (p.opened_at = %s AND p.pathway_id < %s))", opened_at, opened_at, pid)
    rows = _dicts(db, "SELECT p.*, c.role FROM caseload_participants c JOIN caseload_pathways p "
                      f"ON p.pathway_id = c.pathway_id{where.sql()} "
                      f"ORDER BY p.opened_at DESC, p.pathway_id DESC LIMIT {first + 1}", where.params)
    return _page(rows, first, ("opened_at", "pathway_id"))


def caseload_by_professional(conn: Any, professional: str, *, state: str | None = "open", first: int = 50,
                             after: str | None = None) -> Page:
    """The pathways whose last actor is ``professional`` (pseudonymous id), newest opened first."""
    db, first, where = Db.of(conn), _first(first), _Where()
    where.add("last_professional = %s", professional)
    if state is not None:
        where.add("state = %s", state)
    if after is not None:
        opened_at, pid = decode_cursor(after, 2)
        where.add("(opened_at < %s OR (opened_at = %s AND pathway_id < %s))", opened_at, opened_at, pid)
    rows = _dicts(db, f"SELECT * FROM caseload_pathways{where.sql()} "
                      f"ORDER BY opened_at DESC, pathway_id DESC LIMIT {first + 1}", where.params)
    return _page(rows, first, ("opened_at", "pathway_id"))


def caseload_counts(conn: Any, *, territory: str | None = None) -> list[dict[str, Any]]:
    """Open pathways per agency and role: rows (agency, role, open_pathways)."""
    where = _Where()
    where.add("p.state = 'open'")
    if territory is not None:
        where.add("p.territory = %s", territory)
    return _dicts(Db.of(conn), "SELECT c.agency, c.role, COUNT(*) AS open_pathways FROM caseload_participants c "
                               f"JOIN caseload_pathways p ON p.pathway_id = c.pathway_id{where.sql()} "
                               "GROUP BY c.agency, c.role ORDER BY c.agency, c.role", where.params)


# --------------------------------------------------------------------------- alerts


def alerts(conn: Any, *, owner_agency: str | None = None, pathway_ids: Sequence[str] | None = None,
           territory: str | None = None, is_open: bool | None = None, rule_id: str | None = None,
           first: int = 100, after: str | None = None) -> Page:
    """Alerts (``alerts`` columns; ``triggering_event_ids`` is a JSON list), newest raised first."""
    db, first, where = Db.of(conn), _first(first), _Where()
    if owner_agency is not None:
        where.add("owner_agency = %s", owner_agency)
    if pathway_ids is not None:
        ids = [str(p) for p in pathway_ids]
        if not ids:
            return Page([], None, False)
        where.add(_in("pathway_id", ids), *ids)
    if territory is not None:
        where.add("territory = %s", territory)
    if is_open is not None:
        where.add("is_open = %s", 1 if is_open else 0)
    if rule_id is not None:
        where.add("rule_id = %s", rule_id)
    if after is not None:
        raised_at, aid = decode_cursor(after, 2)
        where.add("(raised_at < %s OR (raised_at = %s AND alert_id < %s))", raised_at, raised_at, aid)
    rows = _dicts(db, f"SELECT * FROM alerts{where.sql()} ORDER BY raised_at DESC, alert_id DESC LIMIT {first + 1}",
                  where.params)
    return _page(rows, first, ("raised_at", "alert_id"))


def alert_history(conn: Any, alert_id: str) -> list[dict[str, Any]]:
    """raised / acknowledged / escalated / resolved steps of one alert (``alert_history``)."""
    return _dicts(Db.of(conn), "SELECT * FROM alert_history WHERE alert_id = %s ORDER BY at, event_id",
                  (str(alert_id),))


def alert_dismissals(conn: Any, *, territory: str | None = None) -> list[dict[str, Any]]:
    """Alerts dismissed by their owners, per (territory, rule, reason) (``alert_dismissals``)."""
    where = _Where()
    if territory is not None:
        where.add("territory = %s", territory)
    return _dicts(Db.of(conn), f"SELECT * FROM alert_dismissals{where.sql()} ORDER BY territory, rule_id, reason",
                  where.params)


# --------------------------------------------------------------------------- referrals


def referrals(conn: Any, *, pathway_ids: Sequence[str] | None = None, to_agency: str | None = None,
              territory: str | None = None) -> list[dict[str, Any]]:
    """Referrals and GP orientations with their loop (``referrals`` columns), oldest first."""
    where = _Where()
    if pathway_ids is not None:
        ids = [str(p) for p in pathway_ids]
        if not ids:
            return []
        where.add(_in("pathway_id", ids), *ids)
    if to_agency is not None:
        where.add("to_agency = %s", to_agency)
    if territory is not None:
        where.add("territory = %s", territory)
    return _dicts(Db.of(conn), f"SELECT * FROM referrals{where.sql()} ORDER BY made_at, referral_id", where.params)


def referral_steps(conn: Any, referral_id: str) -> list[dict[str, Any]]:
    return _dicts(Db.of(conn), "SELECT * FROM referral_steps WHERE referral_id = %s ORDER BY at, event_id",
                  (str(referral_id),))


# --------------------------------------------------------------------------- consent


def consented_categories(conn: Any, pathway_id: str, agency: str) -> set[str]:
    """The information categories ``agency`` may see on ``pathway_id`` by the person's consent."""
    rows = Db.of(conn).fetchall("SELECT category FROM consents WHERE pathway_id = %s AND agency = %s "
                                "AND status = 'granted'", (str(pathway_id), agency))
    return {r[0] for r in rows}


def consents(conn: Any, pathway_ids: Sequence[str]) -> dict[str, dict[str, set[str]]]:
    """pathway -> agency -> granted categories (for a page of pathways in one query)."""
    ids = [str(p) for p in pathway_ids]
    out: dict[str, dict[str, set[str]]] = {p: {} for p in ids}
    if not ids:
        return out
    for pid, agency, category in Db.of(conn).fetchall(
        f"SELECT pathway_id, agency, category FROM consents WHERE {_in('pathway_id', ids)} AND status = 'granted'", ids
    ):
        out[pid].setdefault(agency, set()).add(category)
    return out


# --------------------------------------------------------------------------- territory

INDICATOR_FR = {
    "pathway_opened": "Parcours ouverts",
    "orientation_made": "Orientations réalisées",
    "orientation_reached": "Personnes jointes lors du suivi de l'orientation",
    "orientation_honoured": "Orientations honorées",
    "orientation_not_honoured": "Orientations non honorées",
    "delay_housing_days": "Délai médian jusqu'à l'hébergement (jours)",
    "delay_gp_days": "Délai médian jusqu'au médecin traitant (jours)",
    "alert_raised": "Alertes de risque de rupture",
}
#: Indicators broken down by their detail (the rule of an alert, the reason of a failure).
BROKEN_DOWN = {"alert_raised", "orientation_not_honoured"}
_DELAYS = ("delay_housing_days", "delay_gp_days")


def territory_indicators(conn: Any, territory: str, *, threshold: int = SUPPRESSION_THRESHOLD) -> dict[str, Any]:
    """Every de-identified indicator of ``territory``, small counts suppressed together.

    Returns ``{"territory", "threshold", "pathways", "alerts", "orientations", "monthly"}``:

    * ``pathways``: ``opened`` (all time), ``by_kind``, ``open``, ``closed``, ``closed_by_outcome``;
    * ``alerts``: ``open``, ``open_by_rule``, ``raised`` (all time), ``raised_by_rule``;
    * ``orientations`` (referrals and GP orientations together, the MdM Rouen funnel): ``made``,
      ``reached`` (at the follow-up call, or the outcome is known), ``honoured``,
      ``not_honoured``, ``not_honoured_by_reason``;
    * ``monthly``: rows (territory, month ``AAAA-MM``, indicator — see ``INDICATOR_FR`` —,
      label, detail — the rule / the reason in a breakdown, else None —, count, median_days for
      delays, suppressed).

    A breakdown is a list of ``{"key", "count"}`` (keys with a count above 0 only). A count
    is None when suppressed: below ``threshold`` (primary), or because it would let a
    suppressed count be worked out from the other figures of the answer — the totals, the
    other cells, the months, the funnel stages (complementary; :mod:`projections.suppression`).
    Zeros are shown.
    """
    from projections.suppression import Sum, suppress

    db = Db.of(conn)
    values: dict[tuple[Any, ...], int] = {}
    sums: list[Sum] = []
    published: list[tuple[Any, ...]] = []

    def cell(key: tuple[Any, ...], n: int, *, shown: bool = True) -> tuple[Any, ...]:
        values[key] = values.get(key, 0) + n
        if shown and key not in published:
            published.append(key)
        return key

    def total_of(key: tuple[Any, ...], parts: Iterable[tuple[Any, ...]], *, shown: bool = True) -> tuple[Any, ...]:
        parts = tuple(parts)
        cell(key, sum(values[p] for p in parts), shown=shown)
        sums.append(Sum(key, parts))
        return key

    # --- pathways: by kind, by state, closed by outcome (current state of the working sets)
    kinds = [cell(("pathways", "kind", k), n) for k, n in db.fetchall(
        "SELECT kind, COUNT(*) FROM territory_pathways WHERE territory = %s GROUP BY kind ORDER BY kind",
        (territory,))]
    opened = total_of(("pathways", "opened"), kinds)
    outcomes = [cell(("pathways", "outcome", k), n) for k, n in db.fetchall(
        "SELECT outcome, COUNT(*) FROM territory_closed WHERE territory = %s GROUP BY outcome ORDER BY outcome",
        (territory,))]
    closed = total_of(("pathways", "closed"), outcomes)
    open_ = cell(("pathways", "open"), values[opened] - values[closed])
    sums.append(Sum(opened, (open_, closed)))

    # --- alerts open now, by rule
    rules = [cell(("alerts", "open_rule", r), n) for r, n in db.fetchall(
        "SELECT rule_id, COUNT(*) FROM territory_open_alerts WHERE territory = %s GROUP BY rule_id ORDER BY rule_id",
        (territory,))]
    open_alerts = total_of(("alerts", "open"), rules)

    # --- monthly facts (and the all-time totals they add up to)
    counts: dict[tuple[str, str, str | None], int] = {}
    for month, metric, detail, n in db.fetchall(
        "SELECT month, metric, detail, COUNT(*) FROM territory_facts WHERE territory = %s "
        "GROUP BY month, metric, detail", (territory,)
    ):
        key = (month, metric, (detail or "other") if metric in BROKEN_DOWN else None)
        counts[key] = counts.get(key, 0) + n
    delays: dict[tuple[str, str], list[float]] = {}
    for month, metric, value in db.fetchall(
        f"SELECT month, metric, value FROM territory_facts WHERE territory = %s AND {_in('metric', _DELAYS)}",
        (territory, *_DELAYS)
    ):
        if value is not None:
            delays.setdefault((month, metric), []).append(value)
    months = sorted({m for m, _, _ in counts})
    metrics = sorted({metric for _, metric, _ in counts})
    monthly: dict[tuple[str, str], tuple[Any, ...]] = {}  # (month, metric) -> its cell
    for month in months:
        for metric in metrics:
            details = sorted(d for m, x, d in counts if m == month and x == metric and d is not None)
            if metric in BROKEN_DOWN:
                if details:
                    parts = [cell(("m", month, metric, d), counts[(month, metric, d)]) for d in details]
                    monthly[(month, metric)] = total_of(("m", month, metric, None), parts)
            elif (month, metric, None) in counts:
                monthly[(month, metric)] = cell(("m", month, metric, None), counts[(month, metric, None)])

    def all_time(metric: str, key: tuple[Any, ...]) -> tuple[Any, ...]:
        return total_of(key, [monthly[(m, metric)] for m in months if (m, metric) in monthly])

    sums.append(Sum(opened, tuple(monthly[(m, "pathway_opened")] for m in months if (m, "pathway_opened") in monthly)))
    raised = all_time("alert_raised", ("alerts", "raised"))
    raised_rules = []
    for rule in sorted({d for _, x, d in counts if x == "alert_raised" and d is not None}):
        raised_rules.append(total_of(("alerts", "raised_rule", rule),
                                     [("m", m, "alert_raised", rule) for m in months
                                      if ("m", m, "alert_raised", rule) in values]))
    sums.append(Sum(raised, tuple(raised_rules)))
    made = all_time("orientation_made", ("orientations", "made"))
    reached = all_time("orientation_reached", ("orientations", "reached"))
    honoured = all_time("orientation_honoured", ("orientations", "honoured"))
    not_honoured = all_time("orientation_not_honoured", ("orientations", "not_honoured"))
    reasons = []
    for reason in sorted({d for _, x, d in counts if x == "orientation_not_honoured" and d is not None}):
        reasons.append(total_of(("orientations", "reason", reason),
                                [("m", m, "orientation_not_honoured", reason) for m in months
                                 if ("m", m, "orientation_not_honoured", reason) in values]))
    sums.append(Sum(not_honoured, tuple(reasons)))
    # The funnel's differences are never shown, but could be computed: they are cells too.
    not_reached = cell(("orientations", "not_reached"), values[made] - values[reached], shown=False)
    sums.append(Sum(made, (reached, not_reached)))
    pending = cell(("orientations", "pending"), values[reached] - values[honoured] - values[not_honoured], shown=False)
    sums.append(Sum(reached, (honoured, not_honoured, pending)))
    for month in months:  # a GP visit's delay is one of the month's honoured orientations
        if (month, "delay_gp_days") in monthly:
            rest = cell(("m", month, "orientation_honoured", "not_gp"),
                        values.get(("m", month, "orientation_honoured", None), 0)
                        - values[monthly[(month, "delay_gp_days")]], shown=False)
            sums.append(Sum(("m", month, "orientation_honoured", None), (monthly[(month, "delay_gp_days")], rest)))

    hidden = suppress(values, sums, published, threshold)

    def count(key: tuple[Any, ...]) -> int | None:
        return None if key in hidden else values.get(key, 0)

    def listing(keys: Iterable[tuple[Any, ...]]) -> list[dict[str, Any]]:
        return [{"key": k[-1], "count": count(k)} for k in keys]

    rows = []
    for month in months:
        for metric in metrics:
            keys = [k for k in published if k[:3] == ("m", month, metric)]
            for key in sorted(keys, key=lambda k: k[3] or ""):
                spread = delays.get((month, metric)) if key[3] is None else None
                rows.append({
                    "territory": territory, "month": month, "indicator": metric,
                    "label": INDICATOR_FR.get(metric, metric), "detail": key[3], "count": count(key),
                    "median_days": (round(statistics.median(spread), 1) if spread and key not in hidden
                                    else None),
                    "suppressed": key in hidden,
                })
    return {
        "territory": territory, "threshold": threshold,
        "pathways": {"opened": count(opened), "by_kind": listing(kinds), "open": count(open_),
                     "closed": count(closed), "closed_by_outcome": listing(outcomes)},
        "alerts": {"open": count(open_alerts), "open_by_rule": listing(rules), "raised": count(raised),
                   "raised_by_rule": listing(raised_rules)},
        "orientations": {"made": count(made), "reached": count(reached), "honoured": count(honoured),
                         "not_honoured": count(not_honoured), "not_honoured_by_reason": listing(reasons)},
        "monthly": rows,
    }
