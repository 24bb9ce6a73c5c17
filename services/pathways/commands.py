"""The commands of the pathways service: one pydantic model per command.

Every command carries a client-chosen `command_id` (sending it twice changes nothing), the
`pathway_id` it targets, the `actor` and when the fact happened (`occurred_at`). The other
fields are, by name, the keyword arguments of the aggregate method named by `verb`: the
application calls `getattr(pathway, verb)(**arguments, actor=..., occurred_at=...)`, and a
unit test checks that every command matches its method's signature.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, ClassVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints

from domain import DetentionPathway, MaternityPathway, PassGpPathway, Pathway, SasPathway
from domain.values import (
    Actor,
    AdministrativeStatus,
    AlertSeverity,
    ClosureOutcome,
    ConsentInformation,
    CoverageScheme,
    DismissalReason,
    ErasureBasis,
    GpVisitOutcome,
    InformationCategory,
    NeedCategory,
    NotWentReason,
    ParticipantRole,
    PathwayKind,
    PhoneStatus,
    ReferralOutcome,
    ReferralStatus,
    TreatmentKind,
)

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
LongText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
Ref = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]


class ActorModel(BaseModel):
    """Who sends the command: agency, pseudonymous professional id, role."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    agency: Ref
    professional: Ref
    role: Ref

    def to_domain(self) -> Actor:
        return Actor(agency=self.agency, professional=self.professional, role=self.role)


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: Name of the aggregate method the command calls.
    verb: ClassVar[str]
    #: Set on commands that only one kind of pathway understands.
    pathway_kind: ClassVar[PathwayKind | None] = None

    command_id: UUID
    pathway_id: UUID
    actor: ActorModel
    occurred_at: AwareDatetime

    def arguments(self) -> dict[str, Any]:
        """The fields the aggregate method takes (everything but the envelope)."""
        return {name: getattr(self, name) for name in type(self).model_fields if name not in ENVELOPE}


ENVELOPE = frozenset(Command.model_fields)


class OpenPathway(Command):
    """Base of the four opening commands: they create the aggregate instead of calling it."""

    aggregate_class: ClassVar[type[Pathway]]
    verb: ClassVar[str] = "__init__"

    person_ref: Ref
    territory: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10)]
    lead_agency: Ref


# --- opening ---------------------------------------------------------------------------
class OpenDetentionPathway(OpenPathway):
    aggregate_class: ClassVar[type[Pathway]] = DetentionPathway
    pathway_kind: ClassVar[PathwayKind | None] = PathwayKind.DETENTION
    prison: Ref
    release_date: date | None = None


class OpenMaternityPathway(OpenPathway):
    aggregate_class: ClassVar[type[Pathway]] = MaternityPathway
    pathway_kind: ClassVar[PathwayKind | None] = PathwayKind.MATERNITY
    maternity_ward: Ref
    discharge_date: date | None = None


class OpenSasPathway(OpenPathway):
    aggregate_class: ClassVar[type[Pathway]] = SasPathway
    pathway_kind: ClassVar[PathwayKind | None] = PathwayKind.SAS
    arrived_on: date
    from_high_tb_endemicity: bool = False


class OpenPassGpPathway(OpenPathway):
    aggregate_class: ClassVar[type[Pathway]] = PassGpPathway
    pathway_kind: ClassVar[PathwayKind | None] = PathwayKind.PASS_GP


# --- participants and consent ----------------------------------------------------------
class AddAgency(Command):
    verb: ClassVar[str] = "add_agency"
    agency: Ref
    role: ParticipantRole


class RemoveAgency(Command):
    verb: ClassVar[str] = "remove_agency"
    agency: Ref
    reason: Text


class HandOverLead(Command):
    """The lead agency (or coordination) hands the lead to another agency of the pathway."""

    verb: ClassVar[str] = "hand_over_lead"
    agency: Ref
    former_lead_role: ParticipantRole
    reason: Text


class ConsentChange(Command):
    """The person's choice for `agency` and `categories`, with its proof: who collected it
    (`collected_by`, a professional id), how the person was informed (`informed_by`); when
    is `occurred_at`. Sent by another member of the care team, never by `agency` itself."""

    agency: Ref
    categories: list[InformationCategory]
    collected_by: Ref
    informed_by: ConsentInformation


