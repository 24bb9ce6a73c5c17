"""Noise control: high and critical alerts pushed at once, the others in one daily digest per agency.

The territory settings say where the line is (`push_min_severity`, default high) and when the
digest goes (`digest_hour`, local time of the territory, default 8 h). The alerting worker asks
:class:`PushPolicy` before it publishes an alert change: a change of an alert below the line
is not pushed (an escalation always is; an alert whose severity rises past the line as its
deadline nears is pushed by its `AlertUpdated`). :class:`DigestSender` then sends, once per agency
and local day from `digest_hour` on, the open alerts below the line that the agency owns, as one
CloudEvent of type `fr.relais.alert.digest.v1` on `<prefix>.alerts` (key = partitionkey = the
agency) and one signed webhook delivery, each alert as that agency may see it
(gateway.views.agency_alert_view). No alert, no digest.

Exactly once per agency and day, even after a crash: the digest's row (`alerting_digests`,
migration 004) is inserted at the start of one transaction, the digest published (acknowledged
by the broker) and delivered inside it, and the transaction commits last. Two senders at once:
the second waits on the first's row and then finds it. A crash before the commit leaves no row:
the digest is sent again with the same id (`ce_id`, `webhook-id`), which receivers drop; once
committed it is never sent again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.rules.settings import TerritorySettings
from gateway.audit import MINOR_FAILURE, SUCCESS, AuditLog, AuditRecord
from gateway.readside import ReadSide
from gateway.subscriptions import AlertChangeKind, FeedItem
from gateway.views import agency_alert_view
from infra.kafka.cloudevents import CloudEvent
from services.alerting.webhooks import WebhookRegistry, deliver
from services.alerting.worker import push_record

log = logging.getLogger("relais.alerting.digest")
SOURCE = "/relais/alerting"
DIGEST_TYPE = "fr.relais.alert.digest.v1"


class PushPolicy:
    """Whether an alert change is pushed at once (else it waits for the owner's digest)."""

    def __init__(self, read: ReadSide, settings: Callable[[str], TerritorySettings]) -> None:
        self.read, self.settings = read, settings

    def __call__(self, item: FeedItem) -> bool:
        if item.change == AlertChangeKind.ESCALATED.value:
            return True  # nobody acted in time: the target hears it now, whatever the severity
        row = self.read.alert(item.pathway_id, item.alert_id)
        if row is None or not row.get("territory"):
            return True  # unknown here: the worker's own checks decide
        return self.settings(row["territory"]).pushed_at_once(row["severity"])


def digest_id(agency: str, day: date) -> str:
    return str(uuid5(NAMESPACE_URL, f"relais-digest:{agency}:{day.isoformat()}"))


class DigestLedger(Protocol):
    def claim(self, agency: str, day: date, ident: str, alerts: int, at: datetime) -> Any: ...
    def sent(self, agency: str, day: date) -> bool: ...


class SqliteDigestLedger:
    """Embedded mode: the `alerting_digests` table of an SQLite file."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        from infra.sqlite.migrations import connect

        self._lock = threading.Lock()
        self._conn = connect(path)

    @contextmanager
    def claim(self, agency: str, day: date, ident: str, alerts: int, at: datetime) -> Iterator[bool]:
        """True inside the transaction that records the digest (commits when the block ends
        without error); False when it was already sent."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                cur = self._conn.execute("INSERT INTO alerting_digests VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                                         (agency, day.isoformat(), ident, alerts, at.isoformat()))
                yield cur.rowcount == 1
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def sent(self, agency: str, day: date) -> bool:
        with self._lock:
            return self._conn.execute("SELECT 1 FROM alerting_digests WHERE agency = ? AND day = ?",
                                      (agency, day.isoformat())).fetchone() is not None


