"""GraphQL of the directory of services: its queries (search with filters, one service, the
match for a pathway) and its mutations (the owner's changes, the referral through a match).

Resolvers only translate: the owner rule, idempotency and the quota are the directory
handler's (services/directory), the same for the owner's inbound topic. Every call is audited
like any other (a match reads the pathway's commune, languages and administrative situation:
audited with those categories, and only those the caller may see are used).
"""

from __future__ import annotations

import asyncio
import enum
import json
from datetime import date, datetime, timezone
from typing import Annotated, Any, Union
from uuid import UUID

import strawberry
from strawberry.types import Info

from domain import directory as d
from domain.disclosure import Category
from domain.matching import Assessment, Criterion, MatchRequest
from domain.values import AdministrativeStatus as AdministrativeStatusValue
from gateway import permissions as p
from gateway.audit import EXECUTE
from gateway.context import Context
from gateway.hardening import PublicError
from gateway.mutations import CommandAccepted, CommandOutcome, CommandRefused, _refused, camel_path
from gateway.permissions import CASE_ROLES, Role
from gateway.types import AdministrativeStatus
from services.directory import DirectoryFilter
from services.pathways.handler import CommandRejected

ServiceKind = strawberry.enum(d.ServiceKind, description="Type de service de l'annuaire.")
Saturation = strawberry.enum(d.Saturation, description="Saturation déclarée (trois niveaux, comme Soliguide).")
QuotaPeriod = strawberry.enum(d.QuotaPeriod, description="Période d'un quota d'orientations.")
MatchCriterion = strawberry.enum(Criterion, name="MatchCriterion", description="Critère d'une mise en relation.")

#: Who may read the directory and match: the case roles; who may edit their agency's services:
#: the case roles and the agency's administrator.
EDITOR_ROLES = (*CASE_ROLES, Role.ADMIN)


# --------------------------------------------------------------------------- types
@strawberry.type(description="Quota d'orientations : au plus `places` par période.")
class ReferralQuota:
    places: int
    period: QuotaPeriod  # type: ignore[valid-type]


@strawberry.type(description="Un service de l'annuaire (noms de champs HSDS 3.0 et data·inclusion).")
class DirectoryService:
    id: UUID
    owner: str = strawberry.field(description="Code de la structure qui propose le service (seule à le modifier).")
    name: str
    kind: ServiceKind  # type: ignore[valid-type]
    organization: str
    description: str
    code_insee: str
    commune: str
    zone_eligibilite: list[str] = strawberry.field(description="Codes INSEE (communes, départements) où la "
                                                               "personne doit résider ; vide : aucune condition.")
    publics: list[str]
    statuts_administratifs: list[AdministrativeStatus]  # type: ignore[valid-type]
    conditions_acces: str | None
    modes_mobilisation: list[str]
    languages: list[str] = strawberry.field(description="Langues parlées (ISO 639-1, ou 639-3 sans code 639-1).")
    accepts_interpreting: bool = strawberry.field(description="Accepte l'interprétariat professionnel ou par "
                                                              "téléphone.")
    horaires_accueil: str | None = strawberry.field(description="Horaires au format OpenStreetMap opening_hours.")
    telephone: str | None
    courriel: str | None
    update_frequency_days: int
    accepting_new_patients: bool
    stop_reason: str | None
    quota: ReferralQuota | None
    quota_left: int | None = strawberry.field(description="Places restantes sur la période en cours ; null sans "
                                                          "quota.")
    saturation: Saturation | None  # type: ignore[valid-type]
    date_maj: date
    stale: bool = strawberry.field(description="Fiche non mise à jour dans sa fréquence : à vérifier.")


@strawberry.type(description="Un critère de la mise en relation, rempli ou non, et pourquoi.")
class MatchReason:
    criterion: MatchCriterion  # type: ignore[valid-type]
    met: bool
    blocking: bool
    text: str


@strawberry.type(description="Un service qui peut prendre la personne maintenant, et pourquoi.")
class ServiceMatch:
    service: DirectoryService
    score: int
    reasons: list[MatchReason]


