"""The directory of services (cartographie): who offers what, to whom, in which language, with
what capacity — one event-sourced `Service` per offer, owned by the agency that runs it.

Field names follow, where they have one, Open Referral HSDS 3.0 (`name`, `description`,
`languages`, `interpretation_services`...) and the national schema of the *offre d'insertion*
(data·inclusion: `publics`, `conditions_acces`, `zone_eligibilite` as INSEE codes,
`modes_mobilisation`, `horaires_accueil` in OpenStreetMap opening_hours format, `code_insee`,
`commune`, `telephone`, `courriel`, `date_maj`). What neither has and the field needs:
`accepting_new_patients`, the referral quota per period, saturation (low/moderate/high, as
Soliguide), the publics by administrative status, the update frequency.

Same pattern as the pathways (domain/pathway.py): a verb runs its `check_*` rules, then an
`@event` method applies the fact. Every event carries `actor`, `occurred_at` and the
`command_id` that caused it (a command sent twice is recognised on the aggregate itself).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain import errors
from domain.values import AdministrativeStatus, Actor


class ServiceKind(StrEnum):
    """What a service is (the seeds' kinds)."""

    MG = "medecin-generaliste"
    PASS = "pass"
    CSAPA = "csapa"
    CAARUD = "caarud"
    CMP = "cmp"
    CLAT = "clat"
    CEGIDD = "cegidd"
    PMI = "pmi"
    SIAO = "siao"
    LHSS = "lhss"
    CADA = "cada"
    INTERPRETARIAT = "interpretariat"  # ISM Interprétariat and the like
    AUTRE = "autre"


class Saturation(StrEnum):
    """How full the service says it is (Soliguide's three levels)."""

    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"


class QuotaPeriod(StrEnum):
    WEEK = "week"
    MONTH = "month"


#: INSEE commune code (5 characters: `76540`, Corsica `2A004`); a département code (2-3).
COMMUNE_CODE = re.compile(r"^(\d{5}|2[AB]\d{3})$")
DEPARTEMENT_CODE = re.compile(r"^(0[1-9]|[1-8]\d|9[0-5]|2[AB]|97[1-6])$")
#: ISO 639-1 language code, or ISO 639-3 for those without one (Dari `prs`, Soninké `snk`), as
#: HSDS `languages.code`.
LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}$")


class ServiceError(errors.DomainError):
    """Base of the directory's refusals."""


class NotServiceOwner(ServiceError):
    default_reason = "Seule la structure qui propose ce service peut le modifier."
    default_field = "actor.agency"


class InvalidServiceDetails(ServiceError):
    default_reason = "Fiche de service invalide."


class NotAcceptingPatients(ServiceError):
    default_reason = "Ce service ne prend pas de nouvelles personnes actuellement."
    default_field = "service_id"


class QuotaExhausted(ServiceError):
    default_reason = "Le quota d'orientations de ce service est atteint pour la période."
    default_field = "service_id"


class PlaceAlreadyTaken(ServiceError):
    default_reason = "Cette orientation a déjà une place dans ce service."
    default_field = "referral_id"


class UnknownPlace(ServiceError):
    default_reason = "Cette orientation n'a pas de place dans ce service."
    default_field = "referral_id"


class IntakeUnchanged(ServiceError):
    default_reason = "Le service est déjà dans cet état d'accueil."
    default_field = "accepting_new_patients"


@dataclass(frozen=True)
class Quota:
    """At most `places` referrals per `period` (calendar ISO week or month)."""

    places: int
    period: QuotaPeriod

    def period_of(self, when: date) -> str:
        if self.period is QuotaPeriod.WEEK:
            year, week, _ = when.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{when.year}-{when.month:02d}"


