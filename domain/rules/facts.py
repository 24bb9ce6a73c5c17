"""Facts the rules read from the pathway state, named once (with the events behind them)."""

from __future__ import annotations

from datetime import date
from typing import Any

from domain.rules._common import acting_owner, mentions
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


#: The destination kinds that are a housing solution (a closed list, matched as words, case
#: and accents ignored): asylum and emergency accommodation, social housing, ordinary housing.
HOUSING_DESTINATIONS: tuple[str, ...] = (
    "CADA", "HUDA", "CAES", "CPH", "PRAHDA", "CHRS", "CHU", "LHSS", "LAM", "ACT", "logement", "hébergement",
    "hébergement d'urgence", "résidence sociale", "pension de famille", "maison relais", "foyer",
    "intermédiation locative", "hôtel social",
)
#: Words that say there is no solution, whatever else the text says ("hébergement : aucun").
NO_SOLUTION: tuple[str, ...] = ("rue", "sans solution", "aucun", "aucune", "sans abri", "sans domicile", "inconnu",
                                "inconnue")


def is_housing_destination(destination: str | None) -> bool:
    """Whether an orientation or exit destination is a housing solution (not "rue")."""
    return (destination is not None and mentions((destination,), HOUSING_DESTINATIONS)
            and not mentions((destination,), NO_SOLUTION))


def housing_destination(pathway: Any) -> str | None:
    """The SAS orientation (or exit destination) when it is a housing solution."""
    for destination in (getattr(pathway, "orientation", None), getattr(pathway, "exit_destination", None)):
        if is_housing_destination(destination):
            return destination
    return None


def housing_solution(pathway: Any) -> bool:
    """A confirmed housing solution; for the SAS, also the orientation decided (it *is* the
    housing at exit) or the recorded destination, when it is a housing solution."""
    if any(h.status is HousingStatus.CONFIRMED for h in pathway.housing_requests.values()):
        return True
    if pathway.kind is PathwayKind.SAS:
        return housing_destination(pathway) is not None
    return False


def housing_owner(pathway: Any, settings: TerritorySettings, rule_id: str = "exit-without-housing",
                  subject: str = "exit") -> tuple[str, Any | None]:
    """Who owns the next housing step, and the pending request if any (the latest).

    A request is pending: its SIAO owns the answer when it takes part. Else a SIAO taking part
    in the pathway owns it (the alert moves to it when it joins); otherwise the lead agency,
    whose social worker files the request."""
    pending = [h for h in pathway.housing_requests.values() if h.status is not HousingStatus.CONFIRMED]
    latest = max(pending, key=lambda h: h.requested_at) if pending else None
    holders = [a for a, r in pathway.participants.items() if r is ParticipantRole.HOUSING]
    owner = acting_owner(pathway, rule_id, subject, latest.via_agency if latest else None, *holders)
    return owner, latest


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