def service_type(service: d.Service, today: date) -> DirectoryService:
    x = service.details
    return DirectoryService(
        id=service.id, owner=service.owner, name=x.name, kind=x.kind, organization=x.organization,
        description=x.description, code_insee=x.code_insee, commune=x.commune,
        zone_eligibilite=list(x.zone_eligibilite), publics=list(x.publics),
        statuts_administratifs=list(x.statuts_administratifs), conditions_acces=x.conditions_acces,
        modes_mobilisation=list(x.modes_mobilisation), languages=list(x.languages),
        accepts_interpreting=x.accepts_interpreting, horaires_accueil=x.horaires_accueil, telephone=x.telephone,
        courriel=x.courriel, update_frequency_days=x.update_frequency_days,
        accepting_new_patients=service.accepting_new_patients, stop_reason=service.stop_reason,
        quota=ReferralQuota(places=service.quota.places, period=service.quota.period) if service.quota else None,
        quota_left=service.quota_left(today), saturation=service.saturation, date_maj=service.date_maj,
        stale=service.is_stale(today))


def match_type(assessment: Assessment, today: date) -> ServiceMatch:
    return ServiceMatch(service=service_type(assessment.service, today), score=assessment.score,
                        reasons=[MatchReason(criterion=r.criterion, met=r.met, blocking=r.blocking, text=r.text)
                                 for r in assessment.reasons])


# --------------------------------------------------------------------------- inputs
@strawberry.input(description="Filtres de l'annuaire (tous facultatifs, combinés).")
class DirectoryFilterInput:
    kind: ServiceKind | None = None  # type: ignore[valid-type]
    commune: str | None = strawberry.field(default=None, description="Commune INSEE de la personne : les services "
                                                                     "dont la zone l'admet.")
    accepting: bool | None = None
    language: str | None = None
    owner: str | None = None
    stale: bool | None = strawberry.field(default=None, description="Seulement les fiches à mettre à jour.")


@strawberry.input(description="Fiche d'un service (remplace la précédente en entier).")
class ServiceDetailsInput:
    name: str
    kind: ServiceKind  # type: ignore[valid-type]
    organization: str
    code_insee: str
    commune: str
    description: str | None = None
    zone_eligibilite: list[str] | None = None
    publics: list[str] | None = None
    statuts_administratifs: list[AdministrativeStatus] | None = None  # type: ignore[valid-type]
    conditions_acces: str | None = None
    modes_mobilisation: list[str] | None = None
    languages: list[str] | None = None
    accepts_interpreting: bool | None = None
    horaires_accueil: str | None = None
    telephone: str | None = None
    courriel: str | None = None
    update_frequency_days: int | None = None


@strawberry.input
class ReferralQuotaInput:
    places: int
    period: QuotaPeriod  # type: ignore[valid-type]


@strawberry.input(description="Déclare un service de votre structure.")
class RegisterServiceInput:
    command_id: UUID
    service_id: UUID
    occurred_at: datetime
    details: ServiceDetailsInput
    accepting_new_patients: bool | None = None
    quota: ReferralQuotaInput | None = None
    saturation: Saturation | None = None  # type: ignore[valid-type]


@strawberry.input(description="Remplace la fiche d'un service de votre structure.")
class UpdateServiceDetailsInput:
    command_id: UUID
    service_id: UUID
    occurred_at: datetime
    details: ServiceDetailsInput


@strawberry.input(description="Un changement d'un service de votre structure sans autre donnée.")
class ServiceCommandInput:
    command_id: UUID
    service_id: UUID
    occurred_at: datetime


@strawberry.input(description="Le service ne prend plus de nouvelles personnes (raison obligatoire).")
class StopServiceIntakeInput:
    command_id: UUID
    service_id: UUID
    occurred_at: datetime
    reason: str


@strawberry.input(description="Fixe le quota d'orientations (sans quota : null).")
class SetServiceReferralQuotaInput:
    command_id: UUID
    service_id: UUID
    occurred_at: datetime
    quota: ReferralQuotaInput | None = None


@strawberry.input
class ReportServiceSaturationInput:
    command_id: UUID
    service_id: UUID
    occurred_at: datetime
    saturation: Saturation  # type: ignore[valid-type]


@strawberry.input(description="Oriente la personne vers un service proposé par la mise en relation : une "
                              "place du quota est prise, puis l'orientation est faite vers sa structure.")
class ReferThroughMatchInput:
    command_id: UUID
    pathway_id: UUID
    service_id: UUID
    referral_id: UUID
    occurred_at: datetime
    need_id: UUID | None = None


