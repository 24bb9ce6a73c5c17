"""Value objects and vocabularies shared by every pathway.

Identifiers are English; the enum *values* follow the vocabularies partners already use
(FHIR Task statuses for referrals, RDV Service Public statuses for appointments) so that a
mapping to their tools stays a table, not code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

#: The agency name the platform itself acts under (the rupture-risk engine raising alerts).
#: It is the only actor allowed to write without being a participant of the pathway.
SYSTEM_AGENCY = "relais"


@dataclass(frozen=True)
class Actor:
    """Who did something: the agency, a pseudonymous professional id, and the role they held.

    Professionals are pseudonymous because the event store outlives staff turnover and must
    not become a directory of names.
    """

    agency: str
    professional: str
    role: str

    @property
    def is_system(self) -> bool:
        return self.agency == SYSTEM_AGENCY


class PathwayKind(StrEnum):
    DETENTION = "detention"  # sortie de détention
    MATERNITY = "maternity"  # sortie de maternité
    SAS = "sas"  # arrivée en SAS régional
    PASS_GP = "pass_gp"  # relais PASS -> médecine de ville


class ParticipantRole(StrEnum):
    LEAD = "lead"
    HOUSING = "housing"
    HEALTH_CARE = "health_care"
    MENTAL_HEALTH = "mental_health"
    ADDICTION_CARE = "addiction_care"
    RIGHTS = "rights"
    SOCIAL_SUPPORT = "social_support"
    SCREENING = "screening"
    MATERNAL_CHILD = "maternal_child"
    JUSTICE = "justice"
    COORDINATION = "coordination"
    OTHER = "other"


class InformationCategory(StrEnum):
    """What consent to share is given for (secret professionnel partagé: only what is needed)."""

    IDENTITY = "identity"
    SOCIAL = "social"
    ADMINISTRATIVE = "administrative"
    MEDICAL = "medical"


class ConsentInformation(StrEnum):
    """How the person was informed before consenting or objecting: the closed list a consent's
    proof names (CSP L1110-4: the person is informed of what is shared, with whom, and of the
    right to object). `label` is what a French screen shows."""

    ORAL = "oral"
    WRITTEN_NOTICE = "written_notice"
    ORAL_WITH_INTERPRETER = "oral_with_interpreter"
    LEGAL_REPRESENTATIVE = "legal_representative"

    @property
    def label(self) -> str:
        return {
            ConsentInformation.ORAL: "information orale par le professionnel",
            ConsentInformation.WRITTEN_NOTICE: "notice d'information écrite remise",
            ConsentInformation.ORAL_WITH_INTERPRETER: "information orale avec un interprète",
            ConsentInformation.LEGAL_REPRESENTATIVE: "information du représentant légal",
        }[self]


class NeedCategory(StrEnum):
    HOUSING = "housing"
    HEALTH_COVERAGE = "health_coverage"
    CARE = "care"
    INTERPRETING = "interpreting"
    ADDICTION = "addiction"
    MENTAL_HEALTH = "mental_health"
    SCREENING = "screening"
    MATERNAL_CHILD = "maternal_child"
    ADMINISTRATIVE = "administrative"
    OTHER = "other"


class NeedStatus(StrEnum):
    OPEN = "open"
    MET = "met"


class ReferralStatus(StrEnum):
    """HL7 FHIR Task status, as used for closed-loop referrals (Gravity SDOH)."""

    DRAFT = "draft"
    REQUESTED = "requested"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    IN_PROGRESS = "in-progress"
    ON_HOLD = "on-hold"
    FAILED = "failed"
    COMPLETED = "completed"


#: A referral in these states is over; nothing moves it again.
TERMINAL_REFERRAL_STATUSES = frozenset(
    {ReferralStatus.REJECTED, ReferralStatus.CANCELLED, ReferralStatus.FAILED, ReferralStatus.COMPLETED}
)
#: FHIR asks for a status reason on these; the field staff need it to re-orient.
REFERRAL_STATUSES_NEEDING_REASON = frozenset(
    {ReferralStatus.REJECTED, ReferralStatus.CANCELLED, ReferralStatus.FAILED}
)
#: Allowed moves between FHIR Task statuses (subset that makes sense for a referral).
REFERRAL_TRANSITIONS: dict[ReferralStatus, frozenset[ReferralStatus]] = {
    ReferralStatus.DRAFT: frozenset({ReferralStatus.REQUESTED, ReferralStatus.CANCELLED}),
    ReferralStatus.REQUESTED: frozenset(
        {ReferralStatus.ACCEPTED, ReferralStatus.REJECTED, ReferralStatus.CANCELLED,
         ReferralStatus.IN_PROGRESS, ReferralStatus.FAILED, ReferralStatus.COMPLETED}
    ),
    ReferralStatus.ACCEPTED: frozenset(
        {ReferralStatus.IN_PROGRESS, ReferralStatus.ON_HOLD, ReferralStatus.CANCELLED,
         ReferralStatus.FAILED, ReferralStatus.COMPLETED}
    ),
    ReferralStatus.IN_PROGRESS: frozenset(
        {ReferralStatus.ON_HOLD, ReferralStatus.CANCELLED, ReferralStatus.FAILED, ReferralStatus.COMPLETED}
    ),
    ReferralStatus.ON_HOLD: frozenset(
        {ReferralStatus.IN_PROGRESS, ReferralStatus.CANCELLED, ReferralStatus.FAILED, ReferralStatus.COMPLETED}
    ),
}


class ReferralOutcome(StrEnum):
    HONOURED = "honoured"  # the person went / the service took them on
    NOT_HONOURED = "not_honoured"


class AppointmentStatus(StrEnum):
    """As RDV Service Public / Mon Suivi Justice record them."""

    BOOKED = "booked"
    SEEN = "seen"
    NO_SHOW = "no-show"
    EXCUSED = "excused"
    CANCELLED = "cancelled"


class CoverageScheme(StrEnum):
    PUMA = "puma"
    CSS = "css"
    AME = "ame"
    URGENT_CARE = "soins_urgents"  # soins urgents et vitaux


class CoverageStatus(StrEnum):
    APPLIED = "applied"  # dossier déposé, not open yet
    OPEN = "open"
    ENDED = "ended"


class HousingStatus(StrEnum):
    REQUESTED = "requested"
    OFFERED = "offered"
    CONFIRMED = "confirmed"
    DECLINED = "declined"


class PhoneStatus(StrEnum):
    VALID = "valid"
    CHANGED = "changed"  # the number we hold no longer reaches the person
    LOST = "lost"  # no phone at all any more


class AlertSeverity(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """Low 0 … critical 3: the order in which severities matter."""
        return list(AlertSeverity).index(self)


class AlertStatus(StrEnum):
    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    #: Closed by its owner with a reason (false alarm, handled elsewhere, person refused).
    DISMISSED = "dismissed"


class DismissalReason(StrEnum):
    """Why the owner of an alert dismissed it (counted per rule: a rule often dismissed is noise)."""

    FALSE_ALARM = "false_alarm"
    HANDLED_ELSEWHERE = "handled_elsewhere"
    PERSON_REFUSED = "person_refused"


OPEN_ALERT_STATUSES = frozenset({AlertStatus.RAISED, AlertStatus.ACKNOWLEDGED, AlertStatus.ESCALATED})


class ClosureOutcome(StrEnum):
    HANDED_OVER = "handed_over"  # relais effectué: the next step is in place
    HOUSED = "housed"
    TRANSFERRED = "transferred"  # another territory / another coordinator took over
    LOST_TO_FOLLOW_UP = "lost_to_follow_up"
    REFUSED = "refused"  # the person declined the support
    DECEASED = "deceased"
    OTHER = "other"


class ErasureBasis(StrEnum):
    """Why a person's personal data is erased: the closed list of RGPD art. 17 grounds Relais
    accepts (labels in domain.disclosure.ERASURE_BASIS_LABELS)."""

    NO_LONGER_NECESSARY = "no_longer_necessary"  # art. 17.1.a: the purpose is reached
    CONSENT_WITHDRAWN = "consent_withdrawn"  # art. 17.1.b
    OBJECTION = "objection"  # art. 17.1.c / art. 21: droit d'opposition
    UNLAWFUL_PROCESSING = "unlawful_processing"  # art. 17.1.d
    LEGAL_OBLIGATION = "legal_obligation"  # art. 17.1.e: a court or the CNIL ordered it
    RETENTION_EXPIRED = "retention_expired"  # the territory's retention period after closure


class TreatmentKind(StrEnum):
    SUBSTITUTION = "substitution"  # TSO: methadone, buprenorphine
    PSYCHIATRIC = "psychiatric"
    INFECTIOUS = "infectious"  # HIV, HCV, TB
    CHRONIC = "chronic"
    OTHER = "other"


class AdministrativeStatus(StrEnum):
    """Soliguide's publics by administrative status."""

    REGULAR = "regular"
    ASYLUM_SEEKER = "asylum_seeker"
    REFUGEE = "refugee"
    UNDOCUMENTED = "undocumented"
    UNKNOWN = "unknown"


