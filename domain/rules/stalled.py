"""stalled: an open pathway with open needs has had no event for N days (fewer for the SAS,
whose stay lasts three weeks). Owner: the lead agency (take stock with the person, or call a
case conference).

"No event" must not count the engine's own alert events: raising the stalled alert would
otherwise reset the clock and resolve itself. The rule counts from the aggregate's
`last_progress_at`, which every event but the alerts' moves (a late entry never moves it back).
A booked appointment still to come is a next step in place: the pathway is not stalled before it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.rules._common import Candidate, aware, days, earliest, fired, fmt_day, is_active, local_date
from domain.rules.settings import TerritorySettings
from domain.rules.types import FactRef, RiskFinding
from domain.values import AlertSeverity, AppointmentStatus, PathwayKind

RULE_ID = "stalled"


def last_progress_at(pathway: Any) -> datetime:
    """The last event that was not an alert's (`Pathway.last_progress_at`)."""
    return aware(pathway.last_progress_at)


def threshold_days(pathway: Any, settings: TerritorySettings) -> int:
    return settings.sas_stalled_days if pathway.kind is PathwayKind.SAS else settings.stalled_days


def _candidates(pathway: Any, settings: TerritorySettings) -> list[Candidate]:
    if not is_active(pathway):
        return []
    needs = pathway.open_needs
    if not needs:
        return []
    progress = last_progress_at(pathway)
    start = progress + days(threshold_days(pathway, settings))
    upcoming = [aware(a.scheduled_at) for a in pathway.appointments.values() if a.status is AppointmentStatus.BOOKED]
    later = [t for t in upcoming if t > progress]
    if later:
        start = max(start, max(later))
    count = f"{len(needs)} besoin{'s' if len(needs) > 1 else ''} ouvert{'s' if len(needs) > 1 else ''}"
    return [Candidate(start=start, finding=RiskFinding(
        rule_id=RULE_ID,
        subject="pathway",
        owner_agency=pathway.lead_agency,
        suggested_action=(
            f"Parcours sans mouvement depuis le {fmt_day(local_date(progress, settings))} avec {count} : "
            "faire le point avec la personne et les structures, ou programmer une synthèse."
        ),
        severity=AlertSeverity.MEDIUM,
        triggering_facts=tuple(
            FactRef(fact="need_open", ref=f"need:{n.need_id}", events=("NeedRecorded",), at=n.recorded_at)
            for n in needs
        ),
        since=start,
    ))]


def check_stalled(pathway: Any, now: datetime, settings: TerritorySettings) -> list[RiskFinding]:
    return fired(_candidates(pathway, settings), now)


def next_deadline_stalled(pathway: Any, now: datetime, settings: TerritorySettings) -> datetime | None:
    return earliest(_candidates(pathway, settings), now)