@strawberry.type(description="Changement de l'annuaire accepté (ou déjà reçu : duplicate).")
class ServiceAccepted:
    command_id: UUID
    service_id: UUID
    version: int
    duplicate: bool


DirectoryOutcome = Annotated[Union[ServiceAccepted, CommandRefused], strawberry.union("DirectoryOutcome")]  # noqa: UP007


def _plain(value: Any) -> Any:
    """A strawberry input as the command models take it: snake_case dicts, enum values, no nulls."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "__strawberry_definition__"):
        return {k: _plain(v) for k, v in vars(value).items() if v is not None}
    return value


def _actor(context: Context, *roles: Role) -> dict[str, str]:
    principal = context.require(*roles)
    return {"agency": principal.agency, "professional": principal.professional, "role": principal.role.value}


def _directory(context: Context) -> Any:
    directory = getattr(context.services, "directory", None)
    if directory is None:
        raise PublicError("Annuaire indisponible sur cette instance.", "UNAVAILABLE")
    return directory


async def send_directory_command(info: Info, name: str, data: Any) -> ServiceAccepted | CommandRefused:
    context: Context = info.context
    payload = {**_plain(data), "actor": _actor(context, *EDITOR_ROLES)}
    result = await asyncio.to_thread(_directory(context).command, name, payload)
    context.audit_read(f"mutation.{name[0].lower()}{name[1:]}", None, set(),
                       outcome="0" if result.accepted else "4", action=EXECUTE)
    if result.accepted:
        return ServiceAccepted(command_id=data.command_id, service_id=data.service_id, version=result.version,
                               duplicate=result.duplicate)
    rejection = result.rejection or CommandRejected(None, "refusée")
    return CommandRefused(command_id=data.command_id, pathway_id=None, field=camel_path(rejection.field),
                          reason=rejection.reason, code=rejection.code)


def _directory_mutation(name: str, input_type: type, description: str) -> Any:
    async def resolve(info: Info, input: input_type) -> DirectoryOutcome:  # type: ignore[valid-type]  # noqa: A002
        return await send_directory_command(info, name, input)

    resolve.__annotations__ = {"info": Info, "input": input_type, "return": DirectoryOutcome}
    return strawberry.mutation(resolver=resolve, description=description)


async def refer_through_match(info: Info, input: ReferThroughMatchInput) -> CommandOutcome:  # noqa: A002
    context: Context = info.context
    actor = _actor(context, *CASE_ROLES)
    directory = _directory(context)
    done = await asyncio.to_thread(
        directory.refer, context.services.pathways, command_id=input.command_id, pathway_id=input.pathway_id,
        service_id=input.service_id, referral_id=input.referral_id, need_id=input.need_id, actor=actor,
        occurred_at=input.occurred_at)
    context.audit_read("mutation.referThroughMatch", input.pathway_id,
                       {Category.SOCIAL} if done.accepted else set(), outcome="0" if done.accepted else "4",
                       action=EXECUTE)
    if done.accepted and done.pathway is not None:
        made = done.pathway
        return CommandAccepted(command_id=input.command_id, pathway_id=input.pathway_id, version=made.version,
                               new_events=0 if made.duplicate else made.new_events, duplicate=made.duplicate)
    return _refused(input.command_id, input.pathway_id, done.rejection or CommandRejected(None, "refusée"))


def directory_mutation_fields() -> dict[str, Any]:
    """The directory's mutations, added to the schema's Mutation (gateway/mutations.py)."""
    return {
        "register_service": _directory_mutation(
            "RegisterService", RegisterServiceInput, "Déclare un service de votre structure dans l'annuaire."),
        "update_service_details": _directory_mutation(
            "UpdateServiceDetails", UpdateServiceDetailsInput, "Remplace la fiche d'un service de votre structure."),
        "confirm_service_details": _directory_mutation(
            "ConfirmServiceDetails", ServiceCommandInput, "Confirme que la fiche est toujours exacte (fraîcheur)."),
        "stop_service_intake": _directory_mutation(
            "StopIntake", StopServiceIntakeInput, "Le service ne prend plus de nouvelles personnes."),
        "resume_service_intake": _directory_mutation(
            "ResumeIntake", ServiceCommandInput, "Le service prend de nouveau des personnes."),
        "set_service_referral_quota": _directory_mutation(
            "SetReferralQuota", SetServiceReferralQuotaInput, "Fixe le quota d'orientations par période."),
        "report_service_saturation": _directory_mutation(
            "ReportSaturation", ReportServiceSaturationInput, "Signale la saturation du service."),
        "refer_through_match": strawberry.mutation(
            resolver=refer_through_match,
            description="Oriente vers un service de la mise en relation (une place de quota prise, rendue si "
                        "l'orientation est refusée)."),
    }


# --------------------------------------------------------------------------- queries
def _request_facts(facts: dict[str, str | None], visible: frozenset[Category]) -> dict[str, Any]:
    """The pathway's commune, languages and administrative situation, those the caller may see."""
    out: dict[str, Any] = {}
    if Category.MEDICAL in visible and facts.get("gp_commune"):
        out["commune"] = facts["gp_commune"]
        out["languages"] = tuple(json.loads(facts.get("gp_languages") or "[]"))
    if Category.ADMINISTRATIVE in visible and facts.get("administrative_status"):
        out["administrative_status"] = AdministrativeStatusValue(facts["administrative_status"])
    return out


