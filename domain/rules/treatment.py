"""treatment-continuity: release from detention within N days with an active treatment and no
follow-up appointment after release (substitution treatment above all: overdose and relapse
follow a broken exit). A follow-up counts while its appointment is booked or seen and falls on
or after the CURRENT release date (a release moved later makes an earlier follow-up useless); a
missed (no-show) one does not count — the treatment needs a new follow-up. Owner: the agency the
treatment was handed over to, else the prescriber (USMP/SMPR), else the carer who recorded it,
else any carer of the pathway (health, addiction, mental health) — whichever takes part and can
act — else the lead."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.detention import DetentionPathway
from domain.rules._common import (
    Candidate,
    acting_owner,
    days,
    earliest,
    fired,
    fmt_day,
    is_active,
    local_date,
    local_day_start,
    participants_with_role,
)
from domain.rules.facts import exit_day, exit_fact
from domain.rules.settings import TerritorySettings
from domain.rules.types import FactRef, RiskFinding
from domain.values import AlertSeverity, AppointmentStatus, ParticipantRole, TreatmentKind

RULE_ID = "treatment-continuity"

_KIND_LABEL = {
    TreatmentKind.SUBSTITUTION: "traitement de substitution",
    TreatmentKind.PSYCHIATRIC: "traitement psychiatrique",
    TreatmentKind.INFECTIOUS: "traitement (maladie infectieuse)",
    TreatmentKind.CHRONIC: "traitement chronique",
    TreatmentKind.OTHER: "traitement",
}
_FOLLOWING = frozenset({AppointmentStatus.BOOKED, AppointmentStatus.SEEN})
_CARERS = (ParticipantRole.HEALTH_CARE, ParticipantRole.ADDICTION_CARE, ParticipantRole.MENTAL_HEALTH)


def has_follow_up(pathway: Any, treatment: Any, settings: TerritorySettings | None = None) -> bool:
    """A follow-up booked or seen, on or after the release date as it stands now."""
    if treatment.follow_up_appointment_id is None:
        return False
    appointment = pathway.appointments.get(treatment.follow_up_appointment_id)
    if appointment is None or appointment.status not in _FOLLOWING:
        return False
    day = exit_day(pathway)
    if day is None:
        return True
    when = local_date(appointment.scheduled_at, settings) if settings is not None else appointment.scheduled_at.date()
    return when >= day


def _candidates(pathway: Any, settings: TerritorySettings) -> list[Candidate]:
    if not isinstance(pathway, DetentionPathway) or not is_active(pathway):
        return []
    day = exit_day(pathway)
    if day is None:
        return []
    start = local_day_start(day - days(settings.treatment_continuity_days), settings)
    out = []
    for treatment in pathway.treatments.values():
        if has_follow_up(pathway, treatment, settings):
            continue
        subject = f"treatment:{treatment.treatment_id}"
        owner = acting_owner(
            pathway, RULE_ID, subject, treatment.handed_over_to, treatment.prescribed_by,
            getattr(treatment, "recorded_by", None), *participants_with_role(pathway, *_CARERS),
        )
        label = _KIND_LABEL.get(treatment.kind, "traitement")
        out.append(Candidate(start=start, finding=RiskFinding(
            rule_id=RULE_ID,
            subject=subject,
            owner_agency=owner,
            suggested_action=(
                f"Prendre un premier rendez-vous après la sortie du {fmt_day(day)} pour la continuité du "
                f"{label} ({treatment.name}) et le lier au traitement."
            ),
            severity=AlertSeverity.CRITICAL if treatment.kind is TreatmentKind.SUBSTITUTION else AlertSeverity.HIGH,
            triggering_facts=(
                exit_fact(pathway),
                FactRef(fact="treatment_to_continue", ref=f"treatment:{treatment.treatment_id}",
                        events=("TreatmentToContinueRecorded",)),
            ),
            since=start,
            deadline=local_day_start(day, settings),
        )))
    return out


def check_treatment_continuity(pathway: Any, now: datetime, settings: TerritorySettings) -> list[RiskFinding]:
    return fired(_candidates(pathway, settings), now)


def next_deadline_treatment_continuity(pathway: Any, now: datetime, settings: TerritorySettings) -> datetime | None:
    return earliest(_candidates(pathway, settings), now)
