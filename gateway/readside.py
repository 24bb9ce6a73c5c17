"""The gateway's read side: every query answered from the projections' read models.

One connection factory (`Connect`: a context manager giving a psycopg connection whose
`search_path` includes the read models' schema, or an sqlite3 connection to the embedded
read-model file, or the in-memory replay of `asOf`), and small functions over it:

* `ReadSide.records(ids)` — everything the gateway's `Pathway` shows, for a whole page of
  pathways in ONE query per table (`pathway_summary*`, `referrals`, `alerts`,
  `caseload_participants`, `consents`);
* `ReadSide.pathways / caseload / alerts` — which ids a list shows, filters applied in SQL
  before the page is cut, with the total count;
* `ReadSide.timeline` — the `timeline` read model (its label and category columns);
* `ReadSide.wait_for` — read-your-writes: wait until the projections a read reads have
  applied a version of a pathway (their `<projection>_applied` tables, written in the same
  transaction as their rows);
* `replay(events)` — `asOf`: a pathway's stored events up to a date, encoded as the relay
  puts them on the wire, applied by the same projections to an in-memory SQLite database,
  read by this same class.

Every function here is blocking: the resolvers call them through `ReadSide.call`, which runs
them in a worker thread, or directly when the read models are a local SQLite file
(`ReadSide.local`: a WAL read of a local file never waits on the network nor on the writer,
and a thread hop per read costs more than the read on a busy machine).
Nothing here authorises: gateway.permissions decides on `PathwayRecord.access`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import threading
import time
from datetime import datetime, timedelta, timezone
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import UUID

from domain.values import InformationCategory, ParticipantRole
from gateway.hardening import PublicError
from gateway.permissions import PathwayAccess
from projections.base import APPLIED, PathwayEvent, utc_iso
from projections.queries import MAX_PAGE, decode_cursor, encode_cursor
from projections.schema import Db

Connect = Callable[[], AbstractContextManager[Any]]
T = TypeVar("T")

#: The projections each read reads: what `atLeastVersion` waits for.
ACCESS_PROJECTIONS = ("caseload", "consents")  # membership and consent: every decision
PATHWAY_PROJECTIONS = ("pathway_summary", "referrals", "alerts", *ACCESS_PROJECTIONS)
TIMELINE_PROJECTIONS = ("timeline", *ACCESS_PROJECTIONS)
ALERT_PROJECTIONS = ("alerts", *ACCESS_PROJECTIONS)

#: Severity as a number in SQL (critical first when sorted descending).
SEVERITY_RANK_SQL = ("CASE {col} WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' THEN 2 "
                     "WHEN 'low' THEN 1 ELSE 0 END")
#: A pathway without a next milestone sorts after every dated one.
NO_DATE = "9999-12-31"


class NotAppliedYet(PublicError):
    """The read models did not reach the version asked within the deadline."""

    def __init__(self, version: int) -> None:
        super().__init__(f"Les vues de lecture n'ont pas encore pris en compte la version {version} de ce parcours "
                         "dans le délai imparti : réessayez dans un instant.", "VERSION_NOT_YET_READABLE")


@dataclass
class PathwayRecord:
    """One pathway as the read models hold it: the summary row and its lists (dict rows)."""

    summary: dict[str, Any]
    participants: dict[str, str] = field(default_factory=dict)
    consents: dict[str, set[str]] = field(default_factory=dict)
    objections: dict[str, set[str]] = field(default_factory=dict)
    emergency: dict[str, datetime] = field(default_factory=dict)
    consent_version: int = 0
    needs: list[dict[str, Any]] = field(default_factory=list)
    referrals: list[dict[str, Any]] = field(default_factory=list)
    appointments: list[dict[str, Any]] = field(default_factory=list)
    coverage: list[dict[str, Any]] = field(default_factory=list)
    housing: list[dict[str, Any]] = field(default_factory=list)
    conferences: list[dict[str, Any]] = field(default_factory=list)
    presence: list[dict[str, Any]] = field(default_factory=list)  # confirmed presences at conferences
    actions: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    treatments: list[dict[str, Any]] = field(default_factory=list)
    facts: dict[str, str | None] = field(default_factory=dict)

    @property
    def pathway_id(self) -> UUID:
        return UUID(str(self.summary["pathway_id"]))

    @property
    def access(self) -> PathwayAccess:
        return access_of(AccessRows(self.participants, self.consents, self.objections, self.emergency,
                                    self.consent_version))


@dataclass
class AccessRows:
    """One pathway's rows of the access read models (caseload participants, consents)."""

    participants: dict[str, str] = field(default_factory=dict)
    consents: dict[str, set[str]] = field(default_factory=dict)
    objections: dict[str, set[str]] = field(default_factory=dict)
    #: Emergency overrides in force: professional -> when it ends.
    emergency: dict[str, datetime] = field(default_factory=dict)
    consent_version: int = 0