@strawberry.type
class DirectoryQuery:
    @strawberry.field(description="Services de l'annuaire, filtrés, par nom.")
    async def directory_services(self, info: Info, filter: DirectoryFilterInput | None = None,  # noqa: A002
                                 first: int = 50) -> list[DirectoryService]:
        context: Context = info.context
        context.require(*EDITOR_ROLES)
        f = filter or DirectoryFilterInput()
        today = datetime.now(timezone.utc).date()
        found = await asyncio.to_thread(_directory(context).search, DirectoryFilter(
            kind=d.ServiceKind(f.kind.value) if f.kind else None, commune=f.commune, accepting=f.accepting,
            language=f.language, owner=f.owner, stale_on=today if f.stale else None), min(max(first, 1), 500))
        context.audit_read("directoryServices", None, set())
        return [service_type(s, today) for s in found]

    @strawberry.field(description="Un service de l'annuaire (null s'il n'existe pas).")
    async def directory_service(self, info: Info, id: UUID) -> DirectoryService | None:  # noqa: A002
        context: Context = info.context
        context.require(*EDITOR_ROLES)
        service = await asyncio.to_thread(_directory(context).get, id)
        context.audit_read("directoryService", None, set())
        return service_type(service, datetime.now(timezone.utc).date()) if service is not None else None

    @strawberry.field(description="Services qui peuvent prendre la personne du parcours maintenant, les mieux "
                                  "placés d'abord, chacun avec ses raisons. Commune, langues et situation viennent "
                                  "du parcours (ce que votre rôle y voit) sauf si donnés ici.")
    async def match_services(self, info: Info, pathway_id: UUID, kind: ServiceKind | None = None,  # type: ignore[valid-type]
                             commune: str | None = None, languages: list[str] | None = None,
                             first: int = 10) -> list[ServiceMatch]:
        context: Context = info.context
        principal = context.require(*CASE_ROLES)
        record = await context.load_pathway(pathway_id)
        disclosure = p.decide(principal, record.access) if record is not None else None
        if record is None or disclosure is None or not disclosure.can_see_pathway:
            context.audit_read("matchServices", pathway_id, set(), outcome="4")
            raise PublicError("Parcours inconnu.", "UNKNOWN_PATHWAY")
        facts = _request_facts(record.facts, disclosure.visible)
        if commune is not None:
            facts["commune"] = commune
        if languages is not None:
            facts["languages"] = tuple(languages)
        interpreter = record.summary.get("interpreter_language")
        if "languages" not in facts and interpreter and Category.SOCIAL in disclosure.visible:
            facts["languages"] = (str(interpreter),)
        now = datetime.now(timezone.utc)
        request = MatchRequest(at=now, kind=d.ServiceKind(kind.value) if kind else None, **facts)
        found = await asyncio.to_thread(_directory(context).match, request, limit=min(max(first, 1), 100))
        used = {Category.MEDICAL} if "commune" in facts else set()
        if "administrative_status" in facts:
            used.add(Category.ADMINISTRATIVE)
        context.audit_read("matchServices", pathway_id, used)
        return [match_type(a, now.date()) for a in found]
