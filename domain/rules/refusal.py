"""care-refused: the person refuses a proposed care (e.g. hospitalisation): escalate to a case
conference (EMPP/DAC).

The aggregates have no "care refused" fact yet: a refusal is read from the reason of a
cancelled or excused appointment, or of a cancelled or failed referral, that says *the person*
refused ("refus de la personne", "la personne refuse…", "patient refused", or the code
`person_refused`). A bare "refus" is not enough: "refus de soins" usually names a practitioner
refusing a patient (AME), and the cardiologist who refuses to consult without an interpreter is
a service refusal (interpreter-missing, referral-declined), not the person's.

Resolved by a case conference held after the refusal, or by the care taken up again (a later
appointment with the same agency, or a later referral to the same service). Owner: the DAC
taking part in the pathway, else the EMPP, else the territory's DAC."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from domain.rules._common import Candidate, aware, fold, fired, fmt_day, is_active, local_date, mentions
from domain.rules.settings import TerritorySettings
from domain.rules.types import FactRef, RiskFinding
from domain.values import AlertSeverity, AppointmentStatus, ParticipantRole, ReferralStatus

RULE_ID = "care-refused"

_PERSON = r"(la personne|le patient|la patiente|l'usager|l'usagere|l'interesse|l'interessee|person|patient)"
_PATTERNS = (
    re.compile(r"\bperson_refused\b"),
    re.compile(rf"\b{_PERSON}\s+(a\s+)?(refuse|refus|declin|decline)"),
    re.compile(rf"\b(refus|refuse|refusee)\s+(de|par)\s+{_PERSON}"),
)


def is_person_refusal(reason: str | None) -> bool:
    if not reason:
        return False
    folded = fold(reason)
    return any(p.search(folded) for p in _PATTERNS)


def refusals(pathway: Any) -> list[tuple[str, str, str, datetime, str]]:
    """(subject, agency, care, when, reason) of each refusal recorded on the pathway."""
    out = []
    for a in pathway.appointments.values():
        if a.status in (AppointmentStatus.CANCELLED, AppointmentStatus.EXCUSED) and is_person_refusal(a.status_reason):
            out.append((f"appointment:{a.appointment_id}", a.with_agency, a.service,
                        aware(a.status_changed_at or a.scheduled_at), a.status_reason))
    for r in pathway.referrals.values():
        reason = r.outcome_reason or r.status_reason
        if r.status in (ReferralStatus.CANCELLED, ReferralStatus.FAILED) and is_person_refusal(reason):
            out.append((f"referral:{r.referral_id}", r.to_agency, r.service, aware(r.status_changed_at or r.made_at), reason))
    return out


def taken_up_again(pathway: Any, agency: str, care: str, when: datetime) -> Any | None:
    for conference in pathway.case_conferences.values():
        if aware(conference.held_at) >= when:
            return conference
    for a in pathway.appointments.values():
        if a.with_agency == agency and a.status in (AppointmentStatus.BOOKED, AppointmentStatus.SEEN) \
                and aware(a.scheduled_at) > when:
            return a
    for r in pathway.referrals.values():
        if r.service == care and aware(r.made_at) > when and r.status not in (ReferralStatus.CANCELLED,):
            return r
    return None


def conference_owner(pathway: Any, settings: TerritorySettings) -> str:
    for agency in pathway.participants:
        if mentions((agency,), (settings.dac_agency, "DAC")):
            return agency
    for agency, role in pathway.participants.items():
        if mentions((agency,), ("EMPP",)) or role is ParticipantRole.MENTAL_HEALTH:
            return agency
    return settings.dac_agency


def _candidates(pathway: Any, settings: TerritorySettings) -> list[Candidate]:
    if not is_active(pathway):
        return []
    out = []
    for subject, agency, care, when, reason in refusals(pathway):
        if taken_up_again(pathway, agency, care, when) is not None:
            continue
        out.append(Candidate(start=None, finding=RiskFinding(
            rule_id=RULE_ID,
            subject=f"refusal:{subject}",
            owner_agency=conference_owner(pathway, settings),
            suggested_action=(
                f"La personne a refusé une prise en charge proposée ({care}, {agency}, le "
                f"{fmt_day(local_date(when, settings))}) : organiser une synthèse (DAC/EMPP) pour "
                "comprendre le refus et proposer une autre réponse."
            ),
            severity=AlertSeverity.HIGH,
            triggering_facts=(FactRef(
                fact="care_refused", ref=subject,
                events=("AppointmentCancelled", "AppointmentExcused", "ReferralStatusChanged", "ReferralOutcomeRecorded"),
                at=when,
            ),),
            since=when,
        )))
    return out


def check_care_refused(pathway: Any, now: datetime, settings: TerritorySettings) -> list[RiskFinding]:
    return fired(_candidates(pathway, settings), now)


def next_deadline_care_refused(pathway: Any, now: datetime, settings: TerritorySettings) -> datetime | None:
    return None  # fires on the fact alone
