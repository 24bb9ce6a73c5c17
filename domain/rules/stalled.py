"""stalled: an open pathway with open needs has had no event for N days (fewer for the SAS,
whose stay lasts three weeks). Owner: the lead agency (take stock with the person, or call a
case conference).

"No event" must not count the engine's own alert events: raising the stalled alert would
otherwise reset the clock and resolve itself. The aggregate bumps `last_activity_at` for every
event, alerts included, so the last *progress* is derived: `pathway.last_progress_at` when the
aggregate provides it; else `last_activity_at` unless it is the time of an alert event, in which
case the latest time-stamped fact of the pathway. A booked appointment still to come is a next
step in place: the pathway is not stalled before it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.rules._common import Candidate, aware, days, earliest, fired, fmt_day, is_active, local_date
from domain.rules.settings import TerritorySettings
from domain.rules.types import FactRef, RiskFinding
from domain.values import AlertSeverity, AppointmentStatus, PathwayKind

RULE_ID = "stalled"


def _alert_times(pathway: Any) -> set[datetime]:
    times = set()
    for alert in pathway.alerts.values():
        times.add(aware(alert.raised_at))
        if alert.status_changed_at is not None:
            times.add(aware(alert.status_changed_at))
    return times


def _fact_times(pathway: Any) -> list[datetime]:
    """Moments of the facts the state keeps a time for (a lower bound of the last progress)."""
    times: list[datetime | None] = [pathway.opened_at]
    for need in pathway.needs.values():
        times += [need.recorded_at, need.met_at]
    for referral in pathway.referrals.values():
        times += [referral.made_at, referral.status_changed_at, referral.outcome_at]
    for appointment in pathway.appointments.values():
        times.append(appointment.status_changed_at)
        if appointment.status is AppointmentStatus.BOOKED:
            times.append(appointment.scheduled_at)  # its booking time is not kept; it came before
    for request in pathway.housing_requests.values():
        times += [request.requested_at, request.status_changed_at]
    contact = pathway.contact
    times += [contact.last_attempt_at, contact.phone_changed_at]
    for conference in pathway.case_conferences.values():
        times.append(conference.held_at)
    for action in pathway.actions.values():
        times.append(action.done_at)
    for orientation in getattr(pathway, "orientations", {}).values():
        times.append(orientation.oriented_at)
    return [aware(t) for t in times if t is not None]


def last_progress_at(pathway: Any) -> datetime:
    explicit = getattr(pathway, "last_progress_at", None)
    if explicit is not None:
        return aware(explicit)
    last = aware(pathway.last_activity_at)
    if last not in _alert_times(pathway):
        return last
    known = [t for t in _fact_times(pathway) if t <= last]  # a lower bound: alerts only came after
    return max(known) if known else aware(pathway.opened_at)


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
