"""Sortie de maternité: discharge of a vulnerable pregnant woman or new mother.

The break to prevent: discharge with a newborn to the street, post-natal and paediatric
follow-up missed. The PMI of the département is the link that must exist at discharge.
"""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from eventsourcing.domain import event

from domain import errors
from domain.pathway import Pathway
from domain.values import Actor, ClosureOutcome, ParticipantRole, PathwayKind


class MaternityPathway(Pathway):
    @event("MaternityPathwayOpened")
    def __init__(  # `id` is the pathway id chosen by the client, not an event field
        self,
        id: UUID,  # noqa: A002
        person_ref: str,
        territory: str,
        lead_agency: str,
        maternity_ward: str,
        discharge_date: date | None,
        actor: Actor,
        occurred_at: datetime,
    ) -> None:
        self._open(PathwayKind.MATERNITY, person_ref, territory, lead_agency, actor, occurred_at)
        self.maternity_ward = maternity_ward
        self.discharge_date = discharge_date
        self.exit_date = discharge_date
        self.newborn_ref: str | None = None
        self.born_on: date | None = None
        self.pmi_agency: str | None = None
        self.pmi_first_visit_on: date | None = None

    @property
    def has_newborn(self) -> bool:
        return self.newborn_ref is not None

    @property
    def pmi_linked(self) -> bool:
        return self.pmi_agency is not None

    def schedule_discharge(self, discharge_date: date, actor: Actor, occurred_at: datetime) -> None:
        self.check_can_act(actor)
        if self.exited_on is not None:
            raise errors.ExitAlreadyRecorded(field="discharge_date")
        self._discharge_date_set(discharge_date=discharge_date, actor=actor, occurred_at=occurred_at)

    @event("DischargeDateSet")
    def _discharge_date_set(self, discharge_date: date, actor: Actor, occurred_at: datetime) -> None:
        self.discharge_date = discharge_date
        self.exit_date = discharge_date
        self._touch(actor, occurred_at)

    def register_newborn(self, newborn_ref: str, born_on: date, actor: Actor, occurred_at: datetime) -> None:
        self.check_can_act(actor)
        if self.newborn_ref is not None:
            raise errors.DuplicateIdentifier("Un nouveau-né est déjà enregistré.", field="newborn_ref")
        self._newborn_registered(newborn_ref=newborn_ref, born_on=born_on, actor=actor, occurred_at=occurred_at)

    @event("NewbornRegistered")
    def _newborn_registered(self, newborn_ref: str, born_on: date, actor: Actor, occurred_at: datetime) -> None:
        self.newborn_ref = newborn_ref
        self.born_on = born_on
        self._touch(actor, occurred_at)

    def link_pmi(
        self, pmi_agency: str, first_visit_on: date | None, actor: Actor, occurred_at: datetime
    ) -> None:
        self.check_can_act(actor)
        self._pmi_linked(pmi_agency=pmi_agency, first_visit_on=first_visit_on, actor=actor, occurred_at=occurred_at)

    @event("PmiLinked")
    def _pmi_linked(self, pmi_agency: str, first_visit_on: date | None, actor: Actor, occurred_at: datetime) -> None:
        self.pmi_agency = pmi_agency
        self.pmi_first_visit_on = first_visit_on
        # The PMI takes part in the pathway from now on: it must be able to write to it.
        self.participants.setdefault(pmi_agency, ParticipantRole.MATERNAL_CHILD)
        self._touch(actor, occurred_at)

    def record_discharge(self, discharged_on: date, actor: Actor, occurred_at: datetime) -> None:
        self.check_can_act(actor)
        if self.exited_on is not None:
            raise errors.ExitAlreadyRecorded(field="discharged_on")
        self.check_not_before_opening(discharged_on, "discharged_on")
        self._discharged(discharged_on=discharged_on, actor=actor, occurred_at=occurred_at)

    @event("Discharged")
    def _discharged(self, discharged_on: date, actor: Actor, occurred_at: datetime) -> None:
        self.exited_on = discharged_on
        self._touch(actor, occurred_at)

    def check_closure_outcome_fits(self, outcome: ClosureOutcome) -> None:
        super().check_closure_outcome_fits(outcome)
        # A hand-over with a newborn means the PMI has the family; otherwise it is not one.
        if outcome in (ClosureOutcome.HANDED_OVER, ClosureOutcome.HOUSED) and self.has_newborn and not self.pmi_linked:
            raise errors.PmiNotLinked()
