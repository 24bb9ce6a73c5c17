"""care-refused: the person refuses a proposed care (e.g. hospitalisation): escalate to a case
conference (EMPP/DAC).

The fact is `CareRefused` (`Pathway.record_care_refusal`: what care, proposed by which agency,
the person's words, the appointment or referral it is about): one alert per recorded refusal.

Fallback, for refusals written only as the reason of a cancelled or excused appointment, or of
a cancelled or failed referral (partners' tools that do not send the fact): the reason must say
*the person* refused ("refus de la personne", "la personne refuse…", "patient refused", or the
code `person_refused`). A bare "refus" is not enough: "refus de soins" usually names a
practitioner refusing a patient (AME), and the cardiologist who refuses to consult without an
interpreter is a service refusal (interpreter-missing, referral-declined), not the person's.
The fallback stays silent for an appointment or referral a recorded refusal is about, or whose
agency a recorded refusal names: one refusal, one alert.

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

#: (subject, agency, care, when, reason, event types establishing it, id of the appointment or
#: referral refused or None)
Refusal = tuple[str, str, str, datetime, str, tuple[str, ...], Any]

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


def recorded_refusals(pathway: Any) -> list[Refusal]:
    """Each CareRefused fact."""
    return [
        (f"refusal:{r.refusal_id}", r.proposed_by, r.care, aware(r.refused_at), r.reason, ("CareRefused",),
         r.related_id)
        for r in getattr(pathway, "care_refusals", {}).values()
    ]


def inferred_refusals(pathway: Any) -> list[Refusal]:
    """The fallback: refusals read from the reasons of appointments and referrals that no
    recorded refusal already covers."""
    recorded = list(getattr(pathway, "care_refusals", {}).values())
    covered_ids = {r.related_id for r in recorded if r.related_id is not None}
    covered_agencies = {r.proposed_by for r in recorded}
    out = []
    for a in pathway.appointments.values():
        if a.appointment_id in covered_ids or a.with_agency in covered_agencies:
            continue
        if a.status in (AppointmentStatus.CANCELLED, AppointmentStatus.EXCUSED) and is_person_refusal(a.status_reason):
            out.append((f"appointment:{a.appointment_id}", a.with_agency, a.service,
                        aware(a.status_changed_at or a.scheduled_at), a.status_reason,
                        ("AppointmentCancelled", "AppointmentExcused"), a.appointment_id))
    for r in pathway.referrals.values():
        if r.referral_id in covered_ids or r.to_agency in covered_agencies:
            continue
        reason = r.outcome_reason or r.status_reason
        if r.status in (ReferralStatus.CANCELLED, ReferralStatus.FAILED) and is_person_refusal(reason):
            out.append((f"referral:{r.referral_id}", r.to_agency, r.service, aware(r.status_changed_at or r.made_at),
                        reason, ("ReferralStatusChanged", "ReferralOutcomeRecorded"), r.referral_id))
    return out


def refusals(pathway: Any) -> list[Refusal]:
    """(subject, agency, care, when, reason, event types, refused id) of each refusal: the
    recorded ones, then the fallback's."""
    return recorded_refusals(pathway) + inferred_refusals(pathway)


def taken_up_again(pathway: Any, agency: str, care: str, when: datetime, refused: Any = None) -> Any | None:
    """A case conference held since the refusal, or the care taken up again: a later appointment
    with the same agency, a later referral to the same service — never the very appointment or
    referral that was refused (`refused`: its id)."""
    for conference in pathway.case_conferences.values():
        if aware(conference.held_at) >= when:
            return conference
    for a in pathway.appointments.values():
        if a.appointment_id != refused and a.with_agency == agency \
                and a.status in (AppointmentStatus.BOOKED, AppointmentStatus.SEEN) and aware(a.scheduled_at) > when:
            return a
    for r in pathway.referrals.values():
        if r.referral_id != refused and r.service == care and aware(r.made_at) > when \
                and r.status not in (ReferralStatus.CANCELLED,):
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
    for subject, agency, care, when, _reason, events, refused in refusals(pathway):
        if taken_up_again(pathway, agency, care, when, refused) is not None:
            continue
        out.append(Candidate(start=None, finding=RiskFinding(
            rule_id=RULE_ID,
            # A recorded refusal's subject is already "refusal:<id>"; the fallback's names the
            # appointment or referral (stable ids of the alerts raised before the fact existed).
            subject=subject if subject.startswith("refusal:") else f"refusal:{subject}",
            owner_agency=conference_owner(pathway, settings),
            # The person's words stay in the refusal (medical information): the alert names
            # the care, the agency and the day, what the DAC needs to call the conference.
            suggested_action=(
                f"La personne a refusé une prise en charge proposée ({care}, {settings.agency_name(agency)}, le "
                f"{fmt_day(local_date(when, settings))}) : organiser une synthèse (DAC/EMPP) pour "
                "comprendre le refus et proposer une autre réponse."
            ),
            severity=AlertSeverity.HIGH,
            triggering_facts=(FactRef(fact="care_refused", ref=subject, events=events, at=when),),
            since=when,
        )))
    return out


def check_care_refused(pathway: Any, now: datetime, settings: TerritorySettings) -> list[RiskFinding]:
    return fired(_candidates(pathway, settings), now)


def next_deadline_care_refused(pathway: Any, now: datetime, settings: TerritorySettings) -> datetime | None:
    return None  # fires on the fact alone
