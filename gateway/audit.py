"""Audit of every read of personal data, shaped like FHIR AuditEvent.

One record per pathway read per request: who (professional, agency, role), what (pathway,
categories of personal data actually returned), the operation (GraphQL field), the purpose
of use, when, and the outcome. Refused reads are recorded too (outcome "4", nothing
returned). The data-protection officer (`dpo` role) queries them through `auditEvents`.

Two stores: SQLite (embedded mode, tests) and PostgreSQL (distributed mode); the composition
root picks one. Writes are synchronous: a read whose audit cannot be written is not served.

Tamper-evident: every record is chained to the one before it. Its `hash` is SHA-256 over its
canonical form (:func:`canonical`: every column, its `seq` and the previous record's hash) and
the previous hash; a head row keeps the last `seq` and hash. :func:`verify_chain` (`relais
audit verify`) recomputes the chain: an edited record breaks its own hash, a deleted one the
next record's link (or the head, for the last one). Writers take the chain in turn (a lock in
SQLite, the head row's lock in PostgreSQL). What it cannot prevent: someone with write access
to the database rewriting the whole chain from the edited record on; publish the head hash
elsewhere (a SIEM, `as_fhir` exports) to anchor it.
"""

from __future__ import annotations

import hashlib
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
#: The purpose of a read an emergency override (bris de glace) widened: emergency treatment.
EMERGENCY_PURPOSE = "ETREAT"
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
    #: The consent version in force for the pathway when this disclosure happened (None: no
    #: pathway, or written before versions existed).
    consent_version: int | None = None

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
                        "securityLabel": [{"code": c} for c in self.categories],
                        "detail": [] if self.consent_version is None else [
                            {"type": {"text": "consent-version"}, "valueInteger": self.consent_version}]}]
            if self.pathway_id else [],
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
    def verify(self) -> list[str]: ...


_COLUMNS = ("id, recorded_at, professional, agency, role, action, operation, purpose, pathway_id, categories, outcome, "
            "detail, consent_version")
_CHAINED = _COLUMNS + ", seq, prev_hash, hash"
#: The previous hash of the first record of the chain.
GENESIS = "0" * 64


def canonical(row: Sequence[object], seq: int, prev_hash: str) -> bytes:
    """The bytes a record's hash covers: its stored columns (as `_row` writes them), its place
    and the previous hash, as sorted-key JSON."""
    names = [c.strip() for c in _COLUMNS.split(",")]
    body = dict(zip(names, row, strict=True))
    if body.get("consent_version") is None:
        del body["consent_version"]  # records from before the column: their hash did not cover it
    body.update(seq=seq, prev_hash=prev_hash)
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def chain_hash(row: Sequence[object], seq: int, prev_hash: str) -> str:
    return hashlib.sha256(canonical(row, seq, prev_hash) + prev_hash.encode("ascii")).hexdigest()


def chain(rows: Sequence[Sequence[object]], head: tuple[int, str] | None) -> tuple[list[tuple[object, ...]], tuple[int, str]]:
    """The rows to insert after `head` (last seq, last hash), each with seq, prev_hash, hash."""
    seq, prev = head or (0, GENESIS)
    out = []
    for row in rows:
        seq += 1
        digest = chain_hash(row, seq, prev)
        out.append((*row, seq, prev, digest))
        prev = digest
    return out, (seq, prev)


def verify_chain(rows: Sequence[Sequence[object]], head: tuple[int, str] | None) -> list[str]:
    """The problems of a chain (`rows`: `_CHAINED` columns in seq order), in French; [] if intact."""
    problems: list[str] = []
    expected_seq, prev = 1, GENESIS
    for row in rows:
        *columns, seq, prev_hash, digest = row
        seq = int(seq)  # type: ignore[call-overload]
        if seq != expected_seq:
            problems.append(f"enregistrement(s) n° {expected_seq} à {seq - 1} supprimé(s) (rupture avant {columns[0]})")
        elif prev_hash != prev:
            problems.append(f"enregistrement n° {seq} ({columns[0]}) : lien rompu avec le précédent")
        if chain_hash(columns, seq, str(prev_hash)) != digest:
            problems.append(f"enregistrement n° {seq} ({columns[0]}) : contenu modifié (empreinte différente)")
        expected_seq, prev = seq + 1, str(digest)
    last = (expected_seq - 1, prev)
    if head is not None and (int(head[0]), str(head[1])) != last:
        problems.append(f"dernier(s) enregistrement(s) supprimé(s) : la tête de chaîne est n° {head[0]}, "
                        f"la table s'arrête au n° {last[0]}")
    if head is None and rows:
        problems.append("tête de chaîne absente")
    return problems