class GrantConsent(ConsentChange):
    """Consentement de la personne au partage avec une structure, avec sa preuve."""

    verb: ClassVar[str] = "grant_consent"


class WithdrawConsent(ConsentChange):
    """Retrait de consentement, avec sa preuve."""

    verb: ClassVar[str] = "withdraw_consent"


class RecordObjection(ConsentChange):
    """Opposition de la personne (droit d'opposition), avec sa preuve."""

    verb: ClassVar[str] = "record_objection"


class BreakGlass(Command):
    """Bris de glace : accès d'urgence, limité dans le temps, motif obligatoire."""

    verb: ClassVar[str] = "break_glass"
    reason: Text


# --- needs and referrals ---------------------------------------------------------------
class RecordNeed(Command):
    verb: ClassVar[str] = "record_need"
    need_id: UUID
    category: NeedCategory
    description: LongText


class MarkNeedMet(Command):
    verb: ClassVar[str] = "mark_need_met"
    need_id: UUID


class MakeReferral(Command):
    verb: ClassVar[str] = "make_referral"
    referral_id: UUID
    to_agency: Ref
    service: Text
    need_id: UUID | None = None


class UpdateReferralStatus(Command):
    verb: ClassVar[str] = "update_referral_status"
    referral_id: UUID
    status: ReferralStatus
    reason: Text | None = None


class RecordReferralOutcome(Command):
    verb: ClassVar[str] = "record_referral_outcome"
    referral_id: UUID
    outcome: ReferralOutcome
    reason: Text | None = None


# --- appointments ----------------------------------------------------------------------
class RecordInterpreterNeed(Command):
    verb: ClassVar[str] = "record_interpreter_need"
    language: Ref | None


class BookAppointment(Command):
    verb: ClassVar[str] = "book_appointment"
    appointment_id: UUID
    with_agency: Ref
    service: Text
    scheduled_at: AwareDatetime
    interpreter_needed: bool = False
    language: Ref | None = None


class BookInterpreter(Command):
    verb: ClassVar[str] = "book_interpreter"
    appointment_id: UUID
    provider: Ref = "ISM"


class MarkAppointmentSeen(Command):
    verb: ClassVar[str] = "mark_appointment_seen"
    appointment_id: UUID


class MarkAppointmentMissed(Command):
    verb: ClassVar[str] = "mark_appointment_missed"
    appointment_id: UUID


class ExcuseAppointment(Command):
    verb: ClassVar[str] = "excuse_appointment"
    appointment_id: UUID
    reason: Text


class CancelAppointment(Command):
    verb: ClassVar[str] = "cancel_appointment"
    appointment_id: UUID
    reason: Text


# --- refusal of care -------------------------------------------------------------------
class RecordCareRefusal(Command):
    """La personne refuse un soin proposé : lequel, par quelle structure, ses mots, le rendez-vous ou l'orientation."""

    verb: ClassVar[str] = "record_care_refusal"
    refusal_id: UUID
    care: Text
    proposed_by: Ref
    reason: LongText
    related_id: UUID | None = None


# --- health coverage -------------------------------------------------------------------
class ApplyForCoverage(Command):
    verb: ClassVar[str] = "apply_for_coverage"
    scheme: CoverageScheme
    applied_on: date


class OpenCoverage(Command):
    verb: ClassVar[str] = "open_coverage"
    scheme: CoverageScheme
    opened_on: date
    expires_on: date | None = None


class FileCoverageRenewal(Command):
    verb: ClassVar[str] = "file_coverage_renewal"
    scheme: CoverageScheme
    filed_on: date


class EndCoverage(Command):
    verb: ClassVar[str] = "end_coverage"
    scheme: CoverageScheme
    reason: Text


# --- housing ---------------------------------------------------------------------------
class RequestHousing(Command):
    verb: ClassVar[str] = "request_housing"
    request_id: UUID
    via_agency: Ref
    needed_from: date | None = None


class OfferHousing(Command):
    verb: ClassVar[str] = "offer_housing"
    request_id: UUID
    place: Text
    available_on: date


