"""The gateway's index of pathways: which ids match a filter, in which order.

A stop-gap until projections/ provides the pathway-summary read model: it follows the event
store's notification log (works the same on SQLite and PostgreSQL, never behind the store by
more than one poll) and keeps, per pathway, only what filtering, ordering and de-identified
counts need. It never serves personal data: the gateway reads the pathways themselves from
the event store (gateway.store) and decides disclosure on what it read there.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from domain.values import ParticipantRole
from services.pathways.application import PathwaysApplication

log = logging.getLogger("relais.gateway.directory")

SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}
KIND_OF_OPENING = {"DetentionPathwayOpened": "detention", "MaternityPathwayOpened": "maternity",
                   "SasPathwayOpened": "sas", "PassGpPathwayOpened": "pass_gp"}


@dataclass
class OpenAlertEntry:
    alert_id: UUID
    rule_id: str
    severity: str
    owner_agency: str
    raised_at: datetime
    position: int
    escalated_to: str | None = None


@dataclass
class Entry:
    pathway_id: UUID
    kind: str
    territory: str
    lead_agency: str
    opened_at: datetime
    position: int  # notification id of the opening
    participants: dict[str, str] = field(default_factory=dict)
    closed: bool = False
    closure_outcome: str | None = None
    last_activity_at: datetime | None = None
    open_needs: set[UUID] = field(default_factory=set)
    open_alerts: dict[UUID, OpenAlertEntry] = field(default_factory=dict)
    referrals: dict[UUID, dict[str, Any]] = field(default_factory=dict)
    gp_outcomes: list[tuple[str, str | None]] = field(default_factory=list)


def _name(event: Any) -> str:
    return type(event).__name__


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


class Directory:
    def __init__(self, app: PathwaysApplication) -> None:
        self.app = app
        self._lock = threading.RLock()
        self._entries: dict[UUID, Entry] = {}
        self.position = 0
        self.alerts_raised: Counter[tuple[str, str]] = Counter()  # (territory, rule id) -> raised

    # ------------------------------------------------------------------ following
    def catch_up(self, batch: int = 2000) -> int:
        """Apply every notification since the last one seen; return how many."""
        done = 0
        while True:
            notifications = self.app.recorder.select_notifications(start=self.position, limit=batch,
                                                                   inclusive_of_start=False)
            if not notifications:
                return done
            with self._lock:
                for n in notifications:
                    if n.topic.startswith("domain."):
                        try:
                            self.apply(self.app.mapper.to_domain_event(n), n.id)
                        except Exception:  # noqa: BLE001 - one odd event must not stop the index
                            log.exception("directory: event %s not indexed", n.id)
                    self.position = n.id
            done += len(notifications)

    def follow(self, stop: threading.Event, interval: float = 0.05) -> None:
        while not stop.is_set():
            try:
                if self.catch_up() == 0:
                    stop.wait(interval)
            except Exception:  # noqa: BLE001 - the store may be restarting: retry
                log.warning("directory: store unavailable, retrying", exc_info=True)
                stop.wait(1.0)

    def apply(self, event: Any, position: int) -> None:
        name = _name(event)
        pathway_id = UUID(str(event.originator_id))
        occurred = _aware(getattr(event, "occurred_at", None) or event.timestamp)
        if name in KIND_OF_OPENING:
            lead = event.lead_agency
            participants = {lead: ParticipantRole.LEAD.value}
            actor = event.actor
            if actor.agency != "relais" and actor.agency != lead:
                participants[actor.agency] = ParticipantRole.COORDINATION.value
            self._entries[pathway_id] = Entry(pathway_id, KIND_OF_OPENING[name], event.territory, lead, occurred,
                                              position, participants, last_activity_at=occurred)
            return
        entry = self._entries.get(pathway_id)
        if entry is None:
            return
        if entry.last_activity_at is None or occurred > entry.last_activity_at:
            entry.last_activity_at = occurred
        if name == "AgencyJoined":
            entry.participants[event.agency] = str(getattr(event.role, "value", event.role))
        elif name == "AgencyLeft":
            entry.participants.pop(event.agency, None)
        elif name == "NeedRecorded":
            entry.open_needs.add(event.need_id)
        elif name == "NeedMet":
            entry.open_needs.discard(event.need_id)
        elif name == "ReferralMade":
            entry.referrals[event.referral_id] = {"to_agency": event.to_agency, "status": "requested", "outcome": None}
        elif name == "ReferralStatusChanged" and event.referral_id in entry.referrals:
            entry.referrals[event.referral_id]["status"] = str(getattr(event.status, "value", event.status))
        elif name == "ReferralOutcomeRecorded" and event.referral_id in entry.referrals:
            entry.referrals[event.referral_id]["outcome"] = str(getattr(event.outcome, "value", event.outcome))
        elif name == "GpVisitOutcomeRecorded":
            reason = getattr(event, "reason", None)
            entry.gp_outcomes.append((str(getattr(event.outcome, "value", event.outcome)),
                                      None if reason is None else str(getattr(reason, "value", reason))))
        elif name == "AlertRaised":
            entry.open_alerts[event.alert_id] = OpenAlertEntry(
                event.alert_id, event.rule_id, str(getattr(event.severity, "value", event.severity)),
                event.owner_agency, occurred, position)
            self.alerts_raised[(entry.territory, event.rule_id)] += 1
        elif name == "AlertEscalated" and event.alert_id in entry.open_alerts:
            entry.open_alerts[event.alert_id].escalated_to = event.to_agency
        elif name == "AlertResolved":
            entry.open_alerts.pop(event.alert_id, None)
        elif name == "PathwayClosed":
            entry.closed = True
            entry.closure_outcome = str(getattr(event.outcome, "value", event.outcome))
        elif name == "PathwayReopened":
            entry.closed = False
            entry.closure_outcome = None

    # ------------------------------------------------------------------ reading
    def entry(self, pathway_id: UUID) -> Entry | None:
        with self._lock:
            return self._entries.get(pathway_id)

    def entries(self) -> list[Entry]:
        with self._lock:
            return list(self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)
