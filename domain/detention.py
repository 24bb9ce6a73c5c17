"""Sortie de détention: release from prison (USMP/SMPR, SPIP, SIAO, CSAPA, CPAM, GP).

Before the release date: rights open, housing secured, first care appointments after release
booked, treatments (substitution above all) handed over.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from domain import errors
from domain.pathway import Pathway
from domain.values import Actor, PathwayKind, Treatment, TreatmentKind


class DetentionPathway(Pathway):
    @event("DetentionPathwayOpened")
    def __init__(  # `id` is the pathway id chosen by the client, not an event field
        self,
        id: UUID,  # noqa: A002
        person_ref: str,
        territory: str,
        lead_agency: str,
        prison: str,
        release_date: date | None,
        actor: Actor,
        occurred_at: datetime,
    ) -> None:
        self._open(PathwayKind.DETENTION, person_ref, territory, lead_agency, actor, occurred_at)
        self.prison = prison
        self.release_date = release_date
        self.exit_date = release_date
        self.treatments: dict[UUID, Treatment] = {}

    class ReleaseDateSet(Pathway.Event):
        """Version 2 renamed the v1 field `new_date` to `release_date` (upcast below)."""

        class_version = 2
        release_date: date

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["release_date"] = state.pop("new_date")

    def schedule_release(self, release_date: date, actor: Actor, occurred_at: datetime) -> None:
        """Sets or moves the release date (sentence adjustments move it often)."""
        self.check_can_act(actor)
        self.check_no_exit_yet()
        self._release_date_set(release_date=release_date, actor=actor, occurred_at=occurred_at)

    @event(ReleaseDateSet)
    def _release_date_set(self, release_date: date, actor: Actor, occurred_at: datetime) -> None:
        self.release_date = release_date
        self.exit_date = release_date
        self._touch(actor, occurred_at)

    def check_no_exit_yet(self) -> None:
        if self.exited_on is not None:
            raise errors.ExitAlreadyRecorded(field="release_date")

    def _treatment(self, treatment_id: UUID) -> Treatment:
        try:
            return self.treatments[treatment_id]
        except KeyError:
            raise errors.UnknownTreatment() from None

    def record_treatment_to_continue(
        self,
        treatment_id: UUID,
        kind: TreatmentKind,
        name: str,
        prescribed_by: str,
        actor: Actor,
        occurred_at: datetime,
    ) -> None:
        self.check_can_act(actor)
        self.check_new_id(self.treatments, treatment_id, "treatment_id")
        self._treatment_to_continue_recorded(
            treatment_id=treatment_id, kind=TreatmentKind(kind), name=name, prescribed_by=prescribed_by,
            actor=actor, occurred_at=occurred_at,
        )

    @event("TreatmentToContinueRecorded")
    def _treatment_to_continue_recorded(
        self, treatment_id: UUID, kind: TreatmentKind, name: str, prescribed_by: str,
        actor: Actor, occurred_at: datetime,
    ) -> None:
        self.treatments[treatment_id] = Treatment(
            treatment_id=treatment_id, kind=TreatmentKind(kind), name=name, prescribed_by=prescribed_by,
            recorded_by=actor.agency,
        )
        self._touch(actor, occurred_at)

    def plan_treatment_follow_up(
        self, treatment_id: UUID, appointment_id: UUID, actor: Actor, occurred_at: datetime
    ) -> None:
        """Links a treatment to the first appointment that continues it after release."""
        self.check_can_act(actor)
        self._treatment(treatment_id)
        appointment = self._appointment(appointment_id)
        self.check_appointment_pending(appointment)
        if self.release_date is not None and appointment.scheduled_at.date() < self.release_date:
            raise errors.FollowUpNotAfterExit()
        self._treatment_follow_up_planned(
            treatment_id=treatment_id, appointment_id=appointment_id, actor=actor, occurred_at=occurred_at
        )

    @event("TreatmentFollowUpPlanned")
    def _treatment_follow_up_planned(
        self, treatment_id: UUID, appointment_id: UUID, actor: Actor, occurred_at: datetime
    ) -> None:
        self.treatments[treatment_id].follow_up_appointment_id = appointment_id
        self._touch(actor, occurred_at)

    def hand_over_treatment(
        self, treatment_id: UUID, to_agency: str, actor: Actor, occurred_at: datetime
    ) -> None:
        self.check_can_act(actor)
        self._treatment(treatment_id)
        self._treatment_handed_over(treatment_id=treatment_id, to_agency=to_agency, actor=actor, occurred_at=occurred_at)

    @event("TreatmentHandedOver")
    def _treatment_handed_over(self, treatment_id: UUID, to_agency: str, actor: Actor, occurred_at: datetime) -> None:
        self.treatments[treatment_id].handed_over_to = to_agency
        self._touch(actor, occurred_at)

    def record_release(self, released_on: date, actor: Actor, occurred_at: datetime) -> None:
        self.check_can_act(actor)
        self.check_no_exit_yet()
        self.check_not_before_opening(released_on, "released_on")
        self._released(released_on=released_on, actor=actor, occurred_at=occurred_at)

    @event("Released")
    def _released(self, released_on: date, actor: Actor, occurred_at: datetime) -> None:
        self.exited_on = released_on
        self._touch(actor, occurred_at)

    @property
    def treatments_without_follow_up(self) -> list[Treatment]:
        return [t for t in self.treatments.values() if t.follow_up_appointment_id is None]
