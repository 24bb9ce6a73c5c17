"""screening-overdue (SAS): arrival from a high-TB-endemicity country with no CLAT screening
within N days; health needs (care, screening, mental health, addiction) flagged with no PASS
appointment within N days.

Only a CLAT appointment (booked or seen) falling within `tb_screening_days` of the arrival
counts: one planned after the window is the risk itself. A screening done removes the risk
whenever it was done (it resolves the alert). A booked or seen PASS appointment counts as the health needs relayed. Owner: the CLAT /
PASS when it takes part in the pathway (the next step is theirs), else the SAS operator (lead),
who relays to them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.rules._common import (
    Candidate,
    acting_owner,
    aware,
    days,
    earliest,
    fired,
    fmt_day,
    is_active,
    local_date,
    local_day_start,
    mentions,
)
from domain.rules.settings import TerritorySettings
from domain.rules.types import FactRef, RiskFinding
from domain.sas import SasPathway
from domain.values import AlertSeverity, AppointmentStatus, NeedCategory, ParticipantRole

RULE_ID = "screening-overdue"

_HEALTH_NEEDS = frozenset({NeedCategory.CARE, NeedCategory.SCREENING, NeedCategory.MENTAL_HEALTH,
                           NeedCategory.ADDICTION})
_HAPPENING = frozenset({AppointmentStatus.BOOKED, AppointmentStatus.SEEN})


def _agency_in(pathway: Any, markers: tuple[str, ...], role: ParticipantRole | None = None) -> str | None:
    for agency, agency_role in pathway.participants.items():
        if mentions((agency,), markers) or (role is not None and agency_role is role):
            return agency
    return None


def _has_appointment_with(pathway: Any, markers: tuple[str, ...], by: Any = None,
                          settings: TerritorySettings | None = None) -> bool:
    """A booked or seen appointment with the service; when `by` (a local day) is given, on or before it."""
    return any(
        a.status in _HAPPENING and mentions((a.with_agency, a.service), markers)
        and (by is None or settings is None or local_date(a.scheduled_at, settings) <= by)
        for a in pathway.appointments.values()
    )


def screened_in_time(pathway: Any, settings: TerritorySettings) -> bool:
    """A CLAT screening done (a late one too: it removes the risk), or a CLAT appointment
    falling within the days allowed after arrival (one planned later leaves the window open)."""
    if pathway.clat_screened_on is not None:
        return True
    by = pathway.arrived_on + days(settings.tb_screening_days)
    return _has_appointment_with(pathway, (settings.clat_agency, "CLAT"), by, settings)


def _needs(count: int) -> str:
    return "un besoin de santé" if count == 1 else f"{count} besoins de santé"


def _candidates(pathway: Any, settings: TerritorySettings) -> list[Candidate]:
    if not isinstance(pathway, SasPathway) or not is_active(pathway):
        return []
    out = []
    arrived = pathway.arrived_on
    clat_markers, pass_markers = (settings.clat_agency, "CLAT"), (settings.pass_agency, "PASS")
    if pathway.tb_screening_needed and not screened_in_time(pathway, settings):
        start = local_day_start(arrived + days(settings.tb_screening_days), settings)
        clat = _agency_in(pathway, clat_markers, ParticipantRole.SCREENING)
        out.append(Candidate(start=start, finding=RiskFinding(
            rule_id=RULE_ID, subject="screening:tb",
            owner_agency=acting_owner(pathway, RULE_ID, "screening:tb", clat, pathway.lead_agency),
            suggested_action=(
                f"Organiser le dépistage de la tuberculose au {settings.agency_name(settings.clat_agency)} (arrivée au SAS le "
                f"{fmt_day(arrived)}, pays de forte endémie) avant la fin du séjour le {fmt_day(pathway.day_21)}."
            ),
            severity=AlertSeverity.HIGH,
            triggering_facts=(FactRef(fact="tb_screening_needed", ref="pathway",
                                      events=("SasPathwayOpened", "TbScreeningNeedFlagged")),),
            since=start, deadline=local_day_start(pathway.day_21, settings),
        )))
    health = [n for n in pathway.open_needs if n.category in _HEALTH_NEEDS]
    if health and not _has_appointment_with(pathway, pass_markers):
        first = min(health, key=lambda n: aware(n.recorded_at))
        start = aware(first.recorded_at) + days(settings.pass_appointment_days)
        pass_ = _agency_in(pathway, pass_markers)
        out.append(Candidate(start=start, finding=RiskFinding(
            rule_id=RULE_ID, subject="screening:pass",
            owner_agency=acting_owner(pathway, RULE_ID, "screening:pass", pass_, pathway.lead_agency),
            suggested_action=(
                f"Obtenir un rendez-vous à la {settings.agency_name(settings.pass_agency)} pour {_needs(len(health))} signalé"
                f"{'s' if len(health) > 1 else ''} le {fmt_day(local_date(first.recorded_at, settings))}, "
                f"avant la fin du séjour le {fmt_day(pathway.day_21)}."
            ),
            severity=AlertSeverity.MEDIUM,
            triggering_facts=tuple(
                FactRef(fact="need_open", ref=f"need:{n.need_id}", events=("NeedRecorded",), at=n.recorded_at)
                for n in health
            ),
            since=start, deadline=local_day_start(pathway.day_21, settings),
        )))
    return out


def check_screening_overdue(pathway: Any, now: datetime, settings: TerritorySettings) -> list[RiskFinding]:
    return fired(_candidates(pathway, settings), now)


def next_deadline_screening_overdue(pathway: Any, now: datetime, settings: TerritorySettings) -> datetime | None:
    return earliest(_candidates(pathway, settings), now)