def _row(record: AuditRecord) -> tuple[object, ...]:
    return (record.id, record.recorded_at.isoformat(), record.professional, record.agency, record.role,
            record.action, record.operation, record.purpose, record.pathway_id,
            json.dumps(list(record.categories)), record.outcome, record.detail, record.consent_version)


def _record(row: Sequence[object]) -> AuditRecord:
    recorded = row[1] if isinstance(row[1], datetime) else datetime.fromisoformat(str(row[1]))
    categories = row[9] if isinstance(row[9], list) else json.loads(str(row[9]))
    return AuditRecord(id=str(row[0]), recorded_at=recorded, professional=str(row[2]), agency=str(row[3]),
                       role=str(row[4]), action=str(row[5]), operation=str(row[6]), purpose=str(row[7]),
                       pathway_id=None if row[8] is None else str(row[8]), categories=tuple(categories),
                       outcome=str(row[10]), detail=None if row[11] is None else str(row[11]),
                       consent_version=None if row[12] is None else int(row[12]))


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
        with self._lock, self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            found = self._conn.execute("SELECT seq, hash FROM gateway_audit_head WHERE id = 1").fetchone()
            rows, head = chain([_row(r) for r in records], None if found is None else (int(found[0]), found[1]))
            self._conn.executemany(f"INSERT INTO gateway_audit_events ({_CHAINED}) VALUES "
                                   "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            self._conn.execute("INSERT INTO gateway_audit_head (id, seq, hash) VALUES (1, ?, ?) "
                               "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash", head)

    def close(self) -> None:
        self._conn.close()

    def verify(self) -> list[str]:
        """The chain's problems (see :func:`verify_chain`); [] when intact."""
        with self._lock:
            rows = self._conn.execute(f"SELECT {_CHAINED} FROM gateway_audit_events WHERE seq IS NOT NULL "
                                      "ORDER BY seq").fetchall()
            found = self._conn.execute("SELECT seq, hash FROM gateway_audit_head WHERE id = 1").fetchone()
        return verify_chain(rows, None if found is None else (found[0], found[1]))

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
        self._head = sql.Identifier(schema, "gateway_audit_head")

    def write(self, records: Sequence[AuditRecord]) -> None:
        from psycopg import sql

        if not records:
            return
        with self._pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            # The head row's lock makes the writers take the chain in turn.
            cur.execute(sql.SQL("INSERT INTO {} (id, seq, hash) VALUES (1, 0, %s) ON CONFLICT (id) DO NOTHING")
                        .format(self._head), [GENESIS])
            found = cur.execute(sql.SQL("SELECT seq, hash FROM {} WHERE id = 1 FOR UPDATE").format(self._head)).fetchone()
            rows, head = chain([_row(r) for r in records], (int(found[0]), found[1]))
            cur.executemany(sql.SQL(f"INSERT INTO {{}} ({_CHAINED}) VALUES "
                                    "(%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)").format(self._table), rows)
            cur.execute(sql.SQL("UPDATE {} SET seq = %s, hash = %s WHERE id = 1").format(self._head), list(head))

    def verify(self) -> list[str]:
        """The chain's problems (see :func:`verify_chain`); [] when intact."""
        from psycopg import sql

        with self._pool.connection() as conn:
            rows = conn.execute(sql.SQL(f"SELECT {_CHAINED} FROM {{}} WHERE seq IS NOT NULL ORDER BY seq")
                                .format(self._table)).fetchall()
            found = conn.execute(sql.SQL("SELECT seq, hash FROM {} WHERE id = 1").format(self._head)).fetchone()
        head = None if found is None or int(found[0]) == 0 else (int(found[0]), str(found[1]))
        return verify_chain(rows, head)

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

    def verify(self) -> list[str]:
        return self.inner.verify()

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