class PostgresDigestLedger:
    """Distributed mode: `alerting_digests` in the schema (row lock held until the commit)."""

    def __init__(self, pool: Any, schema: str = "public") -> None:
        from psycopg import sql

        self._pool = pool
        self._table = sql.Identifier(schema, "alerting_digests").as_string(None)

    @contextmanager
    def claim(self, agency: str, day: date, ident: str, alerts: int, at: datetime) -> Iterator[bool]:
        with self._pool.connection() as conn, conn.transaction():
            cur = conn.execute(f"INSERT INTO {self._table} VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                               (agency, day, ident, alerts, at))
            yield cur.rowcount == 1

    def sent(self, agency: str, day: date) -> bool:
        with self._pool.connection() as conn:
            return conn.execute(f"SELECT 1 FROM {self._table} WHERE agency = %s AND day = %s",
                                (agency, day)).fetchone() is not None


@dataclass(frozen=True)
class DigestResult:
    sent: int = 0
    already_sent: int = 0
    empty: int = 0


class DigestSender:
    """Sends the due digests: `send_due(now)` from each territory's `digest_hour`, or every
    agency's at once with `force=True` (`relais alerting --digest-now`)."""

    def __init__(self, read: ReadSide, publish: Callable[[list[CloudEvent]], None], ledger: DigestLedger,
                 agencies: Any, settings: Callable[[str], TerritorySettings], *,
                 webhooks: WebhookRegistry | None = None, post: Callable[..., Any] | None = None,
                 retry_base_delay: float = 0.5, audit: AuditLog | None = None, development: bool = False,
                 resolve: Callable[[str], list[str]] | None = None) -> None:
        self.read, self.publish, self.ledger, self.agencies, self.settings = read, publish, ledger, agencies, settings
        self.webhooks, self.post, self.retry_base_delay = webhooks, post, retry_base_delay
        # As the alerting worker: every push audited per pathway it tells of, webhooks pinned.
        self.audit, self.development, self.resolve = audit, development, resolve

    def send_due(self, now: datetime | None = None, *, force: bool = False) -> DigestResult:
        now = (now or datetime.now(UTC)).astimezone(UTC)
        sent = already = empty = 0
        for code in sorted(self.agencies):
            territory = self.agencies[code].territory
            settings = self.settings(territory)
            local = now.astimezone(settings.tz)
            if not force and local.hour < settings.digest_hour:
                continue
            day = local.date()
            if self.ledger.sent(code, day):
                already += 1
                continue
            returned: dict[str, set[Any]] = {}
            alerts = self.digest_alerts(code, settings, returned)
            if not alerts:
                empty += 1
                continue
            if self._send(code, day, alerts, now, returned):
                sent += 1
            else:
                already += 1
        return DigestResult(sent, already, empty)

    def digest_alerts(self, agency: str, settings: TerritorySettings,
                      returned: dict[str, set[Any]] | None = None) -> list[dict[str, Any]]:
        """The open alerts `agency` owns below the push line, as it may see them, gravest first;
        the categories each pathway's alerts carry are added to `returned` (pathway id -> set)."""
        out: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            page = self.read.alerts(agency, first=100, after=after, owned_only=True)
            for row in page.rows:
                territory = row.get("territory")
                line = self.settings(territory) if territory else settings
                if line.pushed_at_once(row["severity"]):
                    continue
                categories = set() if returned is None else returned.setdefault(str(row["pathway_id"]), set())
                view = agency_alert_view(self.read, UUID(str(row["pathway_id"])), UUID(str(row["alert_id"])), agency,
                                         categories)
                if view is not None:
                    out.append({
                        "pathway_id": str(row["pathway_id"]), "alert_id": str(view.alert_id), "rule_id": view.rule_id,
                        "rule_label": view.rule_label, "severity": view.severity.value, "status": view.status.value,
                        "raised_at": view.raised_at.isoformat(), "subject": view.subject,
                        "suggested_action": view.suggested_action,
                        "redactions": [{"field": r.field, "category": r.category.value, "reason": r.reason.value}
                                       for r in view.redactions]})
            if not page.has_next_page:
                return out
            after = page.end_cursor

    def _audit(self, records: list[AuditRecord]) -> None:
        if self.audit is not None and records:
            self.audit.write(records)

    def _send(self, agency: str, day: date, alerts: list[dict[str, Any]], now: datetime,
              returned: dict[str, set[Any]]) -> bool:
        ident = digest_id(agency, day)
        payload = {"agency": agency, "day": day.isoformat(), "alerts": alerts, "count": len(alerts)}
        with self.ledger.claim(agency, day, ident, len(alerts), now) as claimed:
            if not claimed:
                return False
            self.publish([CloudEvent(id=ident, source=SOURCE, type=DIGEST_TYPE, subject=agency, partitionkey=agency,
                                     time=now, data=payload,
                                     extensions={"agency": agency.lower()[:60] if agency.isascii() else "x"})])
            told = sorted({a["pathway_id"] for a in alerts})
            self._audit([push_record(agency, "alerting.kafka", pid, returned.get(pid, set())) for pid in told])
            hook = self.webhooks.get(agency) if self.webhooks is not None else None
            if hook is not None and not self.webhooks.delivered(agency, ident):
                result = deliver(hook, ident, payload, post=self.post, base_delay=self.retry_base_delay,
                                 development=self.development, resolve=self.resolve)
                self._audit([push_record(agency, "alerting.webhook", pid,
                                         returned.get(pid, set()) if result.sent else set(),
                                         SUCCESS if result else MINOR_FAILURE, result.reason) for pid in told])
                if result:
                    self.webhooks.mark_delivered(agency, ident)
                else:  # the digest stays recorded: the receiver refused or is down (logged, like alerts)
                    log.warning("digest webhook delivery failed",
                                extra={"agency": agency, "delivery": ident, "reason": result.reason})
        log.info("digest sent", extra={"event": "digest_sent", "agency": agency, "day": day.isoformat(),
                                       "alerts": len(alerts)})
        return True


class DigestLoop:
    """A worker (services.bootstrap.Worker): `send_due` every `interval` seconds until stopped;
    a failure (broker or database down) is logged and tried again at the next tick."""

    def __init__(self, sender: DigestSender, interval: float = 60.0) -> None:
        self.sender, self.interval = sender, interval

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.sender.send_due()
            except Exception:  # noqa: BLE001 - retried at the next tick
                log.exception("digest round failed")
            stop.wait(self.interval)
