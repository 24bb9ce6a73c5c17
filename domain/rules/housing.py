"""exit-without-housing: an exit date (release, discharge, SAS day 21) is within N days and no
housing solution is confirmed. For the SAS, an orientation counts only when its destination is
a housing solution (`facts.HOUSING_DESTINATIONS`: CADA, HUDA, CHRS, LHSS, logement, hébergement
d'urgence...): "rue" or "sans solution" does not.

Owner: the SIAO that holds the pending request, else the SIAO taking part in the pathway (the
alert moves to it when it joins), else the lead agency, whose social worker files the request.
Severity: medium, high within `exit_high_days`, critical within `exit_critical_days` and after
the exit (territory settings); the alert is updated as the exit nears."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.maternity import MaternityPathway
from domain.rules._common import (
    Candidate,
    aware,
    days,
    earliest,
    fired,
    fmt_day,
    is_active,
    like,
    local_date,
    local_day_start,
)
from domain.rules.facts import exit_day, exit_fact, exit_words, has_exited, housing_facts, housing_owner, housing_solution
from domain.rules.settings import TerritorySettings
from domain.rules.types import RiskFinding
from domain.values import AlertSeverity, HousingStatus

RULE_ID = "exit-without-housing"


def housing_severity(days_left: int, exited: bool, settings: TerritorySettings) -> AlertSeverity:
    if exited or days_left <= settings.exit_critical_days:
        return AlertSeverity.CRITICAL
    if days_left <= settings.exit_high_days:
        return AlertSeverity.HIGH
    return AlertSeverity.MEDIUM


def severity_changes(day: Any, settings: TerritorySettings) -> list[datetime]:
    """The moments the housing severity band changes before an exit on `day`."""
    return [local_day_start(day - days(n), settings) for n in (settings.exit_high_days, settings.exit_critical_days)]


def housing_action(pathway: Any, settings: TerritorySettings, what: str, rule_id: str = RULE_ID,
                   subject: str = "exit") -> tuple[str, str]:
    """(owner, French action) for getting a housing solution before `what` ("la sortie du 12/03")."""
    owner, request = housing_owner(pathway, settings, rule_id, subject)
    siao = settings.agency_name(settings.siao_agency)
    if request is None:
        if owner == pathway.lead_agency:
            return owner, f"Déposer une demande d'hébergement auprès du {siao} avant {what}."
        return owner, f"Trouver une solution d'hébergement avant {what} (aucune demande enregistrée)."
    if request.status is HousingStatus.OFFERED:
        place = f" ({request.offer_place})" if request.offer_place else ""
        return owner, f"Confirmer la proposition d'hébergement{place} avant {what}."
    if request.status is HousingStatus.DECLINED:
        reason = f" — motif : {request.decline_reason}" if request.decline_reason else ""
        return owner, f"Proposer une autre solution d'hébergement avant {what} (proposition refusée{reason})."
    return owner, (
        f"Confirmer une solution d'hébergement avec le {siao} avant {what} "
        f"(demande du {fmt_day(local_date(request.requested_at, settings))} sans réponse)."
    )


def _candidates(pathway: Any, now: datetime, settings: TerritorySettings) -> list[Candidate]:
    if not is_active(pathway) or housing_solution(pathway):
        return []
    # With a newborn, newborn-without-follow-up owns the housing risk (one alert, not two).
    if isinstance(pathway, MaternityPathway) and pathway.has_newborn:
        return []
    day = exit_day(pathway)
    if day is None:
        return []
    exited = has_exited(pathway)
    days_left = (day - local_date(now, settings)).days
    if exited:
        owner, _ = housing_owner(pathway, settings)
        action = (
            f"Sortie le {fmt_day(day)} sans hébergement confirmé : mobiliser le "
            f"{settings.agency_name(settings.siao_agency)} (115) "
            "et retrouver la personne."
        )
    else:
        owner, action = housing_action(pathway, settings, f"{exit_words(pathway)} du {fmt_day(day)}")
    finding = RiskFinding(
        rule_id=RULE_ID,
        subject="exit",
        owner_agency=owner,
        suggested_action=action,
        severity=housing_severity(days_left, exited, settings),
        triggering_facts=(exit_fact(pathway), *housing_facts(pathway)),
        since=local_day_start(day - days(settings.exit_without_housing_days), settings),
        deadline=local_day_start(day, settings),
    )
    return [Candidate(start=finding.since, finding=finding)]


def next_severity_change_exit_without_housing(pathway: Any, now: datetime, settings: TerritorySettings) -> datetime | None:
    """When the severity of the finding found now next changes as the exit nears (None: no
    finding now, or no band left): the engine wakes the pathway then to update the alert."""
    if not check_exit_without_housing(pathway, now, settings) or has_exited(pathway):
        return None
    day = exit_day(pathway)
    future = [moment for moment in severity_changes(day, settings) if moment > aware(now)]
    return like(min(future), now) if future else None


def check_exit_without_housing(pathway: Any, now: datetime, settings: TerritorySettings) -> list[RiskFinding]:
    return fired(_candidates(pathway, now, settings), now)


def next_deadline_exit_without_housing(pathway: Any, now: datetime, settings: TerritorySettings) -> datetime | None:
    return earliest(_candidates(pathway, now, settings), now)