def access_of(rows: AccessRows) -> PathwayAccess:
    def categories(held: dict[str, set[str]]) -> dict[str, list[InformationCategory]]:
        return {a: [InformationCategory(c) for c in sorted(cs)] for a, cs in held.items()}

    return PathwayAccess(participants={a: ParticipantRole(r) for a, r in rows.participants.items()},
                         consents=categories(rows.consents), objections=categories(rows.objections),
                         emergency=dict(rows.emergency), consent_version=rows.consent_version)


@dataclass
class Page:
    """Ids of one page, their cursors, and the count of everything the filters match."""

    ids: list[UUID]
    cursors: list[str]
    has_next_page: bool
    total_count: int

    @property
    def end_cursor(self) -> str | None:
        return self.cursors[-1] if self.cursors else None


@dataclass
class AlertPage:
    rows: list[dict[str, Any]]  # `alerts` rows, in page order
    cursors: list[str]
    has_next_page: bool
    total_count: int
    #: status -> how many alerts the same filters find in that status (the status filter aside).
    counts_by_status: dict[str, int] = field(default_factory=dict)

    @property
    def end_cursor(self) -> str | None:
        return self.cursors[-1] if self.cursors else None


def _rows(db: Db, text: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    cur = db.execute(text, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _in(column: str, values: Sequence[Any]) -> str:
    return f"{column} IN ({', '.join(['%s'] * len(values))})"


def _with_triggers(db: Db, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each alert row with `triggering_events`: its triggering event ids, in order, each with
    its `timeline` row (None while the timeline has not applied it); one query for all."""
    ids_of: dict[int, list[str]] = {}
    for index, row in enumerate(alerts):
        raw = row.get("triggering_event_ids")
        ids_of[index] = [str(i) for i in (json.loads(raw) if isinstance(raw, str) else raw or [])]
    ids = sorted({i for found in ids_of.values() for i in found})
    pids = sorted({str(row["pathway_id"]) for row in alerts})
    found: dict[tuple[str, str], dict[str, Any]] = {}
    if ids:
        for r in _rows(db, "SELECT event_id, pathway_id, seq, event_type, category, label, occurred_at FROM timeline "
                           f"WHERE {_in('pathway_id', pids)} AND {_in('event_id', ids)}", [*pids, *ids]):
            found[(r["pathway_id"], r["event_id"])] = r
    for index, row in enumerate(alerts):
        row["triggering_events"] = [(i, found.get((str(row["pathway_id"]), i))) for i in ids_of[index]]
    return alerts


def _first(first: int) -> int:
    return max(1, min(first, MAX_PAGE))


def _cursor(after: str | None, parts: int) -> list[str] | None:
    if after is None:
        return None
    try:
        return decode_cursor(after, parts)
    except ValueError:
        raise PublicError("Curseur « after » invalide.", "BAD_CURSOR") from None


class ReadSide:
    """The read models behind one connection factory. `poll_s`: first pause of `wait_for`."""

    def __init__(self, connect: Connect, *, wait_timeout_s: float = 5.0, poll_s: float = 0.005,
                 local: bool | None = None, emergency_access: timedelta = timedelta(hours=4)) -> None:
        self.connect = connect
        #: How long an emergency override (bris de glace) lasts (setting emergency_access_minutes).
        self.emergency_access = emergency_access
        self.wait_timeout_s = wait_timeout_s
        self.poll_s = poll_s
        #: Reads served on the caller's thread (see the module docstring): by default, when
        #: `connect` says so (sqlite_readmodels, the asOf replay).
        self.local = bool(getattr(connect, "local", False)) if local is None else local

    async def call(self, read: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """`read(*args, **kwargs)` (a blocking method of this class) from the event loop: in a
        worker thread, or directly when the read models are local."""
        if self.local:
            return read(*args, **kwargs)
        return await asyncio.to_thread(read, *args, **kwargs)

    @contextlib.contextmanager
    def _db(self) -> Iterator[Db]:
        try:
            with self.connect() as conn:
                yield Db.of(conn)
        except PublicError:
            raise
        except Exception as error:
            text = str(error).lower()
            if "no such table" in text or "does not exist" in text:  # projections never ran here
                raise PublicError("Données indisponibles : les vues de lecture ne sont pas encore construites "
                                  "(relais projections run).", "UNAVAILABLE") from None
            raise

    # ------------------------------------------------------------------ whole pathways
    def records(self, ids: Iterable[UUID | str]) -> dict[UUID, PathwayRecord]:
        """Every pathway of `ids` the read models know, one query per table for them all."""
        wanted = list(dict.fromkeys(str(i) for i in ids))
        if not wanted:
            return {}
        where = _in("pathway_id", wanted)
        with self._db() as db:
            found = {r["pathway_id"]: PathwayRecord(summary=r)
                     for r in _rows(db, f"SELECT * FROM pathway_summary WHERE {where}", wanted)}
            if not found:
                return {}

            def each(table: str, order: str, attribute: str) -> None:
                for row in _rows(db, f"SELECT * FROM {table} WHERE {where} ORDER BY {order}", wanted):
                    record = found.get(row["pathway_id"])
                    if record is not None:
                        getattr(record, attribute).append(row)

            each("pathway_summary_needs", "recorded_at, need_id", "needs")
            each("referrals", "made_at, referral_id", "referrals")
            each("pathway_summary_appointments", "scheduled_at, appointment_id", "appointments")
            each("pathway_summary_coverage", "scheme", "coverage")
            each("pathway_summary_housing", "requested_at, request_id", "housing")
            each("pathway_summary_conferences", "held_at, conference_id", "conferences")
            each("pathway_summary_presence", "confirmed_at, agency", "presence")
            each("pathway_summary_actions", "assigned_at, action_id", "actions")
            each("alerts", "raised_at, alert_id", "alerts")
            _with_triggers(db, [a for record in found.values() for a in record.alerts])
            each("pathway_summary_treatments", "recorded_at, treatment_id", "treatments")
            for row in _rows(db, f"SELECT pathway_id, name, value FROM pathway_summary_facts WHERE {where}", wanted):
                if row["pathway_id"] in found:
                    found[row["pathway_id"]].facts[row["name"]] = row["value"]
            for pid, rows in self._access(db, list(found)).items():
                record = found[pid]
                record.participants, record.consents, record.objections = (rows.participants, rows.consents,
                                                                           rows.objections)
                record.emergency, record.consent_version = rows.emergency, rows.consent_version
        return {UUID(pid): record for pid, record in found.items()}

    def access(self, ids: Iterable[UUID | str]) -> dict[UUID, PathwayAccess]:
        """Membership and consent of each pathway (the current read models)."""
        wanted = list(dict.fromkeys(str(i) for i in ids))
        with self._db() as db:
            return {UUID(pid): access_of(rows) for pid, rows in self._access(db, wanted).items()}

    def _access(self, db: Db, ids: list[str]) -> dict[str, AccessRows]:
        out = {pid: AccessRows() for pid in ids}
        if not ids:
            return out
        where = _in("pathway_id", ids)
        for pid, agency, role in db.fetchall(f"SELECT pathway_id, agency, role FROM caseload_participants "
                                             f"WHERE {where} ORDER BY agency", ids):
            out[pid].participants[agency] = role
        for pid, agency, category, status in db.fetchall(
                f"SELECT pathway_id, agency, category, status FROM consents WHERE {where} "
                "AND status IN ('granted', 'objected')", ids):
            held = out[pid].consents if status == "granted" else out[pid].objections
            held.setdefault(agency, set()).add(category)
        for pid, version in db.fetchall(f"SELECT pathway_id, version FROM consent_versions WHERE {where}", ids):
            out[pid].consent_version = int(version)
        # An override counts from when it was opened (a late entry counts from then too).
        since = datetime.now(timezone.utc) - self.emergency_access
        for pid, professional, opened_at in db.fetchall(
                f"SELECT pathway_id, professional, opened_at FROM emergency_accesses WHERE {where} "
                "AND opened_at >= %s", [*ids, utc_iso(since)]):
            until = datetime.fromisoformat(str(opened_at)) + self.emergency_access
            held = out[pid].emergency
            held[professional] = max(until, held.get(professional, until))
        return out

    def emergency_accesses(self, *, lead_agency: str | None = None, agency: str | None = None,
                           limit: int = 100) -> list[dict[str, Any]]:
        """The emergency overrides, newest first, each with when it ends (`until`): those on
        the pathways `lead_agency` leads, or those `agency`'s professionals opened, or all."""
        clauses: list[str] = []
        params: list[Any] = []
        if lead_agency is not None:
            clauses.append("pathway_id IN (SELECT pathway_id FROM pathway_summary WHERE lead_agency = %s)")
            params.append(lead_agency)
        if agency is not None:
            clauses.append("agency = %s")
            params.append(agency)
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        with self._db() as db:
            rows = _rows(db, f"SELECT * FROM emergency_accesses{where} ORDER BY opened_at DESC, event_id LIMIT %s",
                         [*params, limit])
        for row in rows:
            row["until"] = (datetime.fromisoformat(str(row["opened_at"])) + self.emergency_access).isoformat()
        return rows

    # ------------------------------------------------------------------ lists
    def pathways(self, *, agency: str, kind: str | None = None, territory: str | None = None,
                 other_agency: str | None = None, state: str | None = None, has_open_alert: bool | None = None,
                 first: int = 20, after: str | None = None) -> Page:
        """The pathways `agency` takes part in, filtered, newest opened first (then id)."""
        first, decoded = _first(first), _cursor(after, 2)
        clauses = ["EXISTS (SELECT 1 FROM caseload_participants c WHERE c.pathway_id = s.pathway_id "
                   "AND c.agency = %s)"]
        params: list[Any] = [agency]
        for column, value in (("kind", kind), ("territory", territory), ("state", state)):
            if value is not None:
                clauses.append(f"s.{column} = %s")
                params.append(value)
        if other_agency is not None:
            clauses.append("EXISTS (SELECT 1 FROM caseload_participants o WHERE o.pathway_id = s.pathway_id "
                           "AND o.agency = %s)")
            params.append(other_agency)
        if has_open_alert is not None:
            clauses.append("s.open_alerts_count > 0" if has_open_alert else "s.open_alerts_count = 0")
        where = " AND ".join(clauses)
        page_where, page_params = where, list(params)
        if decoded is not None:
            page_where += " AND (s.opened_at < %s OR (s.opened_at = %s AND s.pathway_id < %s))"
            page_params += [decoded[0], decoded[0], decoded[1]]
        with self._db() as db:
            total = int(db.fetchall(f"SELECT COUNT(*) FROM pathway_summary s WHERE {where}", params)[0][0])
            rows = db.fetchall(f"SELECT s.pathway_id, s.opened_at FROM pathway_summary s WHERE {page_where} "
                               f"ORDER BY s.opened_at DESC, s.pathway_id DESC LIMIT {first + 1}", page_params)
        page = rows[:first]
        return Page([UUID(str(pid)) for pid, _ in page], [encode_cursor(opened, pid) for pid, opened in page],
                    len(rows) > first, total)

    def caseload(self, agency: str, *, first: int = 20, after: str | None = None) -> Page:
        """The open pathways `agency` takes part in, the most urgent first: highest severity of
        the open alerts `agency` owns or was escalated, then the nearest next milestone
        (release, discharge, SAS day 21; none last), then the pathway id."""
        first, decoded = _first(first), _cursor(after, 3)
        rank = SEVERITY_RANK_SQL.format(col="a.severity")
        inner = (f"SELECT s.pathway_id, COALESCE((SELECT MAX({rank}) FROM alerts a WHERE a.pathway_id = s.pathway_id "
                 "AND a.is_open = 1 AND (a.owner_agency = %s OR a.escalated_to = %s)), 0) AS urgency, "
                 f"COALESCE(s.next_milestone_on, '{NO_DATE}') AS due FROM pathway_summary s WHERE s.state = 'open' "
                 "AND EXISTS (SELECT 1 FROM caseload_participants c WHERE c.pathway_id = s.pathway_id "
                 "AND c.agency = %s)")
        params: list[Any] = [agency, agency, agency]
        outer = ""
        if decoded is not None:
            try:
                urgency = int(decoded[0])
            except ValueError:
                raise PublicError("Curseur « after » invalide.", "BAD_CURSOR") from None
            outer = (" WHERE (q.urgency < %s OR (q.urgency = %s AND (q.due > %s OR (q.due = %s "
                     "AND q.pathway_id > %s))))")
            params_page = [*params, urgency, urgency, decoded[1], decoded[1], decoded[2]]
        else:
            params_page = params
        with self._db() as db:
            total = int(db.fetchall(f"SELECT COUNT(*) FROM ({inner}) q", params)[0][0])
            rows = db.fetchall(f"SELECT q.pathway_id, q.urgency, q.due FROM ({inner}) q{outer} "
                               f"ORDER BY q.urgency DESC, q.due, q.pathway_id LIMIT {first + 1}", params_page)
        page = rows[:first]
        return Page([UUID(str(pid)) for pid, _, _ in page], [encode_cursor(u, d, pid) for pid, u, d in page],
                    len(rows) > first, total)

    def alerts(self, agency: str, *, first: int = 20, after: str | None = None, pathway_id: UUID | None = None,
               rule_id: str | None = None, severity: str | None = None, owned_only: bool = False,
               statuses: Sequence[str] | None = None) -> AlertPage:
        """The alerts of the pathways `agency` takes part in, in `statuses` (None: the open
        ones), critical first, then the oldest raised, then the alert id; every filter applied
        before the page is cut. The counts per status apply the same filters but the status."""
        first, decoded = _first(first), _cursor(after, 3)
        rank = SEVERITY_RANK_SQL.format(col="a.severity")
        clauses = ["EXISTS (SELECT 1 FROM caseload_participants c WHERE c.pathway_id = a.pathway_id "
                   "AND c.agency = %s)"]
        params: list[Any] = [agency]
        if pathway_id is not None:
            clauses.append("a.pathway_id = %s")
            params.append(str(pathway_id))
        if rule_id is not None:
            clauses.append("a.rule_id = %s")
            params.append(rule_id)
        if severity is not None:
            clauses.append("a.severity = %s")
            params.append(severity)
        if owned_only:
            clauses.append("(a.owner_agency = %s OR a.escalated_to = %s)")
            params += [agency, agency]
        unfiltered, unfiltered_params = " AND ".join(clauses), list(params)
        if statuses is None:
            clauses.append("a.is_open = 1")
        else:
            clauses.append(_in("a.status", list(statuses)) if statuses else "1 = 0")
            params += list(statuses)
        inner = f"SELECT a.*, {rank} AS severity_rank FROM alerts a WHERE {' AND '.join(clauses)}"
        outer, params_page = "", list(params)
        if decoded is not None:
            try:
                level = int(decoded[0])
            except ValueError:
                raise PublicError("Curseur « after » invalide.", "BAD_CURSOR") from None
            outer = (" WHERE (q.severity_rank < %s OR (q.severity_rank = %s AND (q.raised_at > %s "
                     "OR (q.raised_at = %s AND q.alert_id > %s))))")
            params_page += [level, level, decoded[1], decoded[1], decoded[2]]
        with self._db() as db:
            total = int(db.fetchall(f"SELECT COUNT(*) FROM ({inner}) q", params)[0][0])
            rows = _rows(db, f"SELECT * FROM ({inner}) q{outer} ORDER BY q.severity_rank DESC, q.raised_at, "
                             f"q.alert_id LIMIT {first + 1}", params_page)
            counts = {str(status): int(n) for status, n in db.fetchall(
                f"SELECT a.status, COUNT(*) FROM alerts a WHERE {unfiltered} GROUP BY a.status", unfiltered_params)}
            page = _with_triggers(db, rows[:first])
        return AlertPage(page, [encode_cursor(r["severity_rank"], r["raised_at"], r["alert_id"]) for r in page],
                         len(rows) > first, total, counts)

    def alert(self, pathway_id: UUID | str | None, alert_id: UUID | str) -> dict[str, Any] | None:
        """One alert row (with its triggering events); `pathway_id` None: whichever pathway it is on."""
        with self._db() as db:
            if pathway_id is None:
                rows = _rows(db, "SELECT * FROM alerts WHERE alert_id = %s", (str(alert_id),))
            else:
                rows = _rows(db, "SELECT * FROM alerts WHERE alert_id = %s AND pathway_id = %s",
                             (str(alert_id), str(pathway_id)))
            return _with_triggers(db, rows)[0] if rows else None

    # ------------------------------------------------------------------ timeline
    def timeline(self, pathway_id: UUID | str, *, first: int, after: int | None) -> tuple[list[dict[str, Any]], int]:
        """Rows of the `timeline` read model after position `after` (first + 1 of them, to
        tell whether more follow), and how many rows the pathway has."""
        return self.timelines([(UUID(str(pathway_id)), first, after)])[0]

    def timelines(self, keys: Sequence[tuple[UUID, int, int | None]]) -> list[tuple[list[dict[str, Any]], int]]:
        """`timeline` for many (pathway, first, after) at once: one query for the counts and
        one per distinct position `after` (a page of pathways asks the same for all)."""
        ids = list(dict.fromkeys(str(pid) for pid, _, _ in keys))
        if not ids:
            return []
        rows_of: dict[tuple[str, int], list[dict[str, Any]]] = {}
        with self._db() as db:
            totals = dict(db.fetchall(f"SELECT pathway_id, COUNT(*) FROM timeline WHERE {_in('pathway_id', ids)} "
                                      "GROUP BY pathway_id", ids))
            for position in sorted({int(after or 0) for _, _, after in keys}):
                wanted = list(dict.fromkeys(str(pid) for pid, _, after in keys if int(after or 0) == position))
                for row in _rows(db, "SELECT pathway_id, event_id, seq, event_type, category, label, occurred_at, recorded_at, "
                                     f"agency, role FROM timeline WHERE {_in('pathway_id', wanted)} AND seq > %s "
                                     "ORDER BY pathway_id, seq", [*wanted, position]):
                    rows_of.setdefault((row["pathway_id"], position), []).append(row)
        return [(rows_of.get((str(pid), int(after or 0)), [])[:int(first) + 1], int(totals.get(str(pid), 0)))
                for pid, first, after in keys]

    # ------------------------------------------------------------------ read-your-writes
    def applied(self, pathway_id: UUID | str, projections: Sequence[str]) -> int:
        """The lowest version of `pathway_id` applied by every one of `projections` (0: none,
        or a read model not created yet: its runner has not started)."""
        try:
            with self._db() as db:
                lowest = None
                for name in projections:
                    rows = db.fetchall(f"SELECT seq FROM {name}_{APPLIED} WHERE pathway_id = %s", (str(pathway_id),))
                    seq = int(rows[0][0]) if rows else 0
                    lowest = seq if lowest is None else min(lowest, seq)
        except PublicError as error:
            if error.code != "UNAVAILABLE":
                raise
            return 0
        return lowest or 0

    def wait_for(self, pathway_id: UUID | str, version: int, projections: Sequence[str],
                 timeout_s: float | None = None) -> None:
        """Return once every one of `projections` has applied `version` of `pathway_id`;
        raise NotAppliedYet after `timeout_s` (default: the settings' deadline)."""
        deadline = time.monotonic() + (self.wait_timeout_s if timeout_s is None else timeout_s)
        pause = self.poll_s
        while self.applied(pathway_id, projections) < version:
            if time.monotonic() >= deadline:
                raise NotAppliedYet(version)
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, 0.05)


# --------------------------------------------------------------------------- connections
def sqlite_readmodels(path: str) -> Connect:
    """Connections to the embedded read-model file (`projections.embedded.connect`: WAL, so
    readers never block the writer), one per reading thread and kept: in autocommit mode each
    statement reads the latest committed state."""
    from projections.embedded import connect

    local = threading.local()

    @contextlib.contextmanager
    def this_threads() -> Iterator[sqlite3.Connection]:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = connect(path)
        yield conn

    this_threads.local = True  # type: ignore[attr-defined] - ReadSide.local
    return this_threads


# --------------------------------------------------------------------------- asOf
def replay(events: Sequence[tuple[str, Any]]) -> ReadSide:
    """The read models of ONE pathway built from its domain events (those up to an `asOf`
    date, each with its aggregate class name: gateway.store.EventStoreReader.history):
    encoded by the relay's wire codec, applied by every projection to an in-memory SQLite
    database, read by the same ReadSide as the present."""
    from projections.embedded import connect
    from projections.registry import PROJECTIONS
    from projections.schema import ensure_current
    from services.relay.wire import to_cloud_event

    conn = connect(":memory:")  # the embedded read models' tables and migrations, in memory
    db = Db(conn, "sqlite")
    projections = [ensure_current(db, cls) for cls in PROJECTIONS.values()]
    conn.execute("BEGIN")
    for pathway_kind, event in events:
        # The notification id only orders a pathway's events here: its version does that.
        wire = PathwayEvent.from_cloud_event(to_cloud_event(event, notification_id=event.originator_version,
                                                            pathway_kind=pathway_kind))
        for projection in projections:
            db.run(projection.statements(wire))
    conn.execute("COMMIT")
    lock = threading.Lock()

    @contextlib.contextmanager
    def same() -> Iterator[sqlite3.Connection]:
        with lock:  # one connection, shared by the request's resolvers (threads)
            yield conn

    return ReadSide(same, local=True)


def json_list(text: str | None) -> list[Any]:
    return list(json.loads(text)) if text else []