class ConfirmHousing(Command):
    verb: ClassVar[str] = "confirm_housing"
    request_id: UUID


class DeclineHousing(Command):
    verb: ClassVar[str] = "decline_housing"
    request_id: UUID
    reason: Text


# --- contact ---------------------------------------------------------------------------
class RecordPhoneStatus(Command):
    verb: ClassVar[str] = "record_phone_status"
    status: PhoneStatus


class RecordContactAttempt(Command):
    verb: ClassVar[str] = "record_contact_attempt"
    reached: bool
    channel: Ref = "phone"


# --- case conferences ------------------------------------------------------------------
class HoldCaseConference(Command):
    verb: ClassVar[str] = "hold_case_conference"
    conference_id: UUID
    agencies: list[Ref]
    decisions: list[LongText]


class ConfirmConferencePresence(Command):
    """The caller's agency confirms it was at the conference (no agency field: it is the caller's)."""

    verb: ClassVar[str] = "confirm_conference_presence"
    conference_id: UUID


class AssignAction(Command):
    verb: ClassVar[str] = "assign_action"
    conference_id: UUID
    action_id: UUID
    owner_agency: Ref
    description: LongText
    due_on: date


class CompleteAction(Command):
    verb: ClassVar[str] = "complete_action"
    action_id: UUID


# --- alerts (the risk engine sends these as the "relais" system actor) -----------------
class RaiseAlert(Command):
    verb: ClassVar[str] = "raise_alert"
    alert_id: UUID
    rule_id: Ref
    subject: Text
    triggering_event_ids: list[Ref]
    owner_agency: Ref
    suggested_action: LongText
    severity: AlertSeverity


class AcknowledgeAlert(Command):
    verb: ClassVar[str] = "acknowledge_alert"
    alert_id: UUID


class EscalateAlert(Command):
    verb: ClassVar[str] = "escalate_alert"
    alert_id: UUID
    to_agency: Ref
    reason: Text


class ResolveAlert(Command):
    verb: ClassVar[str] = "resolve_alert"
    alert_id: UUID
    reason: Text


class UpdateAlert(Command):
    """The risk engine re-evaluated an open alert: new owner, text or severity (not a new alert)."""

    verb: ClassVar[str] = "update_alert"
    alert_id: UUID
    owner_agency: Ref
    suggested_action: LongText
    severity: AlertSeverity


class DismissAlert(Command):
    """The owner closes an alert with a reason (false alarm, handled elsewhere, person refused)."""

    verb: ClassVar[str] = "dismiss_alert"
    alert_id: UUID
    reason: DismissalReason
    detail: Text | None = None


# --- closure ---------------------------------------------------------------------------
class ClosePathway(Command):
    verb: ClassVar[str] = "close"
    outcome: ClosureOutcome
    reason: Text


class ReopenPathway(Command):
    verb: ClassVar[str] = "reopen"
    reason: Text


# --- erasure ---------------------------------------------------------------------------
class ErasePersonalData(Command):
    """Sent by services.privacy (the DPO's request, or the retention sweep), never by a care
    team: the key that seals the person's data is destroyed once this is stored."""

    verb: ClassVar[str] = "erase_personal_data"
    legal_basis: ErasureBasis


# --- sortie de détention ---------------------------------------------------------------
class ScheduleRelease(Command):
    verb: ClassVar[str] = "schedule_release"
    pathway_kind: ClassVar[PathwayKind | None] = PathwayKind.DETENTION
    release_date: date


class RecordTreatmentToContinue(Command):
    verb: ClassVar[str] = "record_treatment_to_continue"
    pathway_kind: ClassVar[PathwayKind | None] = PathwayKind.DETENTION
    treatment_id: UUID
    kind: TreatmentKind
    name: Text
    prescribed_by: Ref


class PlanTreatmentFollowUp(Command):
    verb: ClassVar[str] = "plan_treatment_follow_up"
    pathway_kind: ClassVar[PathwayKind | None] = PathwayKind.DETENTION
    treatment_id: UUID
    appointment_id: UUID