@dataclass(frozen=True)
class ServiceDetails:
    """What the owning agency describes (one full sheet each time: a partial update would
    need a merge rule nobody asked for)."""

    name: str  # HSDS service.name, data·inclusion `nom`
    kind: ServiceKind
    organization: str  # HSDS organization.name
    code_insee: str  # data·inclusion: the location's commune
    commune: str
    description: str = ""
    #: data·inclusion: INSEE codes (communes, départements) where the person must live; empty:
    #: no rule. A GP taking only patients of their commune lists that commune.
    zone_eligibilite: tuple[str, ...] = ()
    publics: tuple[str, ...] = ("tous-publics",)  # data·inclusion Public values
    #: Administrative situations the service takes (Soliguide); empty: all.
    statuts_administratifs: tuple[AdministrativeStatus, ...] = ()
    conditions_acces: str | None = None
    modes_mobilisation: tuple[str, ...] = ()
    languages: tuple[str, ...] = ("fr",)  # HSDS languages (ISO 639-1) spoken by the staff
    #: Accepts a professional or phone interpreter (ISM...) for the languages it does not speak.
    accepts_interpreting: bool = False
    horaires_accueil: str | None = None  # OSM opening_hours, e.g. "Mo-Fr 08:30-12:30"
    telephone: str | None = None
    courriel: str | None = None
    update_frequency_days: int = 90

    def check(self) -> None:
        """Raises InvalidServiceDetails naming the field (French) when a value is malformed."""
        if len(self.name.strip()) < 3:
            raise InvalidServiceDetails("Le nom du service doit compter au moins 3 caractères.", field="details.name")
        if not self.organization.strip():
            raise InvalidServiceDetails("Nom de la structure manquant.", field="details.organization")
        if not COMMUNE_CODE.match(self.code_insee):
            raise InvalidServiceDetails(f"Code commune INSEE « {self.code_insee} » invalide (5 caractères).",
                                        field="details.code_insee")
        for code in self.zone_eligibilite:
            if not (COMMUNE_CODE.match(code) or DEPARTEMENT_CODE.match(code)):
                raise InvalidServiceDetails(f"Zone d'éligibilité « {code} » : code commune ou département "
                                            "INSEE attendu.", field="details.zone_eligibilite")
        for code in self.languages:
            if not LANGUAGE_CODE.match(code):
                raise InvalidServiceDetails(f"Langue « {code} » : code ISO 639-1 ou 639-3 attendu (fr, ar, prs...).",
                                            field="details.languages")
        if not 1 <= self.update_frequency_days <= 366:
            raise InvalidServiceDetails("Fréquence de mise à jour : entre 1 et 366 jours.",
                                        field="details.update_frequency_days")
        if self.horaires_accueil is not None:
            from domain.hours import check_opening_hours

            check_opening_hours(self.horaires_accueil, field="details.horaires_accueil")

    def as_event(self) -> dict[str, Any]:
        """Plain JSON (what the event stores)."""
        out: dict[str, Any] = {}
        for name in SERVICE_DETAIL_FIELDS:
            value = getattr(self, name)
            out[name] = [str(v) for v in value] if isinstance(value, tuple) else (
                str(value) if isinstance(value, StrEnum) else value)
        return out

    @classmethod
    def from_event(cls, data: Mapping[str, Any]) -> ServiceDetails:
        values: dict[str, Any] = {}
        for name in SERVICE_DETAIL_FIELDS:
            if name not in data:
                continue
            value = data[name]
            if name == "kind":
                value = ServiceKind(value)
            elif name == "statuts_administratifs":
                value = tuple(AdministrativeStatus(v) for v in value)
            elif isinstance(value, list):
                value = tuple(value)
            values[name] = value
        return cls(**values)


SERVICE_DETAIL_FIELDS: tuple[str, ...] = tuple(ServiceDetails.__dataclass_fields__)


@dataclass
class Place:
    """One unit of quota held by a referral."""

    referral_id: UUID
    pathway_id: UUID
    period: str
    taken_at: datetime
    taken_by: str
    #: When Relais last reminded the receiving service (None: never).
    reminded_at: datetime | None = None


