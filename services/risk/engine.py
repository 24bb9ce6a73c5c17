"""The rupture-risk engine: a process manager from pathway events and a clock to alert commands.

For one pathway, at `clock.now()` (`process`):
1. get the pathway and its stored events from the event store (one read);
2. `evaluate` the catalogue with its territory's settings;
3. raise an alert for each finding with no open alert for its `(rule_id, subject)` (never
   twice while open), as the system actor "relais", with the ids of the events that
   established its facts (`FactRef.events` -> the latest stored event of those types about
   the fact's entity; ids as on the wire, `services.relay.wire.event_id`);
4. resolve each open alert of the catalogue whose risk is no longer found, with the fact
   that removed it (`resolved_findings(..., pathway)`) as the reason; update each open alert
   whose risk is still found with another owner, text or severity (a participant joined, a
   fact changed, the deadline nears: `UpdateAlert` -> `AlertUpdated`), never raise it again;
5. escalate each alert still `raised` (nobody acknowledged it) once it is older than its
   severity's delay (critical 24 h, high 72 h, medium 7 days; low never), to the DAC — or to
   the lead agency when the DAC already owns it;
6. index the pathway's next deadline (the rules' `next_deadline`, their `next_revision` — a
   severity band crossed —, or the next escalation).

Every alert is a pathway event (AlertRaised/AlertResolved/AlertEscalated), so it is audited,
replayable and in the timeline. Ids are deterministic: the alert id is
uuid5(pathway, rule, subject, occurrence n) where n counts the earlier alerts of that key, and
each command id is uuid5(alert id, action); a redelivered event or a re-run sweep sends the
same commands, which the pathways handler answers from its idempotency record or refuses
(alert already open / not open) — nothing is written twice.

The engine's own alert events come back on the stream; for those it only re-indexes the
pathway (their state change can move an escalation time), it never sends commands: no loop.

An alert a professional resolved or dismissed by hand is not raised again for a risk that was already
there when they resolved it (they judged it handled; raising it again would be noise); a risk
that starts after that resolution is raised again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.application import AggregateNotFoundError, project_aggregate

from domain.rules import (
    RULES,
    FactRef,
    RiskFinding,
    TerritorySettings,
    evaluate,
    next_deadline,
    next_revision,
    resolved_findings,
)
from domain.rules import settings_for as _settings_for
from domain.rules.types import ServiceFinder
from domain.disclosure import SEVERITY_LABELS
from domain.values import SYSTEM_AGENCY, AlertSeverity, AlertStatus
from infra.metrics import ALERTS_RAISED
from services.pathways import CommandResult, PathwaysHandler
from services.pathways.commands import ActorModel, EscalateAlert, RaiseAlert, ResolveAlert, UpdateAlert
from services.ports import Clock
from services.relay.wire import TYPE_PREFIX, event_id
from services.risk.deadlines import DeadlineIndex

log = logging.getLogger("relais.risk")
UTC = timezone.utc

#: Namespace of alert ids and of the engine's command ids (stable forever: changing it would
#: make every past alert look new).
ALERT_NAMESPACE = UUID("0c6f3d52-2a8e-5d5c-9d1f-7b3e4a9c8f21")
RISK_ACTOR = ActorModel(agency=SYSTEM_AGENCY, professional="risk-engine", role="moteur de règles")

ALERT_EVENTS = frozenset({"AlertRaised", "AlertAcknowledged", "AlertEscalated", "AlertResolved", "AlertUpdated",
                          "AlertDismissed"})
#: Refusals that mean "already done" (a redelivery, or another engine process was first).
_ALREADY = frozenset({"ALERT_ALREADY_OPEN", "ALERT_NOT_OPEN", "DUPLICATE_IDENTIFIER", "COMMAND_ID_REUSED"})

#: Which event attribute names the entity of a FactRef ("appointment:<id>" -> appointment_id).
_REF_ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "appointment": ("appointment_id",),
    "referral": ("referral_id", "orientation_id"),
    "housing": ("request_id",),
    "need": ("need_id",),
    "treatment": ("treatment_id",),
    "coverage": ("scheme",),
    "agency": ("agency", "pmi_agency"),
    "refusal": ("refusal_id",),
}


@dataclass(frozen=True)
class EscalationPolicy:
    """How long an alert may stay unacknowledged before it goes up, by severity (None: never)."""

    critical: timedelta | None = timedelta(hours=24)
    high: timedelta | None = timedelta(hours=72)
    medium: timedelta | None = timedelta(days=7)
    low: timedelta | None = None

    def delay(self, severity: AlertSeverity) -> timedelta | None:
        return getattr(self, AlertSeverity(severity).value)


def alert_id_for(pathway_id: UUID, rule_id: str, subject: str, occurrence: int) -> UUID:
    return uuid5(ALERT_NAMESPACE, f"{pathway_id}|{rule_id}|{subject}|{occurrence}")


def command_id_for(alert_id: UUID, action: str) -> UUID:
    return uuid5(ALERT_NAMESPACE, f"{alert_id}|{action}")


def escalation_target(pathway: Any, owner_agency: str, settings: TerritorySettings) -> str:
    """The DAC (the one taking part in the pathway, else the territory's), or the lead agency
    when the DAC already owns the alert."""
    dac = next((a for a in pathway.participants if a == settings.dac_agency or "dac" in a.lower().split("-")),
               settings.dac_agency)
    return pathway.lead_agency if owner_agency == dac and pathway.lead_agency != dac else dac


@dataclass
class Outcome:
    """What one evaluation of one pathway did."""

    pathway_id: UUID
    raised: list[UUID] = field(default_factory=list)
    resolved: list[UUID] = field(default_factory=list)
    updated: list[UUID] = field(default_factory=list)
    escalated: list[UUID] = field(default_factory=list)
    #: (command, reason) of commands refused for another reason than "already done".
    refused: list[tuple[str, str]] = field(default_factory=list)
    next_due: datetime | None = None
    found: bool = True

    @property
    def commands(self) -> int:
        return len(self.raised) + len(self.resolved) + len(self.updated) + len(self.escalated)


@dataclass
class SweepResult:
    now: datetime
    due: int = 0
    raised: int = 0
    resolved: int = 0
    updated: int = 0
    escalated: int = 0
    #: Pathways whose evaluation raised: re-indexed at now + retry_after.
    failed: int = 0
    select_s: float = 0.0
    #: Of process_s: reading the due pathways from the event store (decrypt, decode, replay).
    load_s: float = 0.0
    process_s: float = 0.0
    batches: int = 0

    def add(self, outcome: Outcome) -> None:
        self.raised += len(outcome.raised)
        self.resolved += len(outcome.resolved)
        self.updated += len(outcome.updated)
        self.escalated += len(outcome.escalated)


@dataclass
class _Loaded:
    pathway: Any
    events: list[Any]


class RiskEngine:
    def __init__(
        self,
        pathways: PathwaysHandler,
        clock: Clock,
        deadlines: DeadlineIndex,
        *,
        territories: Mapping[str, TerritorySettings] | None = None,
        settings_source: Callable[[str], TerritorySettings] | None = None,
        escalation: EscalationPolicy | None = None,
        sweep_batch: int = 200,
        retry_after: timedelta = timedelta(minutes=5),
        agency_names: Mapping[str, str] | None = None,
        directory: ServiceFinder | None = None,
    ) -> None:
        self.pathways = pathways
        self.clock = clock
        self.deadlines = deadlines
        self.territories = dict(territories or {})
        #: The settings in force per territory (services.risk.territory_settings.SettingsSource:
        #: the versioned store); without one, `territories` or the defaults.
        self.settings_source = settings_source
        #: The registry's display names, given to the rules' settings (their sentences use them).
        self.agency_names = dict(agency_names or {})
        #: The directory the rules' suggested actions name services from (None: they name none).
        self.directory = directory
        self._named: dict[str, tuple[TerritorySettings, TerritorySettings]] = {}
        self.escalation = escalation or EscalationPolicy()
        self.sweep_batch = sweep_batch
        self.retry_after = retry_after
        #: How many pathways were read from the event store (tests count them).
        self.loads = 0
        self.loaded_ids: list[UUID] = []
        #: Called with each Outcome that sent commands (metrics, latency benchmark).
        self.on_outcome: Callable[[Outcome], None] | None = None

    # ------------------------------------------------------------------ entry points
    def settings_for(self, territory: str) -> TerritorySettings:
        settings = (self.settings_source(territory) if self.settings_source is not None
                    else _settings_for(territory, self.territories))
        name_agencies = bool(self.agency_names) and not settings.agency_names
        if not name_agencies and self.directory is None:
            return settings
        named = self._named.get(territory)
        if named is None or named[0] is not settings:  # a new version came into force
            given = settings.model_copy(update={"agency_names": self.agency_names}) if name_agencies else settings
            named = self._named[territory] = (settings, given.with_directory(self.directory))
        return named[1]

    def on_event(self, conn: Any, pathway_id: UUID, *, event_name: str | None = None,
                 actor_agency: str | None = None) -> Outcome:
        """A pathway event arrived: evaluate the pathway now (on `conn`'s transaction for the
        index; None: a transaction of the index's own). The engine's own alert events only
        re-index the pathway."""
        own = event_name in ALERT_EVENTS and actor_agency == SYSTEM_AGENCY
        if conn is None:
            with self.deadlines.transaction() as own_conn:
                return self.process(own_conn, pathway_id, self.clock.now(), send=not own)
        return self.process(conn, pathway_id, self.clock.now(), send=not own)

    def handle_cloud_event(self, conn: Any, event: Any) -> Outcome | None:
        """A CloudEvent from `relais.pathway-events` (Kafka or the in-process bus)."""
        if not str(event.type).startswith(TYPE_PREFIX) or not event.subject:
            return None
        name = str(event.type)[len(TYPE_PREFIX):].rsplit(".v", 1)[0]
        actor = (event.data or {}).get("actor") if isinstance(event.data, Mapping) else None
        agency = actor.get("agency") if isinstance(actor, Mapping) else None
        return self.on_event(conn, UUID(str(event.subject)), event_name=name, actor_agency=agency)

    def sweep(self, now: datetime | None = None, *, limit: int | None = None, send: bool = True) -> SweepResult:
        """Evaluate the pathways whose deadline has passed (read through the index, in
        batches of `sweep_batch`, each batch one transaction of the index). `send=False`
        evaluates and re-indexes without sending alert commands (benchmarks, dry runs)."""
        now = _aware(now or self.clock.now())
        result = SweepResult(now=now)
        seen: set[UUID] = set()
        while limit is None or result.due < limit:
            batch = self.sweep_batch if limit is None else min(self.sweep_batch, limit - result.due)
            with self.deadlines.transaction() as conn:
                started = time.perf_counter()
                rows = [r for r in self.deadlines.due(conn, now, batch) if r.pathway_id not in seen]
                result.select_s += time.perf_counter() - started
                started = time.perf_counter()
                loaded = self.load_many([r.pathway_id for r in rows])
                result.load_s += time.perf_counter() - started
                writes: list[tuple[UUID, str, datetime | None]] = []
                for row in rows:
                    seen.add(row.pathway_id)
                    try:
                        result.add(self.process(conn, row.pathway_id, now, send=send,
                                                loaded=loaded.get(row.pathway_id), index_writes=writes))
                    except Exception as exc:  # noqa: BLE001 - one pathway must not block the others
                        # A bug in a rule, or a command that kept losing its race: this pathway
                        # is tried again later; the rest of the batch goes on.
                        result.failed += 1
                        writes.append((row.pathway_id, row.territory, now + self.retry_after))
                        log.exception("pathway evaluation failed; retried later", extra={
                            "event": "evaluation_failed", "pathway_id": str(row.pathway_id), "error": repr(exc),
                            "retry_at": (now + self.retry_after).isoformat()})
                self.deadlines.set_many(conn, writes)
                result.process_s += time.perf_counter() - started
            result.due += len(rows)
            result.batches += 1
            if len(rows) < batch:
                break
        if result.due:
            log.info("sweep", extra={"event": "sweep", "now": now.isoformat(), "due": result.due,
                                     "raised": result.raised, "resolved": result.resolved,
                                     "escalated": result.escalated,
                                     "select_ms": round(result.select_s * 1000, 1),
                                     "process_ms": round(result.process_s * 1000, 1)})
        return result

    # ------------------------------------------------------------------ one pathway
    def load(self, pathway_id: UUID) -> _Loaded | None:
        self.loads += 1
        self.loaded_ids.append(pathway_id)
        events = list(self.pathways.app.events.get(pathway_id))
        if not events:
            return None
        return _Loaded(pathway=project_aggregate(None, events), events=events)

    def load_many(self, pathway_ids: list[UUID]) -> dict[UUID, _Loaded]:
        """Several pathways in one read of the event store when it is PostgreSQL (a sweep
        batch); one read each otherwise. Pathways with no events are left out."""
        if not pathway_ids:
            return {}
        stored = _select_many(self.pathways.app, pathway_ids)
        if stored is None:
            out = {}
            for pathway_id in pathway_ids:
                loaded = self.load(pathway_id)
                if loaded is not None:
                    out[pathway_id] = loaded
            return out
        self.loads += len(pathway_ids)
        self.loaded_ids.extend(pathway_ids)
        mapper = self.pathways.app.mapper
        out = {}
        for pathway_id, records in stored.items():
            events = [mapper.to_domain_event(record) for record in records]
            out[pathway_id] = _Loaded(pathway=project_aggregate(None, events), events=events)
        return out

    def process(self, conn: Any, pathway_id: UUID, now: datetime, *, send: bool = True,
                loaded: _Loaded | None = None,
                index_writes: list[tuple[UUID, str, datetime | None]] | None = None) -> Outcome:
        """Evaluate one pathway at `now`, send the alert commands (unless `send` is false) and
        index its next deadline on `conn` (or append the write to `index_writes`)."""
        now = _aware(now)
        outcome = Outcome(pathway_id=pathway_id)

        def index(territory: str, due: datetime | None) -> None:
            if index_writes is None:
                self.deadlines.set(conn, pathway_id, territory, due)
            else:
                index_writes.append((pathway_id, territory, due))

        if loaded is None and index_writes is None:
            try:
                loaded = self.load(pathway_id)
            except AggregateNotFoundError:
                loaded = None
        if loaded is None:
            outcome.found = False
            index("", None)
            return outcome
        pathway = loaded.pathway
        settings = self.settings_for(pathway.territory)
        if pathway.is_closed:
            # A closed pathway raises nothing; the aggregate accepts no alert command either.
            index(pathway.territory, None)
            return outcome

        findings = evaluate(pathway, now, settings)
        escalation_dues: list[datetime] = []
        if send:
            self._raise(pathway, loaded.events, findings, now, outcome, settings, escalation_dues)
            self._resolve(pathway, findings, now, outcome)
            self._update(pathway, loaded.events, findings, now, outcome)
            self._escalate(pathway, now, outcome, settings, escalation_dues)
        else:
            for alert in pathway.open_alerts:
                due = self._escalation_due(alert)
                if due is not None:
                    escalation_dues.append(due if due > now else now + self.retry_after)
            if self._unraised(pathway, loaded.events, findings):
                # A risk found with no alert (its raise was refused, or it began just now):
                # a sweep comes back to it soon instead of the index forgetting it.
                escalation_dues.append(now + self.retry_after)

        candidates = [d for d in (next_deadline(pathway, now, settings), next_revision(pathway, now, settings),
                                  *escalation_dues) if d is not None]
        if outcome.refused:
            candidates.append(now + self.retry_after)
        due = min((_aware(d) for d in candidates), default=None)
        if due is not None and due <= now:  # never index a moment already past: the sweep would spin
            due = now + self.retry_after
        outcome.next_due = due
        index(pathway.territory, due)
        if outcome.commands or outcome.refused:
            log.info("evaluated", extra={
                "event": "evaluated", "pathway_id": str(pathway_id), "raised": [str(a) for a in outcome.raised],
                "resolved": [str(a) for a in outcome.resolved], "updated": [str(a) for a in outcome.updated],
                "escalated": [str(a) for a in outcome.escalated],
                "refused": outcome.refused, "next_due": due.isoformat() if due else None,
            })
            if self.on_outcome is not None:
                self.on_outcome(outcome)
        return outcome

    # ------------------------------------------------------------------ actions
    def _raise(self, pathway: Any, events: list[Any], findings: list[RiskFinding], now: datetime,
               outcome: Outcome, settings: TerritorySettings, escalation_dues: list[datetime]) -> None:
        open_keys = {(a.rule_id, a.subject) for a in pathway.open_alerts}
        seen: set[tuple[str, str]] = set()
        for finding in findings:
            key = finding.key
            if key in open_keys or key in seen:
                continue
            seen.add(key)
            earlier = [a for a in pathway.alerts.values() if (a.rule_id, a.subject) == key]
            if self._resolved_by_hand_since(events, earlier, finding):
                continue
            alert_id = alert_id_for(pathway.id, finding.rule_id, finding.subject, len(earlier))
            command = RaiseAlert(
                command_id=command_id_for(alert_id, "raise"), pathway_id=pathway.id, actor=RISK_ACTOR,
                occurred_at=now, alert_id=alert_id, rule_id=finding.rule_id, subject=finding.subject,
                triggering_event_ids=triggering_event_ids(pathway.id, events, finding.triggering_facts),
                owner_agency=finding.owner_agency, suggested_action=finding.suggested_action,
                severity=finding.severity,
            )
            if self._send(command, outcome):
                outcome.raised.append(alert_id)
                ALERTS_RAISED.labels(finding.rule_id).inc()
                delay = self.escalation.delay(finding.severity)
                if delay is not None:
                    escalation_dues.append(now + delay)

    def _unraised(self, pathway: Any, events: list[Any], findings: list[RiskFinding]) -> bool:
        open_keys = {(a.rule_id, a.subject) for a in pathway.open_alerts}
        for finding in findings:
            if finding.key in open_keys:
                continue
            earlier = [a for a in pathway.alerts.values() if (a.rule_id, a.subject) == finding.key]
            if not self._resolved_by_hand_since(events, earlier, finding):
                return True
        return False

    def _resolve(self, pathway: Any, findings: list[RiskFinding], now: datetime, outcome: Outcome) -> None:
        managed = [a for a in pathway.open_alerts if a.rule_id in RULES]
        names = self.settings_for(pathway.territory).agency_names  # the rules' sentences' names
        for resolution in resolved_findings(managed, findings, pathway, names):
            alert_id = resolution.alert_id
            assert alert_id is not None
            command = ResolveAlert(
                command_id=command_id_for(alert_id, "resolve"), pathway_id=pathway.id, actor=RISK_ACTOR,
                occurred_at=now, alert_id=alert_id, reason=resolution.reason[:500],
            )
            if self._send(command, outcome):
                outcome.resolved.append(alert_id)

    def _update(self, pathway: Any, events: list[Any], findings: list[RiskFinding], now: datetime,
                outcome: Outcome) -> None:
        """Open alerts whose risk is still found with another owner, text or severity."""
        by_key = {}
        for finding in findings:
            by_key.setdefault(finding.key, finding)
        for alert in pathway.open_alerts:
            finding = by_key.get((alert.rule_id, alert.subject))
            if finding is None or alert.alert_id in outcome.raised:
                continue
            if (alert.owner_agency, alert.suggested_action, alert.severity) == (
                    finding.owner_agency, finding.suggested_action, finding.severity):
                continue
            # The n-th update of this alert: a redelivery sends the same command id again.
            n = sum(1 for e in events if type(e).__name__ == "AlertUpdated"
                    and getattr(e, "alert_id", None) == alert.alert_id)
            command = UpdateAlert(
                command_id=command_id_for(alert.alert_id, f"update:{n}"), pathway_id=pathway.id, actor=RISK_ACTOR,
                occurred_at=now, alert_id=alert.alert_id, owner_agency=finding.owner_agency,
                suggested_action=finding.suggested_action, severity=finding.severity,
            )
            if self._send(command, outcome):
                outcome.updated.append(alert.alert_id)

    def _escalate(self, pathway: Any, now: datetime, outcome: Outcome, settings: TerritorySettings,
                  escalation_dues: list[datetime]) -> None:
        for alert in pathway.open_alerts:
            if alert.alert_id in outcome.resolved:
                continue
            due = self._escalation_due(alert)
            if due is None:
                continue
            if due > now:
                escalation_dues.append(due)
                continue
            target = escalation_target(pathway, alert.owner_agency, settings)
            hours = int((now - _aware(alert.raised_at)).total_seconds() // 3600)
            reason = (
                f"Alerte « {RULES[alert.rule_id].title if alert.rule_id in RULES else alert.rule_id} » "
                f"(sévérité {SEVERITY_LABELS[AlertSeverity(alert.severity).value]}) sans prise en compte par "
                f"{settings.agency_name(alert.owner_agency)} depuis {hours} h : "
                f"transmise à {settings.agency_name(target)} pour coordination."
            )
            command = EscalateAlert(
                command_id=command_id_for(alert.alert_id, "escalate"), pathway_id=pathway.id, actor=RISK_ACTOR,
                occurred_at=now, alert_id=alert.alert_id, to_agency=target, reason=reason[:500],
            )
            if self._send(command, outcome):
                outcome.escalated.append(alert.alert_id)

    def _escalation_due(self, alert: Any) -> datetime | None:
        """When a still-unacknowledged alert goes up (None: it does not, or no longer can)."""
        if alert.status is not AlertStatus.RAISED or alert.rule_id not in RULES:
            return None
        delay = self.escalation.delay(alert.severity)
        return None if delay is None else _aware(alert.raised_at) + delay

    @staticmethod
    def _resolved_by_hand_since(events: list[Any], earlier: list[Any], finding: RiskFinding) -> bool:
        if not earlier:
            return False
        last = max(earlier, key=lambda a: _aware(a.raised_at))
        if last.status not in (AlertStatus.RESOLVED, AlertStatus.DISMISSED) or last.status_changed_at is None:
            return False
        by_system = any(
            type(e).__name__ == "AlertResolved" and getattr(e, "alert_id", None) == last.alert_id
            and getattr(getattr(e, "actor", None), "is_system", False)
            for e in events
        )
        if by_system or _resolved_by_closure(events, last.alert_id):
            return False
        return _aware(finding.since) <= _aware(last.status_changed_at)

    def _send(self, command: Any, outcome: Outcome) -> bool:
        """True when the command wrote its event now (False: done before, or refused)."""
        result: CommandResult = self.pathways.handle(command)
        if result.accepted and not result.duplicate:
            return True
        if result.accepted:  # the same command id answered before: a redelivery
            return False
        code = result.rejection.code if result.rejection else "INVALID_VALUE"
        if code not in _ALREADY:
            reason = str(result.rejection)
            outcome.refused.append((type(command).__name__, reason))
            log.warning("alert command refused", extra={
                "event": "refused", "pathway_id": str(command.pathway_id), "command": type(command).__name__,
                "alert_id": str(command.alert_id), "code": code, "reason": reason,
            })
        return False


def _select_many(app: Any, pathway_ids: list[UUID]) -> dict[UUID, list[Any]] | None:
    """The stored events of several pathways in one query, on the library's PostgreSQL
    recorder (same table and columns as its `select_events`); None on another recorder."""
    try:
        from eventsourcing.persistence import StoredEvent
        from eventsourcing.postgres import PostgresAggregateRecorder
        from psycopg.sql import SQL, Identifier
    except ImportError:  # pragma: no cover - the postgres extra is installed with Relais
        return None
    recorder = app.recorder
    if not isinstance(recorder, PostgresAggregateRecorder):
        return None
    statement = SQL(
        "SELECT originator_id, originator_version, topic, state FROM {schema}.{table} "
        "WHERE originator_id = ANY(%s) ORDER BY originator_id, originator_version"
    ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
    out: dict[UUID, list[Any]] = {}
    with recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
        cursor.execute(statement, [list(pathway_ids)])
        for row in cursor.fetchall():
            out.setdefault(row["originator_id"], []).append(StoredEvent(
                originator_id=row["originator_id"], originator_version=row["originator_version"],
                topic=row["topic"], state=bytes(row["state"]),
            ))
    return out


# --------------------------------------------------------------------------- triggering events
def triggering_event_ids(pathway_id: UUID, events: list[Any], facts: Iterable[FactRef]) -> list[str]:
    """Wire ids of the events behind `facts`: per fact, the latest stored event of one of its
    types about its entity (an event that names another entity of the same kind does not
    count; one that names none does). Falls back to the latest event when none matches."""
    ids: list[str] = []
    for fact in facts:
        kind, _, value = fact.ref.partition(":")
        attributes = _REF_ATTRIBUTES.get(kind, ()) if value else ()
        best = None
        for stored in reversed(events):
            if type(stored).__name__ not in fact.events:
                continue
            carried = [a for a in attributes if hasattr(stored, a)]
            if carried and not any(str(getattr(stored, a)) == value for a in carried):
                continue
            best = stored
            break
        if best is not None:
            ident = event_id(pathway_id, best.originator_version)
            if ident not in ids:
                ids.append(ident)
    if not ids and events:
        ids.append(event_id(pathway_id, events[-1].originator_version))
    return ids


def _resolved_by_closure(events: list[Any], alert_id: UUID) -> bool:
    """Whether the alert was resolved by closing the pathway (the aggregate writes the closure's
    AlertResolved events right before PathwayClosed, in the same command): nobody judged the
    risk handled, so a reopened pathway gets the alert again if the risk is still there."""
    for index, stored in enumerate(events):
        if type(stored).__name__ == "AlertResolved" and getattr(stored, "alert_id", None) == alert_id:
            for following in events[index + 1:]:
                name = type(following).__name__
                if name != "AlertResolved":
                    # Same command: same actor and moment (a hand resolution the day before a
                    # closure stays a hand resolution).
                    return (name == "PathwayClosed"
                            and getattr(following, "occurred_at", None) == getattr(stored, "occurred_at", None)
                            and getattr(following, "actor", None) == getattr(stored, "actor", None))
            return False
    return False


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


__all__ = [
    "ALERT_EVENTS", "ALERT_NAMESPACE", "RISK_ACTOR", "EscalationPolicy", "Outcome", "RiskEngine", "SweepResult",
    "alert_id_for", "command_id_for", "escalation_target", "triggering_event_ids",
]
