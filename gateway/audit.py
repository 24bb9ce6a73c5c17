"""Audit of every read of personal data, shaped like FHIR AuditEvent.

One record per pathway read per request: who (professional, agency, role), what (pathway,
categories of personal data actually returned), the operation (GraphQL field), the purpose
of use, when, and the outcome. Refused reads are recorded too (outcome "4", nothing
returned). The data-protection officer (`dpo` role) queries them through `auditEvents`.

Two stores: SQLite (embedded mode, tests) and PostgreSQL (distributed mode); the composition
root picks one. Writes are synchronous: a read whose audit cannot be written is not served.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

#: FHIR AuditEvent.outcome codes.
SUCCESS, MINOR_FAILURE = "0", "4"
#: FHIR AuditEvent.action codes.
READ, EXECUTE = "R", "E"
#: Default purposeOfUse (HL7 v3 ActReason): care coordination.
DEFAULT_PURPOSE = "CAREMGT"
PURPOSES = frozenset({"CAREMGT", "TREAT", "ETREAT", "HPAYMT", "HOPERAT", "PUBHLTH", "HRESCH", "COC"})


@dataclass(frozen=True)
class AuditRecord:
    professional: str
    agency: str
    role: str
    action: str
    operation: str
    purpose: str
    pathway_id: str | None
    categories: tuple[str, ...]
    outcome: str
    recorded_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    detail: str | None = None

    def as_fhir(self) -> dict[str, object]:
        """The record as a FHIR R5 AuditEvent resource (for export to a partner's SIEM)."""
        return {
            "resourceType": "AuditEvent", "id": self.id,
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/audit-event-type",
                                      "code": "rest"}]}],
            "code": {"text": self.operation}, "action": self.action, "recorded": self.recorded_at.isoformat(),
            "outcome": {"code": {"code": self.outcome}},
            "authorization": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                                           "code": self.purpose}]}],
            "agent": [{"who": {"identifier": {"value": self.professional}},
                       "role": [{"text": self.role}], "requestor": True,
                       "networkString": None, "location": {"display": self.agency}}],
            "entity": [{"what": {"identifier": {"value": self.pathway_id}},
                        "securityLabel": [{"code": c} for c in self.categories]}] if self.pathway_id else [],
        }


@dataclass(frozen=True)
class AuditQuery:
    pathway_id: str | None = None
    agency: str | None = None
    professional: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 50
    before: tuple[str, str] | None = None  # (recorded_at iso, id): keyset cursor, newest first


class AuditLog(Protocol):
    def write(self, records: Sequence[AuditRecord]) -> None: ...
    def search(self, query: AuditQuery) -> list[AuditRecord]: ...


_COLUMNS = "id, recorded_at, professional, agency, role, action, operation, purpose, pathway_id, categories, outcome, detail"


def _row(record: AuditRecord) -> tuple[object, ...]:
    return (record.id, record.recorded_at.isoformat(), record.professional, record.agency, record.role,
            record.action, record.operation, record.purpose, record.pathway_id,
            json.dumps(list(record.categories)), record.outcome, record.detail)


def _record(row: Sequence[object]) -> AuditRecord:
    recorded = row[1] if isinstance(row[1], datetime) else datetime.fromisoformat(str(row[1]))
    categories = row[9] if isinstance(row[9], list) else json.loads(str(row[9]))
    return AuditRecord(id=str(row[0]), recorded_at=recorded, professional=str(row[2]), agency=str(row[3]),
                       role=str(row[4]), action=str(row[5]), operation=str(row[6]), purpose=str(row[7]),
                       pathway_id=None if row[8] is None else str(row[8]), categories=tuple(categories),
                       outcome=str(row[10]), detail=None if row[11] is None else str(row[11]))


def _where(query: AuditQuery, mark: str) -> tuple[str, list[object]]:
    clauses, params = [], []
    for column, value in (("pathway_id", query.pathway_id), ("agency", query.agency),
                          ("professional", query.professional)):
        if value is not None:
            clauses.append(f"{column} = {mark}")
            params.append(value)
    if query.since is not None:
        clauses.append(f"recorded_at >= {mark}")
        params.append(query.since.isoformat())
    if query.until is not None:
        clauses.append(f"recorded_at < {mark}")
        params.append(query.until.isoformat())
    if query.before is not None:
        clauses.append(f"(recorded_at < {mark} OR (recorded_at = {mark} AND id < {mark}))")
        params += [query.before[0], query.before[0], query.before[1]]
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


