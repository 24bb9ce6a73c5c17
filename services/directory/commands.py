"""The commands of the directory service: one pydantic model per command (same envelope as the
pathways': `command_id`, the target `service_id`, `actor`, `occurred_at`)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from domain.directory import Quota, QuotaPeriod, Saturation, ServiceDetails, ServiceKind
from domain.values import AdministrativeStatus
from services.pathways.commands import ActorModel, Ref, Text

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=9)]
Optional = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class DetailsModel(BaseModel):
    """The sheet of a service (domain.directory.ServiceDetails)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=150)]
    kind: ServiceKind
    organization: Text
    code_insee: Code
    commune: Text
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)] = ""
    zone_eligibilite: list[Code] = Field(default_factory=list, max_length=200)
    publics: list[Ref] = Field(default_factory=lambda: ["tous-publics"], max_length=20)
    statuts_administratifs: list[AdministrativeStatus] = Field(default_factory=list)
    conditions_acces: Optional | None = None
    modes_mobilisation: list[Ref] = Field(default_factory=list, max_length=10)
    languages: list[Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=2,
                                                     max_length=3)]] = Field(default_factory=lambda: ["fr"],
                                                                             max_length=30)
    accepts_interpreting: bool = False
    horaires_accueil: Optional | None = None
    telephone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=30)] | None = None
    courriel: Annotated[str, StringConstraints(strip_whitespace=True, max_length=254)] | None = None
    update_frequency_days: int = 90

    def to_domain(self) -> ServiceDetails:
        values: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            values[name] = tuple(value) if isinstance(value, list) else value
        return ServiceDetails(**values)


class QuotaModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    places: int
    period: QuotaPeriod

    def to_domain(self) -> Quota:
        return Quota(places=self.places, period=self.period)


class DirectoryCommand(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: The Service method the command calls.
    verb: ClassVar[str]
    #: Only the owning agency may send it (False: any agency, e.g. a referral taking a place).
    owner_only: ClassVar[bool] = True

    command_id: UUID
    service_id: UUID
    actor: ActorModel
    occurred_at: AwareDatetime

    def arguments(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            if name in DIRECTORY_ENVELOPE:
                continue
            value = getattr(self, name)
            out[name] = value.to_domain() if hasattr(value, "to_domain") else value
        return out


DIRECTORY_ENVELOPE = frozenset(DirectoryCommand.model_fields)


class RegisterService(DirectoryCommand):
    """Déclare un service de votre structure dans l'annuaire."""

    verb: ClassVar[str] = "register"
    details: DetailsModel
    #: The owning agency: the sender's own, unless Relais registers it (an import).
    owner: Ref | None = None
    accepting_new_patients: bool = True
    quota: QuotaModel | None = None
    saturation: Saturation | None = None


class UpdateServiceDetails(DirectoryCommand):
    """Remplace la fiche d'un service."""

    verb: ClassVar[str] = "update_details"
    details: DetailsModel


class ConfirmServiceDetails(DirectoryCommand):
    """Confirme que la fiche est toujours exacte (fraîcheur)."""

    verb: ClassVar[str] = "confirm_details"


class StopIntake(DirectoryCommand):
    """Le service ne prend plus de nouvelles personnes."""

    verb: ClassVar[str] = "stop_intake"
    reason: Text


class ResumeIntake(DirectoryCommand):
    """Le service prend de nouveau des personnes."""

    verb: ClassVar[str] = "resume_intake"


class SetReferralQuota(DirectoryCommand):
    """Fixe (ou retire, sans quota) le nombre d'orientations acceptées par période."""

    verb: ClassVar[str] = "set_referral_quota"
    quota: QuotaModel | None = None


class ReportSaturation(DirectoryCommand):
    """Signale le niveau de saturation du service."""

    verb: ClassVar[str] = "report_saturation"
    saturation: Saturation


class TakeReferralPlace(DirectoryCommand):
    """Une orientation faite depuis la recherche prend une place du quota."""

    verb: ClassVar[str] = "take_place"
    owner_only: ClassVar[bool] = False
    referral_id: UUID
    pathway_id: UUID


class ReturnReferralPlace(DirectoryCommand):
    """L'orientation a été déclinée ou a expiré : sa place revient au quota."""

    verb: ClassVar[str] = "return_place"
    owner_only: ClassVar[bool] = False
    referral_id: UUID
    reason: Text


class RemindReferral(DirectoryCommand):
    """Relance : l'orientation attend une réponse depuis `days` jours."""

    verb: ClassVar[str] = "remind_referral"
    owner_only: ClassVar[bool] = False
    referral_id: UUID
    days: int = Field(ge=1)


DIRECTORY_COMMANDS: dict[str, type[DirectoryCommand]] = {
    cls.__name__: cls for cls in (RegisterService, UpdateServiceDetails, ConfirmServiceDetails, StopIntake,
                                  ResumeIntake, SetReferralQuota, ReportSaturation, TakeReferralPlace,
                                  ReturnReferralPlace, RemindReferral)
}
#: What the owning agency may send (GraphQL mutations and its inbound topic).
OWNER_COMMANDS = frozenset(name for name, cls in DIRECTORY_COMMANDS.items() if cls.owner_only)