class GpVisitOutcome(StrEnum):
    WENT = "went"
    DID_NOT_GO = "did_not_go"


class NotWentReason(StrEnum):
    """Why an orientation to a GP did not happen (Médecins du Monde Rouen, 2021-2022)."""

    PHONE_CHANGED = "phone_changed"
    ADDRESS_NOT_FOUND = "address_not_found"
    GP_NOT_TAKING_PATIENTS = "gp_not_taking_patients"
    NO_INTERPRETER = "no_interpreter"
    SCHEDULE_UNSUITABLE = "schedule_unsuitable"
    FOUND_CLOSER_GP = "found_closer_gp"
    AFRAID_PAPER_CERTIFICATE = "afraid_paper_certificate"
    TRANSPORT_STRIKE = "transport_strike"
    CHANGED_MIND = "changed_mind"
    OTHER = "other"


# --- Entities held inside a pathway (plain mutable records, keyed by id in dicts) ---------
# They are never put in events: events carry primitives, the aggregate builds these.


@dataclass
class Need:
    need_id: UUID
    category: NeedCategory
    description: str
    status: NeedStatus
    recorded_at: datetime
    recorded_by: str
    met_at: datetime | None = None


@dataclass
class Referral:
    referral_id: UUID
    to_agency: str
    service: str
    status: ReferralStatus
    made_at: datetime
    made_by: str
    need_id: UUID | None = None
    status_reason: str | None = None
    status_changed_at: datetime | None = None
    outcome: ReferralOutcome | None = None
    outcome_reason: str | None = None
    outcome_at: datetime | None = None


