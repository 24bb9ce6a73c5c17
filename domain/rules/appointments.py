"""Rules about appointments.

interpreter-missing: a person who needs an interpreter has an appointment within 48 h and none
is booked (Mr M., 75, CADA: the cardiologist refused the consultation without one). Owner: the
agency holding the appointment. The need is the appointment's `interpreter_needed` (the booking
says whether this consultation needs one; a professional may speak the language).

missed-appointment-unfollowed: an appointment was missed and no new contact or appointment
follows within N days. "Follows": the person was reached after the missed time, or another
appointment with the same agency is scheduled after it (and not cancelled). Owner: the agency
that booked the appointment (it follows the person; the receiving service often does not).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from domain.rules._common import Candidate, aware, days, earliest, fired, fmt_moment, is_active
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
        if not appointment.interpreter_needed or appointment.interpreter_booked:
            continue
        at = aware(appointment.scheduled_at)
        language = appointment.language or pathway.interpreter_language
        in_language = f" ({language})" if language else ""
        start = at - timedelta(hours=settings.interpreter_hours)
        out.append(Candidate(start=start, finding=RiskFinding(
            rule_id=INTERPRETER_RULE,
            subject=f"appointment:{appointment.appointment_id}",
            owner_agency=appointment.with_agency,
            suggested_action=(
                f"Réserver un interprète{in_language} pour le rendez-vous {appointment.service} du "
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
        owner = appointment.booked_by if appointment.booked_by in pathway.participants else appointment.with_agency
        out.append(Candidate(start=start, finding=RiskFinding(
            rule_id=MISSED_RULE,
            subject=f"appointment:{appointment.appointment_id}",
            owner_agency=owner,
            suggested_action=(
                f"Recontacter la personne après le rendez-vous manqué {appointment.service} du "
                f"{fmt_moment(at, settings)} ({settings.agency_name(appointment.with_agency)}) et proposer un nouveau rendez-vous."
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
