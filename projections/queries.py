"""What the gateway reads: small query functions over the read-model VIEWS.

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
    return base64.urlsafe_b64encode("\x1f".join(str(p) for p in parts).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, n: int) -> list[str]:
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
    pathways that agency takes part in."""
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
        where.add("EXISTS (SELECT 1 FROM pathway_summary_agencies a WHERE a.pathway_id = s.pathway_id "
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


def participants(conn: Any, pathway_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    """agency -> role, per pathway (``caseload_participants``)."""
    ids = [str(p) for p in pathway_ids]
    out: dict[str, dict[str, str]] = {p: {} for p in ids}
    if not ids:
        return out
    for row in _dicts(Db.of(conn), f"SELECT pathway_id, agency, role FROM caseload_participants "
                                   f"WHERE {_in('pathway_id', ids)} ORDER BY agency", ids):
        out[row["pathway_id"]][row["agency"]] = row["role"]
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
    "orientation_honoured": "Orientations honorées",
    "orientation_not_honoured": "Orientations non honorées",
    "delay_housing_days": "Délai médian jusqu'à l'hébergement (jours)",
    "delay_gp_days": "Délai médian jusqu'au médecin traitant (jours)",
    "alert_raised": "Alertes de risque de rupture",
}
#: Indicators broken down by their detail (the rule of an alert, the reason of a failure).
BROKEN_DOWN = {"alert_raised", "orientation_not_honoured"}


def territory_indicators(conn: Any, territory: str, *, threshold: int = SUPPRESSION_THRESHOLD,
                         months: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """De-identified indicators of ``territory`` per month (``AAAA-MM``).

    Rows: territory, month, indicator (see ``INDICATOR_FR``), label (French), detail (the rule
    of an alert / the reason of a failed orientation, else None), count, median_days (delay
    indicators only), suppressed. A count below ``threshold`` (but above 0) is suppressed:
    count and median are None. In a breakdown where exactly one cell is suppressed, the next
    smallest is suppressed too, so that it cannot be recovered from the total.
    """
    db, where = Db.of(conn), _Where()
    where.add("territory = %s", territory)
    if months is not None:
        ms = list(months)
        if not ms:
            return []
        where.add(_in("month", ms), *ms)
    facts = db.fetchall(f"SELECT month, metric, detail, value FROM territory_facts{where.sql()}", where.params)
    groups: dict[tuple[str, str, str | None], list[float | None]] = {}
    for month, metric, detail, value in facts:
        groups.setdefault((month, metric, None), []).append(value)
        if metric in BROKEN_DOWN:
            groups.setdefault((month, metric, detail or "autre"), []).append(value)
    rows = []
    for (month, metric, detail), values in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "")):
        count = len(values)
        delays = [v for v in values if v is not None]
        rows.append({
            "territory": territory, "month": month, "indicator": metric,
            "label": INDICATOR_FR.get(metric, metric), "detail": detail, "count": count,
            "median_days": round(statistics.median(delays), 1) if delays and metric.startswith("delay_") else None,
            "suppressed": 0 < count < threshold,
        })
    # complementary suppression inside each breakdown
    by_breakdown: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        if row["detail"] is not None:
            by_breakdown.setdefault((row["month"], row["indicator"]), []).append(row)
    for cells in by_breakdown.values():
        hidden = [c for c in cells if c["suppressed"]]
        shown = sorted((c for c in cells if not c["suppressed"]), key=lambda c: c["count"])
        if len(hidden) == 1 and shown:
            shown[0]["suppressed"] = True
    for row in rows:
        if row["suppressed"]:
            row["count"] = None
            row["median_days"] = None
    return rows