@dataclass
class Appointment:
    appointment_id: UUID
    with_agency: str
    service: str
    scheduled_at: datetime
    status: AppointmentStatus
    interpreter_needed: bool
    language: str | None
    booked_by: str
    interpreter_booked: bool = False
    interpreter_provider: str | None = None
    status_reason: str | None = None
    status_changed_at: datetime | None = None


@dataclass
class CoverageRight:
    scheme: CoverageScheme
    status: CoverageStatus
    applied_on: date | None = None
    opened_on: date | None = None
    expires_on: date | None = None
    renewal_filed_on: date | None = None
    ended_reason: str | None = None


@dataclass
class HousingRequest:
    request_id: UUID
    via_agency: str  # usually the SIAO of the département
    needed_from: date | None
    status: HousingStatus
    requested_at: datetime
    offer_place: str | None = None
    offer_available_on: date | None = None
    decline_reason: str | None = None
    status_changed_at: datetime | None = None


@dataclass
class ContactStatus:
    phone: PhoneStatus | None = None
    phone_changed_at: datetime | None = None
    failed_attempts: int = 0  # consecutive: a reached call resets it
    last_attempt_at: datetime | None = None
    last_reached_at: datetime | None = None


@dataclass
class ConferenceAction:
    action_id: UUID
    conference_id: UUID
    owner_agency: str
    description: str
    due_on: date
    done: bool = False
    done_at: datetime | None = None


@dataclass
class CaseConference:
    """`agencies` are those invited; `present` those that confirmed they were there, each by
    its own member (the convener's agency by holding it)."""

    conference_id: UUID
    held_at: datetime
    agencies: list[str]
    decisions: list[str]
    action_ids: list[UUID] = field(default_factory=list)
    present: list[str] = field(default_factory=list)


@dataclass
class Alert:
    alert_id: UUID
    rule_id: str
    subject: str  # what the rule looked at, e.g. "appointment:<id>" or "pathway"
    triggering_event_ids: list[str]
    owner_agency: str
    suggested_action: str  # French: it is shown as is to the owner agency
    severity: AlertSeverity
    status: AlertStatus
    raised_at: datetime
    acknowledged_by: str | None = None
    escalated_to: str | None = None
    escalation_reason: str | None = None
    resolution_reason: str | None = None
    status_changed_at: datetime | None = None
    dismissal_reason: DismissalReason | None = None
    dismissed_by: str | None = None


@dataclass
class CareRefusal:
    """The person refused a care proposed to them (e.g. a hospitalisation), in their words."""

    refusal_id: UUID
    care: str  # what was proposed: "hospitalisation en psychiatrie", "traitement de substitution"...
    proposed_by: str  # the agency that proposed it
    reason: str  # the person's words or reason, as the professional recorded them
    refused_at: datetime
    recorded_by: str
    related_id: UUID | None = None  # the appointment or referral the refusal is about, if any


@dataclass
class Treatment:
    treatment_id: UUID
    kind: TreatmentKind
    name: str
    prescribed_by: str
    follow_up_appointment_id: UUID | None = None
    handed_over_to: str | None = None
    #: The agency that recorded it (a care team member: the write is medical).
    recorded_by: str | None = None
