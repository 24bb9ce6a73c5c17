"""What the four pathways share: the event-sourced base aggregate.

Pattern (from the eventsourcing library's examples): a public command method named with a
verb runs the `check_*` invariants, then calls a private method decorated with `@event(...)`
whose body only applies the fact. The body runs again on replay, so it must not check nor
read anything but its arguments and the current state.

Every event carries `actor` (agency, pseudonymous professional, role) and `occurred_at` (when
the fact happened in the field; a late entry is normal) besides the library's `timestamp`
(when it was recorded).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import disclosure, errors
from domain.values import (
    OPEN_ALERT_STATUSES,
    REFERRAL_STATUSES_NEEDING_REASON,
    REFERRAL_TRANSITIONS,
    TERMINAL_REFERRAL_STATUSES,
    Actor,
    Alert,
    AlertSeverity,
    AlertStatus,
    Appointment,
    AppointmentStatus,
    CareRefusal,
    CaseConference,
    ClosureOutcome,
    ConferenceAction,
    ContactStatus,
    CoverageRight,
    CoverageScheme,
    CoverageStatus,
    DismissalReason,
    ErasureBasis,
    HousingRequest,
    HousingStatus,
    ConsentInformation,
    InformationCategory,
    Need,
    NeedCategory,
    NeedStatus,
    ParticipantRole,
    PathwayKind,
    PhoneStatus,
    Referral,
    ReferralOutcome,
    ReferralStatus,
)


#: When the events being triggered are recorded (their `timestamp`): now, unless an in-process
#: load of past history (services.territory.load, through PathwaysHandler.handle_batch's
#: `recorded_at`) says when each fact was entered. No command field sets it: GraphQL and ingest
#: always record at the present moment.
_recording_time: ContextVar[datetime | None] = ContextVar("relais_recording_time", default=None)


@contextmanager
def recording(moment: datetime | None) -> Iterator[None]:
    """Events triggered inside are recorded at `moment` (None: now)."""
    token = _recording_time.set(moment)
    try:
        yield
    finally:
        _recording_time.reset(token)


class Pathway(Aggregate):
    #: Set by PersonalDataErased; a class default so that pathways stored before it replay.
    is_erased = False  # no annotation: the library would make it an argument of the opening event
    """Base of the four pathway aggregates. Not opened directly: open one of its kinds."""

    class Event(Aggregate.Event):
        # Every event type has a version: 1 unless it says otherwise, with an
        # `upcast_v<n>_v<n+1>(state)` static method per step (see DetentionPathway.ReleaseDateSet).
        class_version = 1

        # Declared on the base event so that no event can be defined without them.
        actor: Actor
        occurred_at: datetime

        @staticmethod
        def create_timestamp() -> datetime:
            """The recording time: the one `recording` set, else the library's (now)."""
            return _recording_time.get() or Aggregate.Event.create_timestamp()

    # ------------------------------------------------------------------ shared opening
    def _open(
        self,
        kind: PathwayKind,
        person_ref: str,
        territory: str,
        lead_agency: str,
        actor: Actor,
        occurred_at: datetime,
    ) -> None:
        """Sets the shared state; called by each kind's decorated `__init__`."""
        self.kind = PathwayKind(kind)
        self.person_ref = person_ref  # pseudonymous reference, never a name
        self.territory = territory
        self.lead_agency = lead_agency
        self.participants: dict[str, ParticipantRole] = {lead_agency: ParticipantRole.LEAD}
        if not actor.is_system and actor.agency != lead_agency:
            self.participants[actor.agency] = ParticipantRole.COORDINATION
        self.opened_at = occurred_at
        self.consents: dict[str, list[InformationCategory]] = {}
        self.objections: dict[str, list[InformationCategory]] = {}
        self.consent_version = 0  # one more at each consent, withdrawal or objection
        self.needs: dict[UUID, Need] = {}
        self.referrals: dict[UUID, Referral] = {}
        self.appointments: dict[UUID, Appointment] = {}
        self.coverage: dict[CoverageScheme, CoverageRight] = {}
        self.housing_requests: dict[UUID, HousingRequest] = {}
        self.contact = ContactStatus()
        self.interpreter_language: str | None = None
        self.exit_date: date | None = None  # release / discharge / SAS day 21
        self.exited_on: date | None = None
        self.case_conferences: dict[UUID, CaseConference] = {}
        self.actions: dict[UUID, ConferenceAction] = {}
        self.alerts: dict[UUID, Alert] = {}
        self.care_refusals: dict[UUID, CareRefusal] = {}
        self.is_closed = False
        self.closure_outcome: ClosureOutcome | None = None
        self.closure_reason: str | None = None
        self.closed_at: datetime | None = None
        self.last_activity_at = occurred_at
        self.last_progress_at = occurred_at
        self.last_actor = actor

    def _touch(self, actor: Actor, occurred_at: datetime, *, progress: bool = True) -> None:
        """Every event is activity; every event but the alerts' is progress on the pathway
        (the "stalled" rule counts from the last progress: its own alert must not reset it).
        Late entries never move either clock back."""
        if occurred_at > self.last_activity_at:
            self.last_activity_at = occurred_at
        if progress and occurred_at > self.last_progress_at:
            self.last_progress_at = occurred_at
        self.last_actor = actor

    # ------------------------------------------------------------------ queries
    @property
    def open_needs(self) -> list[Need]:
        return [n for n in self.needs.values() if n.status is NeedStatus.OPEN]

    @property
    def open_alerts(self) -> list[Alert]:
        return [a for a in self.alerts.values() if a.status in OPEN_ALERT_STATUSES]

    @property
    def has_confirmed_housing(self) -> bool:
        return any(h.status is HousingStatus.CONFIRMED for h in self.housing_requests.values())

    @property
    def has_open_coverage(self) -> bool:
        return any(c.status is CoverageStatus.OPEN for c in self.coverage.values())

    def consent_covers(self, agency: str, category: InformationCategory) -> bool:
        return InformationCategory(category) in self.consents.get(agency, [])

    # ------------------------------------------------------------------ invariants
    def check_open(self) -> None:
        self.check_not_erased()
        if self.is_closed:
            raise errors.PathwayClosed()

    def check_not_erased(self) -> None:
        if self.is_erased:
            raise errors.PathwayErased()

    def check_may_erase(self, actor: Actor) -> None:
        # Erasure is the data protection officer's act (RGPD art. 37-39), for an agency taking
        # part; the system erases on its own only when the territory's retention period ends.
        if actor.is_system:
            return
        if actor.role != disclosure.Role.DPO or actor.agency not in self.participants:
            raise errors.ErasureNotAllowed()

    def check_participates(self, actor: Actor) -> None:
        # Secret professionnel partagé: only agencies taking part in the care write here.
        if not actor.is_system and actor.agency not in self.participants:
            raise errors.AgencyNotParticipating(
                f"La structure « {actor.agency} » ne participe pas à ce parcours."
            )

    def check_can_act(self, actor: Actor) -> None:
        self.check_open()
        self.check_participates(actor)

    @staticmethod
    def check_reason_given(reason: str | None, field: str = "reason") -> None:
        if reason is None or not reason.strip():
            raise errors.ReasonRequired(field=field)

    def check_new_id(self, existing: Mapping[UUID, object], new_id: UUID, field: str) -> None:
        if new_id in existing:
            raise errors.DuplicateIdentifier(field=field)

    def check_not_before_opening(self, when: date, field: str) -> None:
        if when < self.opened_at.date():
            raise errors.DateBeforeStart(field=field)

    def _need(self, need_id: UUID) -> Need:
        try:
            return self.needs[need_id]
        except KeyError:
            raise errors.UnknownNeed() from None

    def _referral(self, referral_id: UUID) -> Referral:
        try:
            return self.referrals[referral_id]
        except KeyError:
            raise errors.UnknownReferral() from None

    def _appointment(self, appointment_id: UUID) -> Appointment:
        try:
            return self.appointments[appointment_id]
        except KeyError:
            raise errors.AppointmentNotScheduled() from None

    def _housing(self, request_id: UUID) -> HousingRequest:
        try:
            return self.housing_requests[request_id]
        except KeyError:
            raise errors.UnknownHousingRequest() from None

    def _alert(self, alert_id: UUID) -> Alert:
        try:
            return self.alerts[alert_id]
        except KeyError:
            raise errors.UnknownAlert() from None

    def check_appointment_pending(self, appointment: Appointment) -> None:
        if appointment.status is not AppointmentStatus.BOOKED:
            raise errors.AppointmentAlreadyConcluded()

    def check_alert_not_open_for(self, rule_id: str, subject: str) -> None:
        for alert in self.open_alerts:
            if alert.rule_id == rule_id and alert.subject == subject:
                raise errors.AlertAlreadyOpen(
                    f"L'alerte « {rule_id} » est déjà ouverte pour « {subject} »."
                )

    def check_alert_open(self, alert: Alert) -> None:
        if alert.status not in OPEN_ALERT_STATUSES:
            raise errors.AlertNotOpen()

    def check_closure_outcome_fits(self, outcome: ClosureOutcome) -> None:
        """Kinds add their own conditions by overriding; the shared one is about housing."""
        if outcome is ClosureOutcome.HOUSED and not self.has_confirmed_housing:
            raise errors.HousingNotConfirmed(
                "Clôture « hébergé » impossible : aucune solution d'hébergement n'est confirmée."
            )

    # ------------------------------------------------------------------ participants
    def add_agency(
        self, agency: str, role: ParticipantRole, actor: Actor, occurred_at: datetime
    ) -> None:
        self.check_can_act(actor)
        if agency in self.participants:
            raise errors.AgencyAlreadyParticipating()
        self._agency_joined(agency=agency, role=ParticipantRole(role), actor=actor, occurred_at=occurred_at)

    @event("AgencyJoined")
    def _agency_joined(
        self, agency: str, role: ParticipantRole, actor: Actor, occurred_at: datetime
    ) -> None:
        self.participants[agency] = ParticipantRole(role)
        self._touch(actor, occurred_at)

    def remove_agency(self, agency: str, reason: str, actor: Actor, occurred_at: datetime) -> None:
        self.check_can_act(actor)
        if agency not in self.participants:
            raise errors.AgencyNotParticipating(field="agency")
        if agency == self.lead_agency:
            raise errors.LeadAgencyCannotLeave()
        self.check_reason_given(reason)
        self._agency_left(agency=agency, reason=reason, actor=actor, occurred_at=occurred_at)

    @event("AgencyLeft")
    def _agency_left(self, agency: str, reason: str, actor: Actor, occurred_at: datetime) -> None:
        del self.participants[agency]
        self._touch(actor, occurred_at)

    def hand_over_lead(self, agency: str, former_lead_role: ParticipantRole, reason: str, actor: Actor,
                       occurred_at: datetime) -> None:
        """The lead passes to `agency`, already taking part; the former lead stays in the
        pathway as `former_lead_role`. The only way the lead changes after the opening."""
        self.check_can_act(actor)
        if agency == self.lead_agency:
            raise errors.AlreadyLead()
        if agency not in self.participants:
            raise errors.AgencyNotParticipating(
                f"La structure « {agency} » ne participe pas au parcours : ajoutez-la avant de lui passer la main.",
                field="agency")
        if ParticipantRole(former_lead_role) is ParticipantRole.LEAD:
            raise errors.DomainError("Un parcours n'a qu'une structure référente : indiquez le rôle que garde "
                                     "l'ancienne référente.", field="former_lead_role")
        self.check_reason_given(reason)
        self._lead_handed_over(from_agency=self.lead_agency, agency=agency,
                               former_lead_role=ParticipantRole(former_lead_role), reason=reason, actor=actor,
                               occurred_at=occurred_at)

    @event("LeadHandedOver")
    def _lead_handed_over(self, from_agency: str, agency: str, former_lead_role: ParticipantRole, reason: str,
                          actor: Actor, occurred_at: datetime) -> None:
        self.participants[from_agency] = ParticipantRole(former_lead_role)
        self.participants[agency] = ParticipantRole.LEAD
        self.lead_agency = agency
        self._touch(actor, occurred_at)

    # ------------------------------------------------------------------ consent
    # The person's choices, recorded on their behalf by the care team with the proof (who
    # collected it, how the person was informed; when is `occurred_at`). Every change is a new
    # consent version (`consent_version`): each disclosure names the version in force.
    class ConsentGranted(Event):
        """Version 2 added the proof (`collected_by`, `informed_by`; None on v1 events)."""

        class_version = 2
        agency: str
        categories: list[str]
        collected_by: str | None
        informed_by: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state.setdefault("collected_by", None)
            state.setdefault("informed_by", None)

    class ConsentWithdrawn(Event):
        """Version 2 added the proof (`collected_by`, `informed_by`; None on v1 events)."""

        class_version = 2
        agency: str
        categories: list[str]
        collected_by: str | None
        informed_by: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state.setdefault("collected_by", None)
            state.setdefault("informed_by", None)

    def check_consent_for_another_agency(self, agency: str, actor: Actor) -> None:
        # A structure that recorded its own consent would be granting itself access.
        if not actor.is_system and agency == actor.agency:
            raise errors.ConsentForOwnAgency()

    def check_consent_request(self, agency: str, categories: list[InformationCategory], actor: Actor,
                              collected_by: str) -> None:
        self.check_can_act(actor)
        self.check_consent_for_another_agency(agency, actor)
        if not categories:
            raise errors.DomainError("Au moins une catégorie d'information est requise.", field="categories")
        if not collected_by or not collected_by.strip():
            raise errors.DomainError("Indiquez le professionnel qui a recueilli le choix de la personne.",
                                     field="collected_by")

    def grant_consent(
        self,
        agency: str,
        categories: list[InformationCategory],
        collected_by: str,
        informed_by: ConsentInformation,
        actor: Actor,
        occurred_at: datetime,
    ) -> None:
        """Consent may be given before the agency joins: it is what lets it join. A consent
        for a category the person had objected to lifts that objection."""
        self.check_consent_request(agency, categories, actor, collected_by)
        self._consent_granted(
            agency=agency,
            categories=sorted({InformationCategory(c).value for c in categories}),
            collected_by=collected_by,
            informed_by=ConsentInformation(informed_by).value,
            actor=actor,
            occurred_at=occurred_at,
        )

    @event(ConsentGranted)
    def _consent_granted(
        self, agency: str, categories: list[str], collected_by: str | None, informed_by: str | None,
        actor: Actor, occurred_at: datetime,
    ) -> None:
        given = {InformationCategory(c) for c in categories}
        self.consents[agency] = sorted(set(self.consents.get(agency, [])) | given)
        self._narrow(self.objections, agency, given)
        self.consent_version = self.consent_version + 1
        self._touch(actor, occurred_at)

    def withdraw_consent(
        self,
        agency: str,
        categories: list[InformationCategory],
        collected_by: str,
        informed_by: ConsentInformation,
        actor: Actor,
        occurred_at: datetime,
    ) -> None:
        self.check_consent_request(agency, categories, actor, collected_by)
        held = set(self.consents.get(agency, []))
        asked = {InformationCategory(c) for c in categories}
        if not asked <= held:
            raise errors.ConsentNotGranted()
        self._consent_withdrawn(
            agency=agency, categories=sorted(c.value for c in asked), collected_by=collected_by,
            informed_by=ConsentInformation(informed_by).value, actor=actor, occurred_at=occurred_at,
        )

    @event(ConsentWithdrawn)
    def _consent_withdrawn(
        self, agency: str, categories: list[str], collected_by: str | None, informed_by: str | None,
        actor: Actor, occurred_at: datetime,
    ) -> None:
        self._narrow(self.consents, agency, {InformationCategory(c) for c in categories})
        self.consent_version = self.consent_version + 1
        self._touch(actor, occurred_at)

    def record_objection(
        self,
        agency: str,
        categories: list[InformationCategory],
        collected_by: str,
        informed_by: ConsentInformation,
        actor: Actor,
        occurred_at: datetime,
    ) -> None:
        """Droit d'opposition: the person objects to `agency` receiving these categories, even
        as a member of the care team (where sharing is otherwise presumed). It also ends any
        consent given to that agency for them."""
        self.check_consent_request(agency, categories, actor, collected_by)
        if agency == self.lead_agency:
            raise errors.ObjectionToLeadAgency()
        self._objection_recorded(
            agency=agency, categories=sorted({InformationCategory(c).value for c in categories}),
            collected_by=collected_by, informed_by=ConsentInformation(informed_by).value,
            actor=actor, occurred_at=occurred_at,
        )

    @event("ObjectionRecorded")
    def _objection_recorded(
        self, agency: str, categories: list[str], collected_by: str, informed_by: str,
        actor: Actor, occurred_at: datetime,
    ) -> None:
        objected = {InformationCategory(c) for c in categories}
        self.objections[agency] = sorted(set(self.objections.get(agency, [])) | objected)
        self._narrow(self.consents, agency, objected)
        self.consent_version = self.consent_version + 1
        self._touch(actor, occurred_at)

    def break_glass(self, reason: str, actor: Actor, occurred_at: datetime) -> None:
        """Bris de glace: a professional whose role is granted it (the write policy) reads,
        for a limited time (a setting, applied by the read side), what their role needs even
        without the person's consent. The reason is mandatory; the DPO and the lead agency see
        every override."""
        self.check_can_act(actor)
        self.check_reason_given(reason)
        self._emergency_access_opened(reason=reason.strip(), actor=actor, occurred_at=occurred_at)

    @event("EmergencyAccessOpened")
    def _emergency_access_opened(self, reason: str, actor: Actor, occurred_at: datetime) -> None:
        self._touch(actor, occurred_at)

    @staticmethod
    def _narrow(held: dict[str, list[InformationCategory]], agency: str,
                removed: set[InformationCategory]) -> None:
        remaining = set(held.get(agency, [])) - removed
        if remaining:
            held[agency] = sorted(remaining)
        else:
            held.pop(agency, None)

    # ------------------------------------------------------------------ needs
    def record_need(
        self,
        need_id: UUID,
        category: NeedCategory,
        description: str,
        actor: Actor,
        occurred_at: datetime,
    ) -> None:
        self.check_can_act(actor)
        self.check_new_id(self.needs, need_id, "need_id")
        self._need_recorded(
            need_id=need_id, category=NeedCategory(category), description=description,
            actor=actor, occurred_at=occurred_at,
        )

    @event("NeedRecorded")
    def _need_recorded(
        self, need_id: UUID, category: NeedCategory, description: str, actor: Actor, occurred_at: datetime
    ) -> None:
        self.needs[need_id] = Need(
            need_id=need_id, category=NeedCategory(category), description=description,
            status=NeedStatus.OPEN, recorded_at=occurred_at, recorded_by=actor.agency,
        )
        self._touch(actor, occurred_at)

    def mark_need_met(self, need_id: UUID, actor: Actor, occurred_at: datetime) -> None:
        self.check_can_act(actor)
        if self._need(need_id).status is NeedStatus.MET:
            raise errors.NeedAlreadyMet()
        self._need_met(need_id=need_id, actor=actor, occurred_at=occurred_at)

    @event("NeedMet")
    def _need_met(self, need_id: UUID, actor: Actor, occurred_at: datetime) -> None:
        need = self.needs[need_id]
        need.status = NeedStatus.MET
        need.met_at = occurred_at
        self._touch(actor, occurred_at)

    # ------------------------------------------------------------------ referrals
    def make_referral(
        self,
        referral_id: UUID,
        to_agency: str,
        service: str,
        need_id: UUID | None,
        actor: Actor,
        occurred_at: datetime,
    ) -> None:
        self.check_can_act(actor)
        self.check_new_id(self.referrals, referral_id, "referral_id")
        if need_id is not None:
            self._need(need_id)
        self._referral_made(
            referral_id=referral_id, to_agency=to_agency, service=service, need_id=need_id,
            actor=actor, occurred_at=occurred_at,
        )

    @event("ReferralMade")
    def _referral_made(
        self, referral_id: UUID, to_agency: str, service: str, need_id: UUID | None,
        actor: Actor, occurred_at: datetime,
    ) -> None:
        self.referrals[referral_id] = Referral(
            referral_id=referral_id, to_agency=to_agency, service=service,
            status=ReferralStatus.REQUESTED, made_at=occurred_at, made_by=actor.agency, need_id=need_id,
        )
        self._touch(actor, occurred_at)

    def check_referral_transition(
        self, referral: Referral, status: ReferralStatus, reason: str | None
    ) -> None:
        if status not in REFERRAL_TRANSITIONS.get(referral.status, frozenset()):
            raise errors.ReferralTransitionNotAllowed(
                f"Passage de « {referral.status.value} » à « {status.value} » impossible."
            )
        if status in REFERRAL_STATUSES_NEEDING_REASON:
            self.check_reason_given(reason)

    def update_referral_status(
        self,
        referral_id: UUID,
        status: ReferralStatus,
        reason: str | None,
        actor: Actor,
        occurred_at: datetime,
    ) -> None:
        self.check_can_act(actor)
        status = ReferralStatus(status)
        self.check_referral_transition(self._referral(referral_id), status, reason)
        self._referral_status_changed(
            referral_id=referral_id, status=status, reason=reason, actor=actor, occurred_at=occurred_at
        )

    @event("ReferralStatusChanged")
    def _referral_status_changed(
        self, referral_id: UUID, status: ReferralStatus, reason: str | None,
        actor: Actor, occurred_at: datetime,
    ) -> None:
        referral = self.referrals[referral_id]
        referral.status = ReferralStatus(status)
        referral.status_reason = reason
        referral.status_changed_at = occurred_at
        self._touch(actor, occurred_at)

    def record_referral_outcome(
        self,
        referral_id: UUID,
        outcome: ReferralOutcome,
        reason: str | None,
        actor: Actor,
        occurred_at: datetime,
    ) -> None:
        """Closes the loop: the referral was honoured (completed) or not (failed, with why)."""
        self.check_can_act(actor)
        outcome = ReferralOutcome(outcome)
        status = ReferralStatus.COMPLETED if outcome is ReferralOutcome.HONOURED else ReferralStatus.FAILED
        self.check_referral_transition(self._referral(referral_id), status, reason)
        self._referral_outcome_recorded(
            referral_id=referral_id, outcome=outcome, reason=reason, actor=actor, occurred_at=occurred_at
        )

    @event("ReferralOutcomeRecorded")
    def _referral_outcome_recorded(
        self, referral_id: UUID, outcome: ReferralOutcome, reason: str | None,
        actor: Actor, occurred_at: datetime,
    ) -> None:
        referral = self.referrals[referral_id]
        referral.outcome = ReferralOutcome(outcome)
        referral.outcome_reason = reason
        referral.outcome_at = occurred_at
        referral.status = (
            ReferralStatus.COMPLETED if referral.outcome is ReferralOutcome.HONOURED else ReferralStatus.FAILED
        )
        referral.status_reason = reason
        referral.status_changed_at = occurred_at
        self._touch(actor, occurred_at)

    # ------------------------------------------------------------------ appointments
    class InterpreterNeedRecorded(Event):
        """Version 2 added `appointment_ids`: the appointments the need changed (v1 changed none)."""

        class_version = 2
        language: str | None
        appointment_ids: list[UUID]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["appointment_ids"] = []

    def record_interpreter_need(
        self, language: str | None, actor: Actor, occurred_at: datetime
    ) -> None:
        """The person needs an interpreter in `language` (None: no longer needs one).

        Appointments already booked and still to come follow: they need an interpreter from now
        on (in `language`, unless the booking named one), or no longer need one when none was
        booked yet. The event names them, so replay does not depend on this selection."""
        self.check_can_act(actor)
        needed = language is not None
        changed = [
            a.appointment_id for a in self.appointments.values()
            if a.status is AppointmentStatus.BOOKED and a.scheduled_at > occurred_at
            and a.interpreter_needed is not needed and not a.interpreter_booked
        ]
        self._interpreter_need_recorded(
            language=language, appointment_ids=changed, actor=actor, occurred_at=occurred_at
        )

    @event(InterpreterNeedRecorded)
    def _interpreter_need_recorded(
        self, language: str | None, appointment_ids: list[UUID], actor: Actor, occurred_at: datetime
    ) -> None:
        self.interpreter_language = language
        for appointment_id in appointment_ids:
            appointment = self.appointments[appointment_id]
            appointment.interpreter_needed = language is not None
            if language is not None:
                appointment.language = appointment.language or language
        self._touch(actor, occurred_at)

    def book_appointment(
        self,
        appointment_id: UUID,
        with_agency: str,
        service: str,
        scheduled_at: datetime,
        interpreter_needed: bool,
        language: str | None,
        actor: Actor,
        occurred_at: datetime,
    ) -> None:
        self.check_can_act(actor)
        self.check_new_id(self.appointments, appointment_id, "appointment_id")
        # The need is the person's (recorded on the pathway): every appointment inherits it,
        # whatever the booking said (a booking tool that defaults the flag to False must not
        # silence interpreter-missing).
        interpreter_needed = interpreter_needed or self.interpreter_language is not None
        if interpreter_needed and not (language or self.interpreter_language):
            raise errors.DomainError("La langue est requise quand un interprète est nécessaire.", field="language")
        self._appointment_booked(
            appointment_id=appointment_id, with_agency=with_agency, service=service,
            scheduled_at=scheduled_at, interpreter_needed=interpreter_needed,
            language=language or (self.interpreter_language if interpreter_needed else None),
            actor=actor, occurred_at=occurred_at,
        )

    @event("AppointmentBooked")
    def _appointment_booked(
        self, appointment_id: UUID, with_agency: str, service: str, scheduled_at: datetime,
        interpreter_needed: bool, language: str | None, actor: Actor, occurred_at: datetime,
    ) -> None:
        self.appointments[appointment_id] = Appointment(
            appointment_id=appointment_id, with_agency=with_agency, service=service,
            scheduled_at=scheduled_at, status=AppointmentStatus.BOOKED,
            interpreter_needed=interpreter_needed, language=language, booked_by=actor.agency,
        )
        self._touch(actor, occurred_at)

    def book_interpreter(
        self, appointment_id: UUID, provider: str, actor: Actor, occurred_at: datetime
    ) -> None:
        self.check_can_act(actor)
        appointment = self._appointment(appointment_id)
        self.check_appointment_pending(appointment)
        if not (appointment.interpreter_needed or self.interpreter_language is not None):
            raise errors.InterpreterNotNeeded()
        self._interpreter_booked(appointment_id=appointment_id, provider=provider, actor=actor, occurred_at=occurred_at)

    @event("InterpreterBooked")
    def _interpreter_booked(self, appointment_id: UUID, provider: str, actor: Actor, occurred_at: datetime) -> None:
        appointment = self.appointments[appointment_id]
        appointment.interpreter_needed = True
        appointment.interpreter_booked = True
        appointment.interpreter_provider = provider
        self._touch(actor, occurred_at)

    def check_appointment_due(self, appointment: Appointment, occurred_at: datetime) -> None:
        # Attendance is a fact about the appointment time: it cannot precede it.
        if occurred_at < appointment.scheduled_at:
            raise errors.AppointmentNotYetDue()

    def mark_appointment_seen(self, appointment_id: UUID, actor: Actor, occurred_at: datetime) -> None:
        self.check_can_act(actor)
        appointment = self._appointment(appointment_id)
        self.check_appointment_pending(appointment)
        self.check_appointment_due(appointment, occurred_at)
        self._appointment_seen(appointment_id=appointment_id, actor=actor, occurred_at=occurred_at)

    @event("AppointmentSeen")
    def _appointment_seen(self, appointment_id: UUID, actor: Actor, occurred_at: datetime) -> None:
        self._set_appointment_status(appointment_id, AppointmentStatus.SEEN, None, occurred_at)
        self._touch(actor, occurred_at)

    def mark_appointment_missed(self, appointment_id: UUID, actor: Actor, occurred_at: datetime) -> None:
        self.check_can_act(actor)
        appointment = self._appointment(appointment_id)
        self.check_appointment_pending(appointment)
        self.check_appointment_due(appointment, occurred_at)
        self._appointment_missed(appointment_id=appointment_id, actor=actor, occurred_at=occurred_at)

    @event("AppointmentMissed")
    def _appointment_missed(self, appointment_id: UUID, actor: Actor, occurred_at: datetime) -> None:
        self._set_appointment_status(appointment_id, AppointmentStatus.NO_SHOW, None, occurred_at)
        self._touch(actor, occurred_at)

    def excuse_appointment(
        self, appointment_id: UUID, reason: str, actor: Actor, occurred_at: datetime
    ) -> None:
        self.check_can_act(actor)
        self.check_appointment_pending(self._appointment(appointment_id))
        self.check_reason_given(reason)
        self._appointment_excused(appointment_id=appointment_id, reason=reason, actor=actor, occurred_at=occurred_at)

    @event("AppointmentExcused")
    def _appointment_excused(self, appointment_id: UUID, reason: str, actor: Actor, occurred_at: datetime) -> None:
        self._set_appointment_status(appointment_id, AppointmentStatus.EXCUSED, reason, occurred_at)
        self._touch(actor, occurred_at)

    def cancel_appointment(
        self, appointment_id: UUID, reason: str, actor: Actor, occurred_at: datetime
    ) -> None:
        self.check_can_act(actor)
        self.check_appointment_pending(self._appointment(appointment_id))
        self.check_reason_given(reason)
        self._appointment_cancelled(appointment_id=appointment_id, reason=reason, actor=actor, occurred_at=occurred_at)

    @event("AppointmentCancelled")
    def _appointment_cancelled(self, appointment_id: UUID, reason: str, actor: Actor, occurred_at: datetime) -> None:
        self._set_appointment_status(appointment_id, AppointmentStatus.CANCELLED, reason, occurred_at)
        self._touch(actor, occurred_at)

    def _set_appointment_status(
        self, appointment_id: UUID, status: AppointmentStatus, reason: str | None, at: datetime
    ) -> None:
        appointment = self.appointments[appointment_id]
        appointment.status = status
        appointment.status_reason = reason
        appointment.status_changed_at = at

    # ------------------------------------------------------------------ refusal of care
    def record_care_refusal(
        self,
        refusal_id: UUID,
        care: str,
        proposed_by: str,
        reason: str,
        related_id: UUID | None,
        actor: Actor,
        occurred_at: datetime,
    ) -> None:
        """The person refused a proposed care (e.g. a hospitalisation): `care` what was proposed,
        `proposed_by` the agency that proposed it, `reason` the person's words or reason, and
        `related_id` the appointment or referral it is about, when there is one. The refusal
        is a fact of its own: the appointment or referral keeps its own status."""
        self.check_can_act(actor)
        self.check_new_id(self.care_refusals, refusal_id, "refusal_id")
        self.check_reason_given(reason)
        if related_id is not None and related_id not in self.appointments and related_id not in self.referrals:
            raise errors.UnknownRefusalSubject()
        self._care_refused(
            refusal_id=refusal_id, care=care, proposed_by=proposed_by, reason=reason, related_id=related_id,
            actor=actor, occurred_at=occurred_at,
        )

    @event("CareRefused")
    def _care_refused(
        self, refusal_id: UUID, care: str, proposed_by: str, reason: str, related_id: UUID | None,
        actor: Actor, occurred_at: datetime,
    ) -> None:
        self.care_refusals[refusal_id] = CareRefusal(
            refusal_id=refusal_id, care=care, proposed_by=proposed_by, reason=reason, refused_at=occurred_at,
            recorded_by=actor.agency, related_id=related_id,
        )
        self._touch(actor, occurred_at)

    # ------------------------------------------------------------------ health coverage
    def apply_for_coverage(
        self, scheme: CoverageScheme, applied_on: date, actor: Actor, occurred_at: datetime
    ) -> None:
        self.check_can_act(actor)
        self._coverage_applied(scheme=CoverageScheme(scheme), applied_on=applied_on, actor=actor, occurred_at=occurred_at)

    @event("CoverageApplied")
    def _coverage_applied(self, scheme: CoverageScheme, applied_on: date, actor: Actor, occurred_at: datetime) -> None:
        scheme = CoverageScheme(scheme)
        right = self.coverage.get(scheme) or CoverageRight(scheme=scheme, status=CoverageStatus.APPLIED)
        if right.status is not CoverageStatus.OPEN:
            right.status = CoverageStatus.APPLIED
        right.applied_on = applied_on
        self.coverage[scheme] = right
        self._touch(actor, occurred_at)

    def open_coverage(
        self,
        scheme: CoverageScheme,
        opened_on: date,
        expires_on: date | None,
        actor: Actor,
        occurred_at: datetime,
    ) -> None:
        self.check_can_act(actor)
        if expires_on is not None and expires_on < opened_on:
            raise errors.InvalidCoveragePeriod()
        self._coverage_opened(
            scheme=CoverageScheme(scheme), opened_on=opened_on, expires_on=expires_on,
            actor=actor, occurred_at=occurred_at,
        )

    @event("CoverageOpened")
    def _coverage_opened(
        self, scheme: CoverageScheme, opened_on: date, expires_on: date | None, actor: Actor, occurred_at: datetime
    ) -> None:
        scheme = CoverageScheme(scheme)
        right = self.coverage.get(scheme) or CoverageRight(scheme=scheme, status=CoverageStatus.OPEN)
        right.status = CoverageStatus.OPEN
        right.opened_on = opened_on
        right.expires_on = expires_on
        right.renewal_filed_on = None  # a renewal, once granted, is the new period
        right.ended_reason = None
        self.coverage[scheme] = right
        self._touch(actor, occurred_at)

    def file_coverage_renewal(
        self, scheme: CoverageScheme, filed_on: date, actor: Actor, occurred_at: datetime
    ) -> None:
        self.check_can_act(actor)
        right = self.coverage.get(CoverageScheme(scheme))
        if right is None or right.status is not CoverageStatus.OPEN:
            raise errors.CoverageNotOpen()
        self._coverage_renewal_filed(scheme=CoverageScheme(scheme), filed_on=filed_on, actor=actor, occurred_at=occurred_at)

    @event("CoverageRenewalFiled")
    def _coverage_renewal_filed(self, scheme: CoverageScheme, filed_on: date, actor: Actor, occurred_at: datetime) -> None:
        self.coverage[CoverageScheme(scheme)].renewal_filed_on = filed_on
        self._touch(actor, occurred_at)

    def end_coverage(self, scheme: CoverageScheme, reason: str, actor: Actor, occurred_at: datetime) -> None:
        self.check_can_act(actor)
        right = self.coverage.get(CoverageScheme(scheme))
        if right is None or right.status is not CoverageStatus.OPEN:
            raise errors.CoverageNotOpen()
        self.check_reason_given(reason)
        self._coverage_ended(scheme=CoverageScheme(scheme), reason=reason, actor=actor, occurred_at=occurred_at)

    @event("CoverageEnded")
    def _coverage_ended(self, scheme: CoverageScheme, reason: str, actor: Actor, occurred_at: datetime) -> None:
        right = self.coverage[CoverageScheme(scheme)]
        right.status = CoverageStatus.ENDED
        right.ended_reason = reason
        self._touch(actor, occurred_at)

    # ------------------------------------------------------------------ housing (SIAO)
    def request_housing(
        self,
        request_id: UUID,
        via_agency: str,
        needed_from: date | None,
        actor: Actor,
        occurred_at: datetime,
    ) -> None:
        self.check_can_act(actor)
        self.check_new_id(self.housing_requests, request_id, "request_id")
        self._housing_requested(
            request_id=request_id, via_agency=via_agency, needed_from=needed_from, actor=actor, occurred_at=occurred_at
        )

    @event("HousingRequested")
    def _housing_requested(
        self, request_id: UUID, via_agency: str, needed_from: date | None, actor: Actor, occurred_at: datetime
    ) -> None:
        self.housing_requests[request_id] = HousingRequest(
            request_id=request_id, via_agency=via_agency, needed_from=needed_from,
            status=HousingStatus.REQUESTED, requested_at=occurred_at,
        )
        self._touch(actor, occurred_at)

    def offer_housing(
        self, request_id: UUID, place: str, available_on: date, actor: Actor, occurred_at: datetime
    ) -> None:
        self.check_can_act(actor)
        request = self._housing(request_id)
        # A declined offer leaves the request alive: the SIAO offers again.
        if request.status is HousingStatus.CONFIRMED:
            raise errors.HousingAlreadySettled()
        self._housing_offered(request_id=request_id, place=place, available_on=available_on, actor=actor, occurred_at=occurred_at)

    @event("HousingOffered")
    def _housing_offered(self, request_id: UUID, place: str, available_on: date, actor: Actor, occurred_at: datetime) -> None:
        request = self.housing_requests[request_id]
        request.status = HousingStatus.OFFERED
        request.offer_place = place
        request.offer_available_on = available_on
        request.decline_reason = None
        request.status_changed_at = occurred_at
        self._touch(actor, occurred_at)

    def confirm_housing(self, request_id: UUID, actor: Actor, occurred_at: datetime) -> None:
        self.check_can_act(actor)
        if self._housing(request_id).status is not HousingStatus.OFFERED:
            raise errors.HousingNotOffered()
        self._housing_confirmed(request_id=request_id, actor=actor, occurred_at=occurred_at)

    @event("HousingConfirmed")
    def _housing_confirmed(self, request_id: UUID, actor: Actor, occurred_at: datetime) -> None:
        request = self.housing_requests[request_id]
        request.status = HousingStatus.CONFIRMED
        request.status_changed_at = occurred_at
        self._touch(actor, occurred_at)

    def decline_housing(self, request_id: UUID, reason: str, actor: Actor, occurred_at: datetime) -> None:
        self.check_can_act(actor)
        if self._housing(request_id).status is not HousingStatus.OFFERED:
            raise errors.HousingNotOffered()
        self.check_reason_given(reason)
        self._housing_declined(request_id=request_id, reason=reason, actor=actor, occurred_at=occurred_at)

    @event("HousingDeclined")
    def _housing_declined(self, request_id: UUID, reason: str, actor: Actor, occurred_at: datetime) -> None:
        request = self.housing_requests[request_id]
        request.status = HousingStatus.DECLINED
        request.decline_reason = reason
        request.status_changed_at = occurred_at
        self._touch(actor, occurred_at)

    # ------------------------------------------------------------------ contact details
    def record_phone_status(self, status: PhoneStatus, actor: Actor, occurred_at: datetime) -> None:
        # The number itself is identity data and stays out of the stream; only its state.
        self.check_can_act(actor)
        self._phone_status_recorded(status=PhoneStatus(status), actor=actor, occurred_at=occurred_at)

    @event("PhoneStatusRecorded")
    def _phone_status_recorded(self, status: PhoneStatus, actor: Actor, occurred_at: datetime) -> None:
        self.contact.phone = PhoneStatus(status)
        self.contact.phone_changed_at = occurred_at
        if self.contact.phone is PhoneStatus.VALID:
            self.contact.failed_attempts = 0  # a fresh number: count again from zero
        self._touch(actor, occurred_at)

    def record_contact_attempt(self, reached: bool, channel: str, actor: Actor, occurred_at: datetime) -> None:
        self.check_can_act(actor)
        self._contact_attempted(reached=reached, channel=channel, actor=actor, occurred_at=occurred_at)

    @event("ContactAttempted")
    def _contact_attempted(self, reached: bool, channel: str, actor: Actor, occurred_at: datetime) -> None:
        self.contact.last_attempt_at = occurred_at
        if reached:
            self.contact.failed_attempts = 0
            self.contact.last_reached_at = occurred_at
        else:
            self.contact.failed_attempts += 1
        self._touch(actor, occurred_at)

    # ------------------------------------------------------------------ case conferences
    def hold_case_conference(
        self,
        conference_id: UUID,
        agencies: list[str],
        decisions: list[str],
        actor: Actor,
        occurred_at: datetime,
    ) -> None:
        """`agencies`: those INVITED (agencies of the pathway). Only the convener's own agency
        is recorded present by it: every other one confirms its presence itself
        (:meth:`confirm_conference_presence`), so no agency is put down as present by another."""
        self.check_can_act(actor)
        self.check_new_id(self.case_conferences, conference_id, "conference_id")
        for agency in agencies:
            if agency not in self.participants:
                raise errors.AgencyNotParticipating(
                    f"La structure « {agency} » ne participe pas au parcours : elle ne peut être invitée.",
                    field="agencies")
        self._case_conference_held(
            conference_id=conference_id, agencies=list(dict.fromkeys(agencies)), decisions=list(decisions),
            actor=actor, occurred_at=occurred_at,
        )

    @event("CaseConferenceHeld")
    def _case_conference_held(
        self, conference_id: UUID, agencies: list[str], decisions: list[str], actor: Actor, occurred_at: datetime
    ) -> None:
        self.case_conferences[conference_id] = CaseConference(
            conference_id=conference_id, held_at=occurred_at, agencies=list(agencies), decisions=list(decisions),
            present=[] if actor.is_system else [actor.agency],
        )
        self._touch(actor, occurred_at)

    def confirm_conference_presence(self, conference_id: UUID, actor: Actor, occurred_at: datetime) -> None:
        """The caller's agency confirms it was at the conference: the command names no agency,
        the agency is the caller's (an agency confirms for itself only)."""
        self.check_can_act(actor)
        conference = self.case_conferences.get(conference_id)
        if conference is None:
            raise errors.UnknownCaseConference()
        if actor.agency in conference.present:
            raise errors.PresenceAlreadyConfirmed()
        if actor.agency not in conference.agencies:
            raise errors.NotInvitedToConference()
        self._conference_presence_confirmed(conference_id=conference_id, agency=actor.agency, actor=actor,
                                            occurred_at=occurred_at)

    @event("ConferencePresenceConfirmed")
    def _conference_presence_confirmed(self, conference_id: UUID, agency: str, actor: Actor,
                                       occurred_at: datetime) -> None:
        self.case_conferences[conference_id].present.append(agency)
        self._touch(actor, occurred_at)

    def assign_action(
        self,
        conference_id: UUID,
        action_id: UUID,
        owner_agency: str,
        description: str,
        due_on: date,
        actor: Actor,
        occurred_at: datetime,
    ) -> None:
        self.check_can_act(actor)
        if conference_id not in self.case_conferences:
            raise errors.UnknownCaseConference()
        self.check_new_id(self.actions, action_id, "action_id")
        if owner_agency not in self.participants:
            raise errors.AgencyNotParticipating(field="owner_agency")
        self._action_assigned(
            conference_id=conference_id, action_id=action_id, owner_agency=owner_agency,
            description=description, due_on=due_on, actor=actor, occurred_at=occurred_at,
        )

    @event("ActionAssigned")
    def _action_assigned(
        self, conference_id: UUID, action_id: UUID, owner_agency: str, description: str, due_on: date,
        actor: Actor, occurred_at: datetime,
    ) -> None:
        self.actions[action_id] = ConferenceAction(
            action_id=action_id, conference_id=conference_id, owner_agency=owner_agency,
            description=description, due_on=due_on,
        )
        self.case_conferences[conference_id].action_ids.append(action_id)
        self._touch(actor, occurred_at)

    def complete_action(self, action_id: UUID, actor: Actor, occurred_at: datetime) -> None:
        self.check_can_act(actor)
        action = self.actions.get(action_id)
        if action is None:
            raise errors.UnknownAction()
        if action.done:
            raise errors.ActionAlreadyDone()
        self._action_completed(action_id=action_id, actor=actor, occurred_at=occurred_at)

    @event("ActionCompleted")
    def _action_completed(self, action_id: UUID, actor: Actor, occurred_at: datetime) -> None:
        action = self.actions[action_id]
        action.done = True
        action.done_at = occurred_at
        self._touch(actor, occurred_at)

    # ------------------------------------------------------------------ alerts
    def raise_alert(
        self,
        alert_id: UUID,
        rule_id: str,
        subject: str,
        triggering_event_ids: list[str],
        owner_agency: str,
        suggested_action: str,
        severity: AlertSeverity,
        actor: Actor,
        occurred_at: datetime,
    ) -> None:
        self.check_can_act(actor)
        disclosure.rule_entry(rule_id)  # an alert names a rule of the catalogue (UnknownRule)
        self.check_new_id(self.alerts, alert_id, "alert_id")
        self.check_alert_not_open_for(rule_id, subject)
        self._alert_raised(
            alert_id=alert_id, rule_id=rule_id, subject=subject,
            triggering_event_ids=list(triggering_event_ids), owner_agency=owner_agency,
            suggested_action=suggested_action, severity=AlertSeverity(severity),
            actor=actor, occurred_at=occurred_at,
        )

    @event("AlertRaised")
    def _alert_raised(
        self, alert_id: UUID, rule_id: str, subject: str, triggering_event_ids: list[str], owner_agency: str,
        suggested_action: str, severity: AlertSeverity, actor: Actor, occurred_at: datetime,
    ) -> None:
        self.alerts[alert_id] = Alert(
            alert_id=alert_id, rule_id=rule_id, subject=subject,
            triggering_event_ids=list(triggering_event_ids), owner_agency=owner_agency,
            suggested_action=suggested_action, severity=AlertSeverity(severity),
            status=AlertStatus.RAISED, raised_at=occurred_at,
        )
        self._touch(actor, occurred_at, progress=False)

    def acknowledge_alert(self, alert_id: UUID, actor: Actor, occurred_at: datetime) -> None:
        """Idempotent: an alert already acknowledged (and not escalated since) stores nothing more."""
        self.check_can_act(actor)
        alert = self._alert(alert_id)
        self.check_alert_open(alert)
        if alert.status is AlertStatus.ACKNOWLEDGED:
            return
        self._alert_acknowledged(alert_id=alert_id, actor=actor, occurred_at=occurred_at)

    @event("AlertAcknowledged")
    def _alert_acknowledged(self, alert_id: UUID, actor: Actor, occurred_at: datetime) -> None:
        alert = self.alerts[alert_id]
        alert.status = AlertStatus.ACKNOWLEDGED
        alert.acknowledged_by = actor.agency
        alert.status_changed_at = occurred_at
        self._touch(actor, occurred_at, progress=False)

    def escalate_alert(
        self, alert_id: UUID, to_agency: str, reason: str, actor: Actor, occurred_at: datetime
    ) -> None:
        self.check_can_act(actor)
        self.check_alert_open(self._alert(alert_id))
        self.check_reason_given(reason)
        self._alert_escalated(alert_id=alert_id, to_agency=to_agency, reason=reason, actor=actor, occurred_at=occurred_at)

    @event("AlertEscalated")
    def _alert_escalated(self, alert_id: UUID, to_agency: str, reason: str, actor: Actor, occurred_at: datetime) -> None:
        alert = self.alerts[alert_id]
        alert.status = AlertStatus.ESCALATED
        alert.escalated_to = to_agency
        alert.escalation_reason = reason
        alert.status_changed_at = occurred_at
        self._touch(actor, occurred_at, progress=False)

    def update_alert(
        self, alert_id: UUID, owner_agency: str, suggested_action: str, severity: AlertSeverity,
        actor: Actor, occurred_at: datetime,
    ) -> None:
        """The risk is still there but its owner, text or severity changed (a participant
        joined, a fact changed, the deadline nears): the open alert is updated, not raised again.
        Nothing changed: nothing is stored."""
        self.check_can_act(actor)
        alert = self._alert(alert_id)
        self.check_alert_open(alert)
        severity = AlertSeverity(severity)
        if (alert.owner_agency, alert.suggested_action, alert.severity) == (owner_agency, suggested_action, severity):
            return
        self._alert_updated(alert_id=alert_id, owner_agency=owner_agency, suggested_action=suggested_action,
                            severity=severity, actor=actor, occurred_at=occurred_at)

    @event("AlertUpdated")
    def _alert_updated(
        self, alert_id: UUID, owner_agency: str, suggested_action: str, severity: AlertSeverity,
        actor: Actor, occurred_at: datetime,
    ) -> None:
        alert = self.alerts[alert_id]
        alert.owner_agency = owner_agency
        alert.suggested_action = suggested_action
        alert.severity = AlertSeverity(severity)
        self._touch(actor, occurred_at, progress=False)

    def dismiss_alert(
        self, alert_id: UUID, reason: DismissalReason, detail: str | None, actor: Actor, occurred_at: datetime
    ) -> None:
        """The owner judges the alert wrong or moot (false alarm, handled elsewhere, the person
        refused): it closes with that reason, and the engine does not raise it again for the same risk."""
        self.check_can_act(actor)
        alert = self._alert(alert_id)
        self.check_alert_open(alert)
        if actor.agency not in (alert.owner_agency, alert.escalated_to):
            raise errors.NotAlertOwner()
        self._alert_dismissed(alert_id=alert_id, reason=DismissalReason(reason), detail=detail, actor=actor,
                              occurred_at=occurred_at)

    @event("AlertDismissed")
    def _alert_dismissed(
        self, alert_id: UUID, reason: DismissalReason, detail: str | None, actor: Actor, occurred_at: datetime
    ) -> None:
        alert = self.alerts[alert_id]
        alert.status = AlertStatus.DISMISSED
        alert.dismissal_reason = DismissalReason(reason)
        alert.dismissed_by = actor.agency
        alert.resolution_reason = detail
        alert.status_changed_at = occurred_at
        self._touch(actor, occurred_at, progress=False)

    def resolve_alert(self, alert_id: UUID, reason: str, actor: Actor, occurred_at: datetime) -> None:
        self.check_can_act(actor)
        self.check_alert_open(self._alert(alert_id))
        self.check_reason_given(reason)
        self._alert_resolved(alert_id=alert_id, reason=reason, actor=actor, occurred_at=occurred_at)

    @event("AlertResolved")
    def _alert_resolved(self, alert_id: UUID, reason: str, actor: Actor, occurred_at: datetime) -> None:
        alert = self.alerts[alert_id]
        alert.status = AlertStatus.RESOLVED
        alert.resolution_reason = reason
        alert.status_changed_at = occurred_at
        self._touch(actor, occurred_at, progress=False)

    # ------------------------------------------------------------------ closure
    def close(self, outcome: ClosureOutcome, reason: str, actor: Actor, occurred_at: datetime) -> None:
        self.check_can_act(actor)
        outcome = ClosureOutcome(outcome)
        self.check_reason_given(reason)
        self.check_closure_outcome_fits(outcome)
        # Nothing can be done on a closed pathway, so nothing could ever resolve an alert still
        # open at closure: the closure resolves them, one AlertResolved each (the alert read
        # models and the timeline already know that event), before PathwayClosed, same actor
        # and moment. Their reason names the closure, not a fact that removed the risk.
        closure_reason = self.alert_resolution_at_closure(outcome)
        for alert in self.open_alerts:  # in the order they were raised
            self._alert_resolved(alert_id=alert.alert_id, reason=closure_reason, actor=actor, occurred_at=occurred_at)
        self._pathway_closed(outcome=outcome, reason=reason, actor=actor, occurred_at=occurred_at)

    @staticmethod
    def alert_resolution_at_closure(outcome: ClosureOutcome) -> str:
        """The reason of the alerts resolved by a closure (the risk engine words it the same)."""
        return f"Parcours clos ({disclosure.value_label(disclosure.CLOSURE_OUTCOME_LABELS, ClosureOutcome(outcome))})."

    @event("PathwayClosed")
    def _pathway_closed(self, outcome: ClosureOutcome, reason: str, actor: Actor, occurred_at: datetime) -> None:
        self.is_closed = True
        self.closure_outcome = ClosureOutcome(outcome)
        self.closure_reason = reason
        self.closed_at = occurred_at
        self._touch(actor, occurred_at)

    def reopen(self, reason: str, actor: Actor, occurred_at: datetime) -> None:
        self.check_not_erased()
        if not self.is_closed:
            raise errors.PathwayNotClosed()
        self.check_participates(actor)
        self.check_reason_given(reason)
        self._pathway_reopened(reason=reason, actor=actor, occurred_at=occurred_at)

    def erase_personal_data(self, legal_basis: ErasureBasis, actor: Actor, occurred_at: datetime) -> None:
        """The person's data are erased (crypto-shredding: their key is destroyed right after
        this event is stored). The event carries no personal data; the read models purge the
        pathway's rows on it; nothing can be recorded on the pathway afterwards."""
        self.check_not_erased()
        self.check_may_erase(actor)
        self._personal_data_erased(legal_basis=ErasureBasis(legal_basis), actor=actor, occurred_at=occurred_at)

    @event("PersonalDataErased")
    def _personal_data_erased(self, legal_basis: ErasureBasis, actor: Actor, occurred_at: datetime) -> None:
        self.is_erased = True
        self.is_closed = True
        # Opening events replayed after the erasure have no reference left (key destroyed).
        self.person_ref = None
        self._touch(actor, occurred_at)

    @event("PathwayReopened")
    def _pathway_reopened(self, reason: str, actor: Actor, occurred_at: datetime) -> None:
        self.is_closed = False
        self.closure_outcome = None
        self.closure_reason = None
        self.closed_at = None
        self._touch(actor, occurred_at)
