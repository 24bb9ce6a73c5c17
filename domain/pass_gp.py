"""Relais PASS -> médecine de ville: the closed-loop referral from the PASS to a GP once
rights (AME/CSS/PUMa) are open; phone follow-up checks that the person went, and why not.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from eventsourcing.domain import event

from domain import errors
from domain.pathway import Pathway
from domain.values import (
    Actor,
    ClosureOutcome,
    CoverageScheme,
    CoverageStatus,
    GpVisitOutcome,
    NotWentReason,
    PathwayKind,
    PhoneStatus,
    Referral,
    ReferralOutcome,
    ReferralStatus,
)

#: Rights that let a GP be paid for the consultation (soins urgents do not).
GP_RIGHTS = frozenset({CoverageScheme.AME, CoverageScheme.CSS, CoverageScheme.PUMA})

GP_SERVICE = "médecin traitant"


@dataclass
class GpSearch:
    commune: str  # many GPs only take patients living in their commune
    languages: list[str]
    needs_phone_interpreting: bool
    started_at: datetime


@dataclass
class GpOrientation:
    orientation_id: UUID
    gp_ref: str  # directory reference of the GP practice
    gp_commune: str
    accepts_phone_interpreting: bool
    oriented_at: datetime
    calls: list[bool] = field(default_factory=list)  # follow-up calls: reached or not
    outcome: GpVisitOutcome | None = None
    not_went_reason: NotWentReason | None = None
    outcome_detail: str | None = None


class PassGpPathway(Pathway):
    @event("PassGpPathwayOpened")
    def __init__(  # `id` is the pathway id chosen by the client, not an event field
        self,
        id: UUID,  # noqa: A002
        person_ref: str,
        territory: str,
        lead_agency: str,
        actor: Actor,
        occurred_at: datetime,
    ) -> None:
        self._open(PathwayKind.PASS_GP, person_ref, territory, lead_agency, actor, occurred_at)
        self.gp_search: GpSearch | None = None
        self.orientations: dict[UUID, GpOrientation] = {}

    @property
    def rights_open(self) -> bool:
        return any(
            right.status is CoverageStatus.OPEN and scheme in GP_RIGHTS for scheme, right in self.coverage.items()
        )

    @property
    def went_to_gp(self) -> bool:
        return any(o.outcome is GpVisitOutcome.WENT for o in self.orientations.values())

    def _orientation(self, orientation_id: UUID) -> GpOrientation:
        try:
            return self.orientations[orientation_id]
        except KeyError:
            raise errors.UnknownOrientation() from None

    def start_gp_search(
        self,
        commune: str,
        languages: list[str],
        needs_phone_interpreting: bool,
        actor: Actor,
        occurred_at: datetime,
    ) -> None:
        self.check_can_act(actor)
        self._gp_search_started(
            commune=commune, languages=list(languages), needs_phone_interpreting=needs_phone_interpreting,
            actor=actor, occurred_at=occurred_at,
        )

    @event("GpSearchStarted")
    def _gp_search_started(
        self, commune: str, languages: list[str], needs_phone_interpreting: bool, actor: Actor, occurred_at: datetime
    ) -> None:
        self.gp_search = GpSearch(
            commune=commune, languages=list(languages), needs_phone_interpreting=needs_phone_interpreting,
            started_at=occurred_at,
        )
        self._touch(actor, occurred_at)

    def orient_to_gp(
        self,
        orientation_id: UUID,
        gp_ref: str,
        gp_commune: str,
        accepts_phone_interpreting: bool,
        actor: Actor,
        occurred_at: datetime,
    ) -> None:
        self.check_can_act(actor)
        if not self.rights_open:
            raise errors.RightsNotOpen(field="orientation_id")
        self.check_new_id(self.orientations, orientation_id, "orientation_id")
        self.check_new_id(self.referrals, orientation_id, "orientation_id")
        self._oriented_to_gp(
            orientation_id=orientation_id, gp_ref=gp_ref, gp_commune=gp_commune,
            accepts_phone_interpreting=accepts_phone_interpreting, actor=actor, occurred_at=occurred_at,
        )

    @event("OrientedToGp")
    def _oriented_to_gp(
        self, orientation_id: UUID, gp_ref: str, gp_commune: str, accepts_phone_interpreting: bool,
        actor: Actor, occurred_at: datetime,
    ) -> None:
        self.orientations[orientation_id] = GpOrientation(
            orientation_id=orientation_id, gp_ref=gp_ref, gp_commune=gp_commune,
            accepts_phone_interpreting=accepts_phone_interpreting, oriented_at=occurred_at,
        )
        # The orientation is also a referral, so the shared rules (referral-unverified,
        # referral-declined) watch it without knowing about GPs.
        self.referrals[orientation_id] = Referral(
            referral_id=orientation_id, to_agency=gp_ref, service=GP_SERVICE,
            status=ReferralStatus.REQUESTED, made_at=occurred_at, made_by=actor.agency,
        )
        self._touch(actor, occurred_at)

    def record_follow_up_call(
        self, orientation_id: UUID, reached: bool, actor: Actor, occurred_at: datetime
    ) -> None:
        self.check_can_act(actor)
        self._orientation(orientation_id)
        self._follow_up_call_made(orientation_id=orientation_id, reached=reached, actor=actor, occurred_at=occurred_at)

    @event("FollowUpCallMade")
    def _follow_up_call_made(self, orientation_id: UUID, reached: bool, actor: Actor, occurred_at: datetime) -> None:
        self.orientations[orientation_id].calls.append(reached)
        self.contact.last_attempt_at = occurred_at
        if reached:
            self.contact.failed_attempts = 0
            self.contact.last_reached_at = occurred_at
        else:
            self.contact.failed_attempts += 1
        self._touch(actor, occurred_at)

    def record_gp_visit_outcome(
        self,
        orientation_id: UUID,
        outcome: GpVisitOutcome,
        reason: NotWentReason | None,
        detail: str | None,
        actor: Actor,
        occurred_at: datetime,
    ) -> None:
        self.check_can_act(actor)
        orientation = self._orientation(orientation_id)
        if orientation.outcome is not None:
            raise errors.OutcomeAlreadyRecorded()
        outcome = GpVisitOutcome(outcome)
        if outcome is GpVisitOutcome.DID_NOT_GO and reason is None:
            raise errors.ReasonRequired("Indiquer pourquoi la personne n'est pas allée chez le médecin.")
        referral_status = ReferralStatus.COMPLETED if outcome is GpVisitOutcome.WENT else ReferralStatus.FAILED
        self.check_referral_transition(self.referrals[orientation_id], referral_status, "issue renseignée")
        if outcome is GpVisitOutcome.WENT:
            reason = None  # a reason only explains a visit that did not happen
        self._gp_visit_outcome_recorded(
            orientation_id=orientation_id, outcome=outcome,
            reason=NotWentReason(reason) if reason is not None else None, detail=detail,
            actor=actor, occurred_at=occurred_at,
        )

    @event("GpVisitOutcomeRecorded")
    def _gp_visit_outcome_recorded(
        self, orientation_id: UUID, outcome: GpVisitOutcome, reason: NotWentReason | None, detail: str | None,
        actor: Actor, occurred_at: datetime,
    ) -> None:
        orientation = self.orientations[orientation_id]
        orientation.outcome = GpVisitOutcome(outcome)
        orientation.not_went_reason = NotWentReason(reason) if reason is not None else None
        orientation.outcome_detail = detail
        referral = self.referrals[orientation_id]
        went = orientation.outcome is GpVisitOutcome.WENT
        referral.outcome = ReferralOutcome.HONOURED if went else ReferralOutcome.NOT_HONOURED
        referral.outcome_reason = orientation.not_went_reason.value if orientation.not_went_reason else None
        referral.outcome_at = occurred_at
        referral.status = ReferralStatus.COMPLETED if went else ReferralStatus.FAILED
        referral.status_reason = referral.outcome_reason
        referral.status_changed_at = occurred_at
        if orientation.not_went_reason is NotWentReason.PHONE_CHANGED:
            # Learned when the person is finally reached another way: the number is gone.
            self.contact.phone = PhoneStatus.CHANGED
            self.contact.phone_changed_at = occurred_at
        self._touch(actor, occurred_at)

    def check_closure_outcome_fits(self, outcome: ClosureOutcome) -> None:
        super().check_closure_outcome_fits(outcome)
        if outcome is ClosureOutcome.HANDED_OVER and not self.went_to_gp:
            raise errors.GpVisitNotConfirmed()
