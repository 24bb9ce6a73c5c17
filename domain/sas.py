"""Arrivée en SAS régional: temporary shelter of at most three weeks for people moved out of
Île-de-France. Day 0 arrival, administrative assessment, health rendez-vous (TB screening for
anyone from a high-endemicity country, via the CLAT), orientation decided before day 21.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from uuid import UUID

from eventsourcing.domain import event

from domain import errors
from domain.pathway import Pathway
from domain.values import Actor, AdministrativeStatus, ClosureOutcome, PathwayKind

#: "un hébergement temporaire d'une durée de trois semaines maximum"
SAS_MAX_STAY = timedelta(days=21)


class SasPathway(Pathway):
    @event("SasPathwayOpened")
    def __init__(  # `id` is the pathway id chosen by the client, not an event field
        self,
        id: UUID,  # noqa: A002
        person_ref: str,
        territory: str,
        lead_agency: str,
        arrived_on: date,
        from_high_tb_endemicity: bool,
        actor: Actor,
        occurred_at: datetime,
    ) -> None:
        self._open(PathwayKind.SAS, person_ref, territory, lead_agency, actor, occurred_at)
        self.arrived_on = arrived_on
        self.exit_date = arrived_on + SAS_MAX_STAY
        self.administrative_status: AdministrativeStatus | None = None
        self.assessed_on: date | None = None
        self.tb_screening_needed = from_high_tb_endemicity
        self.clat_screened_on: date | None = None
        self.screening_follow_up_needed: bool | None = None
        self.orientation: str | None = None
        self.orientation_decided_on: date | None = None
        self.exit_destination: str | None = None

    @property
    def day_21(self) -> date:
        return self.arrived_on + SAS_MAX_STAY

    def day_of_stay(self, today: date) -> int:
        """Day 0 is the arrival day; `today` is passed in (no clock in the domain)."""
        return (today - self.arrived_on).days

    @property
    def orientation_decided_in_time(self) -> bool:
        return self.orientation_decided_on is not None and self.orientation_decided_on <= self.day_21

    def check_not_before_arrival(self, when: date, field: str) -> None:
        if when < self.arrived_on:
            raise errors.DateBeforeStart("Cette date précède l'arrivée au SAS.", field=field)

    def assess_administrative_situation(
        self, status: AdministrativeStatus, assessed_on: date, actor: Actor, occurred_at: datetime
    ) -> None:
        self.check_can_act(actor)
        self.check_not_before_arrival(assessed_on, "assessed_on")
        self._administrative_situation_assessed(
            status=AdministrativeStatus(status), assessed_on=assessed_on, actor=actor, occurred_at=occurred_at
        )

    @event("AdministrativeSituationAssessed")
    def _administrative_situation_assessed(
        self, status: AdministrativeStatus, assessed_on: date, actor: Actor, occurred_at: datetime
    ) -> None:
        self.administrative_status = AdministrativeStatus(status)
        self.assessed_on = assessed_on
        self._touch(actor, occurred_at)

    def flag_tb_screening_need(self, actor: Actor, occurred_at: datetime) -> None:
        """The person comes from, or stayed in, a high TB-endemicity country."""
        self.check_can_act(actor)
        self._tb_screening_need_flagged(actor=actor, occurred_at=occurred_at)

    @event("TbScreeningNeedFlagged")
    def _tb_screening_need_flagged(self, actor: Actor, occurred_at: datetime) -> None:
        self.tb_screening_needed = True
        self._touch(actor, occurred_at)

    def record_clat_screening(
        self, screened_on: date, follow_up_needed: bool, actor: Actor, occurred_at: datetime
    ) -> None:
        # Only that it was done and whether follow-up is needed: the result is medical data
        # that stays with the CLAT.
        self.check_can_act(actor)
        self.check_not_before_arrival(screened_on, "screened_on")
        self._clat_screening_done(
            screened_on=screened_on, follow_up_needed=follow_up_needed, actor=actor, occurred_at=occurred_at
        )

    @event("ClatScreeningDone")
    def _clat_screening_done(self, screened_on: date, follow_up_needed: bool, actor: Actor, occurred_at: datetime) -> None:
        self.clat_screened_on = screened_on
        self.screening_follow_up_needed = follow_up_needed
        self._touch(actor, occurred_at)

    def decide_orientation(
        self, destination: str, decided_on: date, actor: Actor, occurred_at: datetime
    ) -> None:
        self.check_can_act(actor)
        self.check_not_before_arrival(decided_on, "decided_on")
        self._orientation_decided(destination=destination, decided_on=decided_on, actor=actor, occurred_at=occurred_at)

    @event("OrientationDecided")
    def _orientation_decided(self, destination: str, decided_on: date, actor: Actor, occurred_at: datetime) -> None:
        self.orientation = destination
        self.orientation_decided_on = decided_on
        self._touch(actor, occurred_at)

    def record_sas_exit(self, left_on: date, destination: str, actor: Actor, occurred_at: datetime) -> None:
        self.check_can_act(actor)
        if self.exited_on is not None:
            raise errors.ExitAlreadyRecorded(field="left_on")
        self.check_not_before_arrival(left_on, "left_on")
        self._sas_left(left_on=left_on, destination=destination, actor=actor, occurred_at=occurred_at)

    @event("SasLeft")
    def _sas_left(self, left_on: date, destination: str, actor: Actor, occurred_at: datetime) -> None:
        self.exited_on = left_on
        self.exit_destination = destination
        self._touch(actor, occurred_at)

    def check_closure_outcome_fits(self, outcome: ClosureOutcome) -> None:
        super().check_closure_outcome_fits(outcome)
        if outcome is ClosureOutcome.HANDED_OVER and self.orientation is None:
            raise errors.OrientationNotDecided()