class HandOverTreatment(Command):
    verb: ClassVar[str] = "hand_over_treatment"
    pathway_kind: ClassVar[PathwayKind | None] = PathwayKind.DETENTION
    treatment_id: UUID
    to_agency: Ref


class RecordRelease(Command):
    verb: ClassVar[str] = "record_release"
    pathway_kind: ClassVar[PathwayKind | None] = PathwayKind.DETENTION
    released_on: date


# --- sortie de maternité ---------------------------------------------------------------
class ScheduleDischarge(Command):
    verb: ClassVar[str] = "schedule_discharge"
    pathway_kind: ClassVar[PathwayKind | None] = PathwayKind.MATERNITY
    discharge_date: date


class RegisterNewborn(Command):
    verb: ClassVar[str] = "register_newborn"
    pathway_kind: ClassVar[PathwayKind | None] = PathwayKind.MATERNITY
    newborn_ref: Ref
    born_on: date


class LinkPmi(Command):
    verb: ClassVar[str] = "link_pmi"
    pathway_kind: ClassVar[PathwayKind | None] = PathwayKind.MATERNITY
    pmi_agency: Ref
    first_visit_on: date | None = None


class RecordDischarge(Command):
    verb: ClassVar[str] = "record_discharge"
    pathway_kind: ClassVar[PathwayKind | None] = PathwayKind.MATERNITY
    discharged_on: date


# --- arrivée en SAS --------------------------------------------------------------------
class AssessAdministrativeSituation(Command):
    verb: ClassVar[str] = "assess_administrative_situation"
    pathway_kind: ClassVar[PathwayKind | None] = PathwayKind.SAS
    status: AdministrativeStatus
    assessed_on: date


class FlagTbScreeningNeed(Command):
    verb: ClassVar[str] = "flag_tb_screening_need"
    pathway_kind: ClassVar[PathwayKind | None] = PathwayKind.SAS


class RecordClatScreening(Command):
    verb: ClassVar[str] = "record_clat_screening"
    pathway_kind: ClassVar[PathwayKind | None] = PathwayKind.SAS
    screened_on: date
    follow_up_needed: bool = False


class DecideOrientation(Command):
    verb: ClassVar[str] = "decide_orientation"
    pathway_kind: ClassVar[PathwayKind | None] = PathwayKind.SAS
    destination: Text
    decided_on: date


class RecordSasExit(Command):
    verb: ClassVar[str] = "record_sas_exit"
    pathway_kind: ClassVar[PathwayKind | None] = PathwayKind.SAS
    left_on: date
    destination: Text


# --- relais PASS -> médecine de ville --------------------------------------------------
class StartGpSearch(Command):
    verb: ClassVar[str] = "start_gp_search"
    pathway_kind: ClassVar[PathwayKind | None] = PathwayKind.PASS_GP
    commune: Ref
    languages: list[Ref] = []
    needs_phone_interpreting: bool = False


class OrientToGp(Command):
    verb: ClassVar[str] = "orient_to_gp"
    pathway_kind: ClassVar[PathwayKind | None] = PathwayKind.PASS_GP
    orientation_id: UUID
    gp_ref: Ref
    gp_commune: Ref
    accepts_phone_interpreting: bool = False


class RecordFollowUpCall(Command):
    verb: ClassVar[str] = "record_follow_up_call"
    pathway_kind: ClassVar[PathwayKind | None] = PathwayKind.PASS_GP
    orientation_id: UUID
    reached: bool


class RecordGpVisitOutcome(Command):
    verb: ClassVar[str] = "record_gp_visit_outcome"
    pathway_kind: ClassVar[PathwayKind | None] = PathwayKind.PASS_GP
    orientation_id: UUID
    outcome: GpVisitOutcome
    reason: NotWentReason | None = None
    detail: Text | None = None


def _all_commands() -> dict[str, type[Command]]:
    found: dict[str, type[Command]] = {}
    pending: list[type[Command]] = list(Command.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls not in (OpenPathway, ConsentChange):  # the shared bases are not commands
            found[cls.__name__] = cls
    return found


#: Every concrete command by class name: what the ingest and the gateway send as "type".
COMMANDS: dict[str, type[Command]] = _all_commands()
