"""Facts the rules read from the pathway state, named once (with the events behind them)."""

from __future__ import annotations

from datetime import date
from typing import Any

from domain.rules.settings import TerritorySettings
from domain.rules.types import FactRef
from domain.values import (
    AppointmentStatus,
    CoverageScheme,
    CoverageStatus,
    HousingStatus,
    ParticipantRole,
    PathwayKind,
)

#: Schemes that are health coverage proper ("soins urgents" is a hospital billing route).
COVERAGE_SCHEMES = frozenset({CoverageScheme.PUMA, CoverageScheme.CSS, CoverageScheme.AME})

_EXIT_EVENTS = {
    PathwayKind.DETENTION: ("DetentionPathwayOpened", "ReleaseDateSet", "Released"),
    PathwayKind.MATERNITY: ("MaternityPathwayOpened", "DischargeDateSet", "Discharged"),
    PathwayKind.SAS: ("SasPathwayOpened", "SasLeft"),
}

_EXIT_WORD = {
    PathwayKind.DETENTION: "la sortie de détention",
    PathwayKind.MATERNITY: "la sortie de maternité",
    PathwayKind.SAS: "la fin du séjour au SAS",
}


def exit_day(pathway: Any) -> date | None:
    """The exit that happened, or else the one planned (release, discharge, SAS day 21)."""
    exited = getattr(pathway, "exited_on", None)
    return exited if exited is not None else getattr(pathway, "exit_date", None)


def has_exited(pathway: Any) -> bool:
    return getattr(pathway, "exited_on", None) is not None


def exit_words(pathway: Any) -> str:
    return _EXIT_WORD.get(pathway.kind, "la sortie")


def exit_fact(pathway: Any) -> FactRef:
    return FactRef(
        fact="exited" if has_exited(pathway) else "exit_date",
        ref="pathway",
        events=_EXIT_EVENTS.get(pathway.kind, ()),
    )


def housing_solution(pathway: Any) -> bool:
    """A confirmed housing solution; for the SAS, also the orientation decided (it *is* the
    housing at exit) or the recorded destination."""
    if any(h.status is HousingStatus.CONFIRMED for h in pathway.housing_requests.values()):
        return True
    if pathway.kind is PathwayKind.SAS:
        return getattr(pathway, "orientation", None) is not None or getattr(pathway, "exit_destination", None) is not None
    return False


def housing_owner(pathway: Any, settings: TerritorySettings) -> tuple[str, Any | None]:
    """Who owns the next housing step, and the pending request if any (the latest).

    A request is pending: its SIAO owns the answer. No request yet: a SIAO taking part in
    the pathway owns it; otherwise the lead agency, whose social worker files the request."""
    pending = [h for h in pathway.housing_requests.values() if h.status is not HousingStatus.CONFIRMED]
    if pending:
        latest = max(pending, key=lambda h: h.requested_at)
        return latest.via_agency, latest
    holder = next((a for a, r in pathway.participants.items() if r is ParticipantRole.HOUSING), None)
    return (holder or pathway.lead_agency), None


def housing_facts(pathway: Any) -> list[FactRef]:
    return [
        FactRef(
            fact=f"housing_{h.status.value}", ref=f"housing:{h.request_id}",
            events=("HousingRequested", "HousingOffered", "HousingDeclined"), at=h.status_changed_at or h.requested_at,
        )
        for h in pathway.housing_requests.values()
    ]


def coverage_open(pathway: Any) -> bool:
    return any(
        scheme in COVERAGE_SCHEMES and right.status is CoverageStatus.OPEN for scheme, right in pathway.coverage.items()
    )


def pending_appointments(pathway: Any) -> list[Any]:
    return [a for a in pathway.appointments.values() if a.status is AppointmentStatus.BOOKED]

