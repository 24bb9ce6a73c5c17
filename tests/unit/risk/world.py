"""A small territory in one process: the pathways service on SQLite in memory, the outbox relay
onto the InProcessBus, the risk engine subscribed to it with an SQLite deadline index, and a
test clock. Tests send commands (as the agencies would), move the clock and sweep.

Times: DAY0 is Monday 2 March 2026, 09:00 UTC (10:00 in Rouen); Paris is UTC+1 until the
29 March 2026 switch to summer time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

from domain.rules import TerritorySettings
from domain.values import Alert, ParticipantRole
from infra.bus import InProcessBus
from services.bootstrap import build_pathways_application, is_pathway_event
from services.clock import TestClock
from services.pathways import PathwaysHandler
from services.relay.positions import MemoryPositionStore
from services.relay.relay import Relay
from services.relay.wire import event_id
from services.risk import RiskEngine, SQLiteDeadlineIndex
from services.risk.runner import EmbeddedRisk
from services.settings import Settings

PARIS = ZoneInfo("Europe/Paris")
DAY0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
MINUTE = timedelta(minutes=1)

ROUEN = TerritorySettings(territory="76", siao_agency="siao-76", cpam_agency="cpam-76", dac_agency="dac-rouen")


def at(days: float = 0, hours: float = 0) -> datetime:
    return DAY0 + timedelta(days=days, hours=hours)


def on(days: int) -> date:
    return (DAY0 + timedelta(days=days)).date()


def paris_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=PARIS).astimezone(timezone.utc)


@dataclass(frozen=True)
class Agency:
    """An agency of the simulated territory; `role` is a role code of the write policy
    (domain.disclosure.Role): the handler refuses what that role may not record."""

    agency: str
    professional: str
    role: str
    participant_role: ParticipantRole = ParticipantRole.OTHER

    def actor(self) -> dict[str, str]:
        return {"agency": self.agency, "professional": self.professional, "role": self.role}


PASS = Agency("pass-chu-rouen", "pro-as-12", "infirmier", ParticipantRole.HEALTH_CARE)
CASO = Agency("mdm-caso-rouen", "benevole-4", "medecin", ParticipantRole.HEALTH_CARE)
SIAO = Agency("siao-76", "pro-siao-3", "coordinateur", ParticipantRole.HOUSING)
CPAM = Agency("cpam-76", "pro-cpam-1", "conseiller", ParticipantRole.RIGHTS)
DAC = Agency("dac-rouen", "pro-dac-1", "coordinateur", ParticipantRole.COORDINATION)
EMPP = Agency("empp-rouen", "pro-empp-2", "infirmier", ParticipantRole.MENTAL_HEALTH)
# CADA and ADOMA book medical appointments in the scenarios: the write policy lets only a role
# that needs the medical category record one (BookAppointment), hence their nurse.
CADA = Agency("cada-rouen", "pro-cada-2", "infirmier", ParticipantRole.SOCIAL_SUPPORT)
CARDIO = Agency("chu-rouen-cardiologie", "pro-cardio-1", "medecin", ParticipantRole.HEALTH_CARE)
USMP = Agency("usmp-rouen", "pro-usmp-5", "infirmier", ParticipantRole.HEALTH_CARE)
SPIP = Agency("spip-76", "pro-spip-8", "conseiller_penitentiaire", ParticipantRole.JUSTICE)
CSAPA = Agency("csapa-rouen", "pro-csapa-1", "medecin", ParticipantRole.ADDICTION_CARE)
MATERNITY = Agency("maternite-chu-rouen", "pro-mat-6", "sage_femme", ParticipantRole.MATERNAL_CHILD)
PMI = Agency("pmi-76", "pro-pmi-2", "puericultrice", ParticipantRole.MATERNAL_CHILD)
ADOMA = Agency("adoma-sas-rouen", "pro-sas-9", "infirmier", ParticipantRole.SOCIAL_SUPPORT)
CLAT = Agency("clat-76", "pro-clat-1", "infirmier", ParticipantRole.SCREENING)


class Rejected(AssertionError):
    pass


class World:
    def __init__(self, tmp: Path, *, start: datetime = DAY0, **engine_options: Any) -> None:
        self.app = build_pathways_application(Settings(mode="embedded", state_dir=tmp / "state"),
                                              SQLITE_DBNAME=":memory:")
        self.handler = PathwaysHandler(self.app)
        self.bus = InProcessBus()
        self.relay = Relay(self.app, self.bus, MemoryPositionStore(), is_published=is_pathway_event)
        self.clock = TestClock(start)
        self.index = SQLiteDeadlineIndex()
        self.engine = RiskEngine(self.handler, self.clock, self.index, territories={"76": ROUEN}, **engine_options)
        self.embedded = EmbeddedRisk(self.engine, self.bus).start(timer=False)

    def close(self) -> None:
        self.embedded.stop()
        self.index.close()
        self.app.close()

    # ------------------------------------------------------------------ commands
    def send(self, command_type: str, pathway_id: UUID, by: Agency, *, when: datetime | None = None,
             pump: bool = True, **fields: Any) -> Any:
        if when is not None and when > self.clock.now():
            self.clock.set(when)
        payload = {
            "command_id": str(uuid4()), "pathway_id": str(pathway_id), "actor": by.actor(),
            "occurred_at": (when or self.clock.now()).isoformat(), **_jsonable(fields),
        }
        result = self.handler.handle_payload(command_type, payload)
        if not result.accepted:
            raise Rejected(f"{command_type} refused: {result.rejection}")
        if pump:
            self.pump()
        return result

    def pump(self) -> int:
        """Relay the event store to the bus until nothing is left (the engine answers inside)."""
        total = 0
        while (n := self.relay.run_once()) > 0:
            total += n
        return total

    def open(self, kind: str, lead: Agency, *agencies: Agency, consent: bool = True, **fields: Any) -> UUID:
        pathway_id = uuid4()
        self.send(f"Open{kind}Pathway", pathway_id, lead, person_ref="P-TEST-0001", territory="76",
                  lead_agency=lead.agency, pump=False, **fields)
        self.join(pathway_id, lead, *agencies, consent=consent, pump=False)
        self.pump()
        return pathway_id

    def join(self, pathway_id: UUID, lead: Agency, *agencies: Agency, consent: bool = True, pump: bool = True) -> None:
        for agency in agencies:
            if consent:
                self.send("GrantConsent", pathway_id, lead, agency=agency.agency, categories=["social", "medical"], collected_by="p-recueil", informed_by="oral",
                          pump=False)
            self.send("AddAgency", pathway_id, lead, agency=agency.agency, role=agency.participant_role.value,
                      pump=False)
        if pump:
            self.pump()

    # ------------------------------------------------------------------ time
    def at(self, moment: datetime) -> Any:
        """Move the clock to `moment` and sweep (what the clock loop does every few seconds)."""
        self.clock.set(moment)
        result = self.engine.sweep()
        self.pump()
        return result

    # ------------------------------------------------------------------ reading
    def pathway(self, pathway_id: UUID) -> Any:
        return self.app.get_pathway(pathway_id)

    def alerts(self, pathway_id: UUID, rule_id: str | None = None) -> list[Alert]:
        alerts = self.pathway(pathway_id).alerts.values()
        return [a for a in alerts if rule_id is None or a.rule_id == rule_id]

    def open_alerts(self, pathway_id: UUID, rule_id: str | None = None) -> list[Alert]:
        return [a for a in self.pathway(pathway_id).open_alerts if rule_id is None or a.rule_id == rule_id]

    def events(self, pathway_id: UUID) -> list[Any]:
        return list(self.app.events.get(pathway_id))

    def event_ids(self, pathway_id: UUID, *names: str) -> list[str]:
        """Wire ids of the stored events of these types, oldest first."""
        return [event_id(pathway_id, e.originator_version) for e in self.events(pathway_id)
                if type(e).__name__ in names]

    def stored_event_count(self, pathway_id: UUID) -> int:
        return len(self.events(pathway_id))

    def due_at(self, pathway_id: UUID) -> datetime | None:
        with self.index.transaction() as conn:
            return self.index.get(conn, pathway_id)


def _jsonable(fields: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, value in fields.items():
        if isinstance(value, datetime | date):
            out[name] = value.isoformat()
        elif isinstance(value, UUID):
            out[name] = str(value)
        else:
            out[name] = value
    return out