class SqliteAuditLog:
    def __init__(self, path: str | Path = ":memory:") -> None:
        from infra.sqlite.migrations import connect

        self._lock = threading.Lock()
        self._conn = connect(path)  # the table comes from infra/sqlite/migrations/

    def write(self, records: Sequence[AuditRecord]) -> None:
        if not records:
            return
        with self._lock:
            self._conn.executemany(f"INSERT INTO gateway_audit_events ({_COLUMNS}) VALUES "
                                   "(?,?,?,?,?,?,?,?,?,?,?,?)", [_row(r) for r in records])

    def search(self, query: AuditQuery) -> list[AuditRecord]:
        where, params = _where(query, "?")
        with self._lock:
            rows = self._conn.execute(f"SELECT {_COLUMNS} FROM gateway_audit_events{where} "
                                      "ORDER BY recorded_at DESC, id DESC LIMIT ?", [*params, query.limit]).fetchall()
        return [_record(r) for r in rows]


class PostgresAuditLog:
    def __init__(self, pool, schema: str = "public") -> None:  # noqa: ANN001 - psycopg_pool.ConnectionPool
        from psycopg import sql

        self._pool = pool  # the table comes from infra/postgres/migrations/
        self._table = sql.Identifier(schema, "gateway_audit_events")

    def write(self, records: Sequence[AuditRecord]) -> None:
        from psycopg import sql

        if not records:
            return
        with self._pool.connection() as conn, conn.cursor() as cur:
            cur.executemany(sql.SQL(f"INSERT INTO {{}} ({_COLUMNS}) VALUES "
                                    "(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)").format(self._table),
                            [_row(r) for r in records])

    def search(self, query: AuditQuery) -> list[AuditRecord]:
        from psycopg import sql

        where, params = _where(query, "%s")
        with self._pool.connection() as conn:
            rows = conn.execute(sql.SQL(f"SELECT {_COLUMNS} FROM {{}}{where} "
                                        "ORDER BY recorded_at DESC, id DESC LIMIT %s").format(self._table),
                                [*params, query.limit]).fetchall()
        return [_record(r) for r in rows]


class GroupCommitAuditLog:
    """Group commit in front of an AuditLog: the records of the requests finishing at the same
    moment are written in ONE statement by a writer thread, and each request still waits for
    its records to be durable before its answer leaves (`await write_async(...)`). Nothing is
    answered whose audit is not written, so a crash loses no record of an answered read; what
    is saved is a transaction and a thread hop per request, not the guarantee.

    A failed batch fails every request in it (their answers are not served)."""

    def __init__(self, inner: AuditLog, max_batch: int = 500) -> None:
        import queue

        self.inner = inner
        self.max_batch = max_batch
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="gateway-audit-writer", daemon=True)
        self._closed = False
        self.batches = 0
        self._thread.start()

    # the AuditLog protocol, synchronous (mutations, tests)
    def write(self, records: Sequence[AuditRecord]) -> None:
        self.inner.write(records)

    def search(self, query: AuditQuery) -> list[AuditRecord]:
        return self.inner.search(query)

    async def write_async(self, records: Sequence[AuditRecord]) -> None:
        import asyncio

        if not records:
            return
        if self._closed:
            await asyncio.to_thread(self.inner.write, records)
            return
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._queue.put((list(records), loop, done))
        await done

    def _run(self) -> None:
        import queue

        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            error: BaseException | None = None
            try:
                self.inner.write([r for records, _, _ in batch for r in records])
                self.batches += 1
            except BaseException as failed:  # noqa: BLE001 - handed to every waiting request
                error = failed
            for _, loop, done in batch:
                loop.call_soon_threadsafe(_settle, done, error)
            if stop:
                return

    def close(self, timeout: float = 10) -> None:
        """Write what is queued, then stop (the app's shutdown)."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._thread.join(timeout)
            # A request that queued after the stop mark: write it here rather than strand it.
            import queue

            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    return
                if item is None:
                    continue
                records, loop, done = item
                error: BaseException | None = None
                try:
                    self.inner.write(records)
                except BaseException as failed:  # noqa: BLE001
                    error = failed
                loop.call_soon_threadsafe(_settle, done, error)


def _settle(done, error: BaseException | None) -> None:  # noqa: ANN001 - asyncio.Future
    if done.cancelled():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)