class Service(Aggregate):
    """One offer of the directory. Created and edited by its owner only; any agency may take
    a place (a referral) while it accepts and its quota allows."""

    class Event(Aggregate.Event):
        class_version = 1
        actor: Actor
        occurred_at: datetime
        command_id: UUID

    @staticmethod
    def check_details(details: ServiceDetails) -> None:
        details.check()

    @event("ServiceRegistered")
    def __init__(  # `id` chosen by the client (a stable id keeps exports round-tripping)
        self,
        id: UUID,  # noqa: A002
        owner: str,
        details: dict[str, Any],
        accepting_new_patients: bool,
        quota: dict[str, Any] | None,
        saturation: str | None,
        actor: Actor,
        occurred_at: datetime,
        command_id: UUID,
    ) -> None:
        self.owner = owner
        self.details = ServiceDetails.from_event(details)
        self.accepting_new_patients = bool(accepting_new_patients)
        self.quota = _quota(quota)
        self.saturation = Saturation(saturation) if saturation else None
        self.date_maj = occurred_at.date()
        self.stop_reason: str | None = None
        self.places: dict[UUID, Place] = {}
        self.command_ids: set[UUID] = {command_id}

    @classmethod
    def register(cls, service_id: UUID, owner: str, details: ServiceDetails, accepting_new_patients: bool,
                 quota: Quota | None, saturation: Saturation | None, actor: Actor, occurred_at: datetime,
                 command_id: UUID) -> Service:
        if not actor.is_system and actor.agency != owner:
            raise NotServiceOwner("Une structure ne déclare que ses propres services.", field="owner")
        cls.check_details(details)
        check_quota(quota)
        return cls(id=service_id, owner=owner, details=details.as_event(),
                   accepting_new_patients=accepting_new_patients, quota=_quota_event(quota),
                   saturation=str(saturation) if saturation else None, actor=actor, occurred_at=occurred_at,
                   command_id=command_id)

    # ------------------------------------------------------------------ queries
    def places_taken(self, when: date) -> int:
        if self.quota is None:
            return 0
        period = self.quota.period_of(when)
        return sum(1 for p in self.places.values() if p.period == period)

    def quota_left(self, when: date) -> int | None:
        """Places left in the period of `when`; None when the service has no quota."""
        if self.quota is None:
            return None
        return max(0, self.quota.places - self.places_taken(when))

    def is_stale(self, today: date) -> bool:
        """Not updated within its own update frequency (ranked lower, flagged to its owner)."""
        return today > self.date_maj + timedelta(days=self.details.update_frequency_days)

    def holds(self, referral_id: UUID) -> bool:
        return referral_id in self.places

    # ------------------------------------------------------------------ invariants
    def check_owner(self, actor: Actor) -> None:
        if not actor.is_system and actor.agency != self.owner:
            raise NotServiceOwner()

    def check_accepting(self) -> None:
        if not self.accepting_new_patients:
            raise NotAcceptingPatients()

    def check_quota_left(self, when: date) -> None:
        left = self.quota_left(when)
        if left is not None and left <= 0:
            raise QuotaExhausted()

    # ------------------------------------------------------------------ owner's commands
    def update_details(self, details: ServiceDetails, actor: Actor, occurred_at: datetime,
                       command_id: UUID) -> None:
        self.check_owner(actor)
        self.check_details(details)
        self._details_updated(details=details.as_event(), actor=actor, occurred_at=occurred_at, command_id=command_id)

    @event("ServiceDetailsUpdated")
    def _details_updated(self, details: dict[str, Any], actor: Actor, occurred_at: datetime, command_id: UUID) -> None:
        self.details = ServiceDetails.from_event(details)
        self._touch(occurred_at, command_id)

    def confirm_details(self, actor: Actor, occurred_at: datetime, command_id: UUID) -> None:
        """The owner says the sheet is still true (freshness: `date_maj` moves)."""
        self.check_owner(actor)
        self._details_confirmed(actor=actor, occurred_at=occurred_at, command_id=command_id)

    @event("ServiceDetailsConfirmed")
    def _details_confirmed(self, actor: Actor, occurred_at: datetime, command_id: UUID) -> None:
        self._touch(occurred_at, command_id)

    def stop_intake(self, reason: str, actor: Actor, occurred_at: datetime, command_id: UUID) -> None:
        self.check_owner(actor)
        if not self.accepting_new_patients:
            raise IntakeUnchanged("Le service ne prend déjà plus de nouvelles personnes.")
        if not reason.strip():
            raise errors.ReasonRequired(field="reason")
        self._intake_stopped(reason=reason, actor=actor, occurred_at=occurred_at, command_id=command_id)

    @event("IntakeStopped")
    def _intake_stopped(self, reason: str, actor: Actor, occurred_at: datetime, command_id: UUID) -> None:
        self.accepting_new_patients = False
        self.stop_reason = reason
        self._touch(occurred_at, command_id)

    def resume_intake(self, actor: Actor, occurred_at: datetime, command_id: UUID) -> None:
        self.check_owner(actor)
        if self.accepting_new_patients:
            raise IntakeUnchanged("Le service prend déjà de nouvelles personnes.")
        self._intake_resumed(actor=actor, occurred_at=occurred_at, command_id=command_id)

    @event("IntakeResumed")
    def _intake_resumed(self, actor: Actor, occurred_at: datetime, command_id: UUID) -> None:
        self.accepting_new_patients = True
        self.stop_reason = None
        self._touch(occurred_at, command_id)

    def set_referral_quota(self, quota: Quota | None, actor: Actor, occurred_at: datetime, command_id: UUID) -> None:
        self.check_owner(actor)
        check_quota(quota)
        self._quota_set(quota=_quota_event(quota), actor=actor, occurred_at=occurred_at, command_id=command_id)

    @event("ReferralQuotaSet")
    def _quota_set(self, quota: dict[str, Any] | None, actor: Actor, occurred_at: datetime, command_id: UUID) -> None:
        self.quota = _quota(quota)
        self._touch(occurred_at, command_id)

    def report_saturation(self, saturation: Saturation, actor: Actor, occurred_at: datetime,
                          command_id: UUID) -> None:
        self.check_owner(actor)
        self._saturation_reported(saturation=str(Saturation(saturation)), actor=actor, occurred_at=occurred_at,
                                  command_id=command_id)

    @event("SaturationReported")
    def _saturation_reported(self, saturation: str, actor: Actor, occurred_at: datetime, command_id: UUID) -> None:
        self.saturation = Saturation(saturation)
        self._touch(occurred_at, command_id)

    # ------------------------------------------------------------------ referrals' places
    def take_place(self, referral_id: UUID, pathway_id: UUID, actor: Actor, occurred_at: datetime,
                   command_id: UUID) -> None:
        """A referral made through the match takes one unit of the period's quota. Two
        coordinators racing for the last place both read one left; the store's optimistic
        concurrency lets one save, and the other, run again on fresh state, is refused."""
        if referral_id in self.places:
            raise PlaceAlreadyTaken()
        self.check_accepting()
        self.check_quota_left(occurred_at.date())
        period = self.quota.period_of(occurred_at.date()) if self.quota else occurred_at.date().isoformat()
        self._place_taken(referral_id=referral_id, pathway_id=pathway_id, period=period, actor=actor,
                          occurred_at=occurred_at, command_id=command_id)

    @event("PlaceTaken")
    def _place_taken(self, referral_id: UUID, pathway_id: UUID, period: str, actor: Actor, occurred_at: datetime,
                     command_id: UUID) -> None:
        self.places[referral_id] = Place(referral_id=referral_id, pathway_id=pathway_id, period=period,
                                         taken_at=occurred_at, taken_by=actor.agency)
        self.command_ids.add(command_id)  # a referral is not an update of the sheet: date_maj stays

    def return_place(self, referral_id: UUID, reason: str, actor: Actor, occurred_at: datetime,
                     command_id: UUID) -> None:
        """The referral was declined or expired: its unit of quota comes back."""
        if referral_id not in self.places:
            raise UnknownPlace()
        self._place_returned(referral_id=referral_id, reason=reason, actor=actor, occurred_at=occurred_at,
                             command_id=command_id)

    def remind_referral(self, referral_id: UUID, days: int, actor: Actor, occurred_at: datetime,
                        command_id: UUID) -> None:
        """Nobody answered the referral for `days` days: the receiving service is reminded (this
        event, on the service's stream: its owner sees it) and so is the referring agency
        (`referring_agency`, named in the event)."""
        place = self.places.get(referral_id)
        if place is None:
            raise UnknownPlace()
        self._referral_reminded(referral_id=referral_id, pathway_id=place.pathway_id,
                                referring_agency=place.taken_by, days=days, actor=actor,
                                occurred_at=occurred_at, command_id=command_id)

    @event("ReferralReminded")
    def _referral_reminded(self, referral_id: UUID, pathway_id: UUID, referring_agency: str, days: int,
                           actor: Actor, occurred_at: datetime, command_id: UUID) -> None:
        self.places[referral_id].reminded_at = occurred_at
        self.command_ids.add(command_id)  # a reminder is not an update of the sheet: date_maj stays

    @event("PlaceReturned")
    def _place_returned(self, referral_id: UUID, reason: str, actor: Actor, occurred_at: datetime,
                        command_id: UUID) -> None:
        del self.places[referral_id]
        self.command_ids.add(command_id)

    def _touch(self, occurred_at: datetime, command_id: UUID) -> None:
        if occurred_at.date() > self.date_maj:
            self.date_maj = occurred_at.date()
        self.command_ids.add(command_id)


def check_quota(quota: Quota | None) -> None:
    if quota is not None and not 0 <= quota.places <= 10_000:
        raise InvalidServiceDetails("Quota : un nombre de places entre 0 et 10 000.", field="quota.places")


def _quota_event(quota: Quota | None) -> dict[str, Any] | None:
    return None if quota is None else {"places": quota.places, "period": str(quota.period)}


def _quota(data: Mapping[str, Any] | None) -> Quota | None:
    return None if data is None else Quota(places=int(data["places"]), period=QuotaPeriod(data["period"]))
