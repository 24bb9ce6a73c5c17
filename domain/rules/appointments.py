"""Rules about appointments.

interpreter-missing: a person who needs an interpreter has an appointment within 48 h and none
is booked (Mr M., 75, CADA: the cardiologist refused the consultation without one). The need is
the person's (`RecordInterpreterNeed`, on the pathway), inherited by every appointment, or the
booking's own flag. Owner: the agency that booked the appointment when it takes part in the
pathway (it books the interpreter with the appointment: ISM by phone or on site), else the lead.
The text names the day and time and, when the engine has the directory (the ServiceFinder port),
the interpreting service for the language; never the medical service (the alert is social).

missed-appointment-unfollowed: an appointment was missed and no new contact or appointment
follows within N days. "Follows": the person was reached after the missed time, or another
appointment with the same agency is scheduled after it (and not cancelled). Owner: the agency
that booked the appointment when it takes part (it follows the person; the receiving service
often does not), else the appointment's agency when it takes part, else the lead.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from domain.rules._common import Candidate, acting_owner, aware, days, earliest, fired, fmt_moment, is_active
from domain.rules.settings import TerritorySettings
from domain.rules.types import FactRef, RiskFinding
from domain.values import AlertSeverity, AppointmentStatus

INTERPRETER_RULE = "interpreter-missing"
MISSED_RULE = "missed-appointment-unfollowed"


def _booked_fact(appointment: Any) -> FactRef:
    return FactRef(fact="appointment_booked", ref=f"appointment:{appointment.appointment_id}",
                   events=("AppointmentBooked",), at=appointment.scheduled_at)


def _interpreter_candidates(pathway: Any, settings: TerritorySettings) -> list[Candidate]:
    if not is_active(pathway):
        return []
    out = []
    for appointment in pathway.appointments.values():
        if appointment.status is not AppointmentStatus.BOOKED:
            continue
        if appointment.interpreter_booked or not needs_interpreter(pathway, appointment):
            continue
        at = aware(appointment.scheduled_at)
        language = appointment.language or pathway.interpreter_language
        in_language = f" ({language})" if language else ""
        start = at - timedelta(hours=settings.interpreter_hours)
        subject = f"appointment:{appointment.appointment_id}"
        out.append(Candidate(start=start, finding=RiskFinding(
            rule_id=INTERPRETER_RULE,
            subject=subject,
            owner_agency=acting_owner(pathway, INTERPRETER_RULE, subject, appointment.booked_by),
            suggested_action=(
                f"Réserver un interprète{in_language}{_from_directory(settings, language, at)} pour le rendez-vous du "
                f"{fmt_moment(at, settings)} (sur place ou par téléphone), sinon le reporter."
            ),
            severity=AlertSeverity.HIGH,
            triggering_facts=(
                _booked_fact(appointment),
                FactRef(fact="interpreter_needed", ref=f"appointment:{appointment.appointment_id}",
                        events=("AppointmentBooked", "InterpreterNeedRecorded")),
            ),
            since=start,
            deadline=at,
        )))
    return out


def _from_directory(settings: TerritorySettings, language: str | None, at: datetime) -> str:
    """The words naming the directory's interpreting service for the language, or none."""
    found = settings.directory.interpreting_services(language, at) if settings.directory is not None else []
    return f" auprès de {found[0]}" if found else ""


def needs_interpreter(pathway: Any, appointment: Any) -> bool:
    """The person's need (recorded on the pathway) or the booking's."""
    return bool(appointment.interpreter_needed) or getattr(pathway, "interpreter_language", None) is not None


def _followed(pathway: Any, missed: Any) -> bool:
    at = aware(missed.scheduled_at)
    reached = pathway.contact.last_reached_at
    if reached is not None and aware(reached) > at:
        return True
    return any(
        other.appointment_id != missed.appointment_id
        and other.with_agency == missed.with_agency
        and other.status is not AppointmentStatus.CANCELLED
        and aware(other.scheduled_at) > at
        for other in pathway.appointments.values()
    )


def _missed_candidates(pathway: Any, settings: TerritorySettings) -> list[Candidate]:
    if not is_active(pathway):
        return []
    out = []
    for appointment in pathway.appointments.values():
        if appointment.status is not AppointmentStatus.NO_SHOW or _followed(pathway, appointment):
            continue
        at = aware(appointment.scheduled_at)
        start = at + days(settings.missed_appointment_follow_up_days)
        subject = f"appointment:{appointment.appointment_id}"
        out.append(Candidate(start=start, finding=RiskFinding(
            rule_id=MISSED_RULE,
            subject=subject,
            owner_agency=acting_owner(pathway, MISSED_RULE, subject, appointment.booked_by, appointment.with_agency),
            suggested_action=(
                f"Recontacter la personne après le rendez-vous manqué du "
                f"{fmt_moment(at, settings)} et proposer un nouveau rendez-vous."
            ),
            severity=AlertSeverity.HIGH,
            triggering_facts=(
                FactRef(fact="appointment_missed", ref=f"appointment:{appointment.appointment_id}",
                        events=("AppointmentMissed",), at=appointment.status_changed_at),
            ),
            since=start,
            deadline=None,
        )))
    return out


def check_interpreter_missing(pathway: Any, now: datetime, settings: TerritorySettings) -> list[RiskFinding]:
    return fired(_interpreter_candidates(pathway, settings), now)


def next_deadline_interpreter_missing(pathway: Any, now: datetime, settings: TerritorySettings) -> datetime | None:
    return earliest(_interpreter_candidates(pathway, settings), now)


def check_missed_appointment_unfollowed(pathway: Any, now: datetime, settings: TerritorySettings) -> list[RiskFinding]:
    return fired(_missed_candidates(pathway, settings), now)


def next_deadline_missed_appointment_unfollowed(
    pathway: Any, now: datetime, settings: TerritorySettings
) -> datetime | None:
    return earliest(_missed_candidates(pathway, settings), now)
