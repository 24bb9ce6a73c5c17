"""Mutations: one per command of the pathways service, generated from the command models.

Each command model (services/pathways/commands.py) gives a typed input `<Command>Input`:
its fields (camelCase), `commandId` (client-chosen: sending it twice changes nothing),
`pathwayId`, and `occurredAt` (when the fact happened). The actor is never an input: it is
the authenticated caller. Each mutation answers `CommandOutcome`: `CommandAccepted` (the
pathway's version after it) or `CommandRefused` (field at fault in camelCase, reason in
French, code) — never an exception text.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import re
import types as pytypes
import typing
from datetime import date, datetime
from typing import Annotated, Any, Union
from uuid import UUID

import strawberry
from pydantic import BaseModel
from strawberry.types import Info

from domain import disclosure
from domain.disclosure import ERASURE_BASIS_LABELS, value_label
from domain.values import ErasureBasis, InformationCategory
from domain.writepolicy import UNKNOWN_PATHWAY, UNKNOWN_PATHWAY_CODE
from gateway import types as _types  # noqa: F401 - registers the strawberry enums
from gateway.audit import EXECUTE
from gateway.context import Context
from gateway.hardening import PublicError
from gateway.permissions import CASE_ROLES
from gateway.readside import ACCESS_PROJECTIONS, NotAppliedYet
from gateway.territory_settings import MUTATION_FIELDS as TERRITORY_MUTATIONS
from services.pathways.commands import COMMANDS, ENVELOPE, Command
from services.pathways.handler import CommandRejected, parse_command

log = logging.getLogger("relais.gateway.mutations")


def command_category(command: Command) -> InformationCategory:
    """The category `command` writes: the disclosure catalogue's (a RecordNeed writes its need's)."""
    return disclosure.command_category(type(command).__name__, command)


# --------------------------------------------------------------------------- outcomes
@strawberry.type(description="Commande acceptée (ou déjà reçue : duplicate ; newEvents est alors 0).")
class CommandAccepted:
    command_id: UUID
    pathway_id: UUID
    version: int | None
    new_events: int
    duplicate: bool


@strawberry.type(description="Commande refusée : le champ en cause (camelCase) et la raison, en français.")
class CommandRefused:
    command_id: UUID
    pathway_id: UUID | None
    field: str | None
    reason: str
    code: str


CommandOutcome = Annotated[Union[CommandAccepted, CommandRefused], strawberry.union("CommandOutcome")]  # noqa: UP007


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def camel_path(path: str | None) -> str | None:
    if path is None:
        return None
    return ".".join(camel(part) for part in path.split("."))


def _refused(command_id: Any, pathway_id: Any, rejection: CommandRejected) -> CommandRefused:
    field, reason, code = rejection.field, rejection.reason, rejection.code
    if code in ("UNKNOWN_PATHWAY", "AGENCY_NOT_PARTICIPATING") and field in ("pathway_id", "actor.agency"):
        # Same answer whether the pathway does not exist or is not shared: no existence leak.
        field, reason, code = "pathwayId", UNKNOWN_PATHWAY, UNKNOWN_PATHWAY_CODE
    return CommandRefused(command_id=command_id, pathway_id=pathway_id, field=camel_path(field),
                          reason=reason, code=code)


# --------------------------------------------------------------------------- inputs from models
def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(GraphQL-ready Python type, optional?) of a pydantic field annotation."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (Union, pytypes.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        inner, _ = _unwrap(args[0])
        return inner, True
    if origin is list:
        inner, _ = _unwrap(typing.get_args(annotation)[0])
        return list[inner], False
    if isinstance(annotation, type) and issubclass(annotation, datetime) or getattr(annotation, "__name__", "") == "AwareDatetime":
        return datetime, False
    if annotation in (str, bool, int, UUID, date) or (isinstance(annotation, type) and issubclass(annotation, enum.Enum)):
        return annotation, False
    raise TypeError(f"no GraphQL type for {annotation!r}")


def _field_name(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _camel_name(name: str) -> str:
    return name[:1].lower() + name[1:]


def build_input(name: str, model: type[BaseModel]) -> type:
    annotations: dict[str, Any] = {"command_id": UUID, "pathway_id": UUID}
    namespace: dict[str, Any] = {}
    for field_name, info in model.model_fields.items():
        if field_name in ENVELOPE:
            continue
        python_type, optional = _unwrap(info.annotation)
        if optional or not info.is_required():
            # Omitted (null) -> not sent -> the command model's own default applies.
            annotations[field_name] = python_type | None
            namespace[field_name] = None
        else:
            annotations[field_name] = python_type
    # Required: part of what makes a retry identical (same command id, same content).
    annotations["occurred_at"] = datetime
    namespace["occurred_at"] = strawberry.field(description="Quand le fait a eu lieu sur le terrain "
                                                            "(une saisie tardive est normale).")
    namespace["__annotations__"] = annotations
    cls = type(f"{name}Input", (), namespace)
    from domain import disclosure

    return strawberry.input(cls, description=f"Entrée de la mutation {_camel_name(name)} : "
                                             f"{disclosure.command_entry(name).label.lower()}.")


INPUTS: dict[str, type] = {name: build_input(name, model) for name, model in sorted(COMMANDS.items())}


def graphql_input(command: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A command payload as the pathways service takes it (snake_case, enum values, `actor`) as
    the variables of its mutation: camelCase keys, enum names, no actor (the caller's token is
    the actor). What a client holding the service's payloads (the synthetic territory, the soak
    harness) sends."""
    model = COMMANDS[command]
    out: dict[str, Any] = {}
    for key, value in payload.items():
        if key == "actor":
            continue
        annotation = model.model_fields[key].annotation if key in model.model_fields else None
        out[camel(key)] = _enum_name(annotation, value)
    return out


def _enum_name(annotation: Any, value: Any) -> Any:
    candidates = [annotation, *typing.get_args(annotation)]
    for c in list(candidates):
        candidates += list(typing.get_args(c))
    for c in candidates:
        if isinstance(c, type) and issubclass(c, enum.Enum):
            if isinstance(value, list):
                return [c(v).name for v in value]
            return c(value).name if value is not None else None
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, UUID | date | datetime):
        return value.isoformat() if not isinstance(value, UUID) else str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


#: Commands that change who sees what: answered only once the access read models (participants,
#: consents) applied them, so every read that starts after the answer honours them (a
#: withdrawal, an objection, a removal; an emergency override, for the read that follows it).
CHANGING_ACCESS = frozenset({"WithdrawConsent", "RecordObjection", "RemoveAgency", "BreakGlass"})


async def send_command(info: Info, name: str, data: Any) -> CommandAccepted | CommandRefused:
    context: Context = info.context
    principal = context.require(*CASE_ROLES)
    payload = {k: _plain(v) for k, v in vars(data).items() if v is not None}
    payload["actor"] = {"agency": principal.agency, "professional": principal.professional, "role": principal.role.value}
    try:
        command = parse_command(name, payload)
    except CommandRejected as rejected:
        context.audit_read(f"mutation.{camel(_field_name(name))}", data.pathway_id, set(), outcome="4", action=EXECUTE)
        return _refused(data.command_id, data.pathway_id, rejected)
    # Who may send it (membership first, then the bounds, the agency, the role): the write
    # policy, applied by the pathways handler for every way a command comes in.
    result = await asyncio.to_thread(context.services.pathways.handle, command)
    category = command_category(command)
    context.audit_read(f"mutation.{camel(_field_name(name))}", command.pathway_id,
                       {category} if result.accepted else set(), outcome="0" if result.accepted else "4", action=EXECUTE)
    if result.accepted and name in CHANGING_ACCESS and result.version is not None:
        try:
            await asyncio.to_thread(context.services.read.wait_for, command.pathway_id, result.version,
                                    ACCESS_PROJECTIONS)
        except NotAppliedYet:
            raise PublicError(f"Commande enregistrée (version {result.version}) mais pas encore en vigueur pour les "
                              "lectures : les vues de lecture sont en retard. Ne pas considérer l'accès comme "
                              "retiré avant d'avoir relu le parcours.", "NOT_YET_IN_EFFECT") from None
    if result.accepted:
        await _note_consent_version(context, command.pathway_id)
        # A replayed command wrote nothing now: 0 new events (the first answer said how many).
        return CommandAccepted(command_id=command.command_id, pathway_id=command.pathway_id, version=result.version,
                               new_events=0 if result.duplicate else result.new_events, duplicate=result.duplicate)
    return _refused(command.command_id, command.pathway_id, result.rejection or CommandRejected(None, "refusée"))


async def _note_consent_version(context: Context, pathway_id: UUID) -> None:
    """The mutation's audit record names the consent version in force (as the read models hold
    it: after a change to access, the version that change made)."""
    read = context.services.read
    try:
        access = (await read.call(read.access, [pathway_id])).get(pathway_id)
    except PublicError:
        # The write is done: read models not built yet leave the record without a version,
        # they never fail the command (an opening has no consent version anyway).
        return
    if access is not None:
        context.note_consent(pathway_id, access.consent_version)


def _resolver(name: str, input_type: type):  # noqa: ANN202
    async def resolve(info: Info, input: input_type) -> CommandOutcome:  # type: ignore[valid-type]  # noqa: A002
        return await send_command(info, name, input)

    resolve.__annotations__ = {"info": Info, "input": input_type, "return": CommandOutcome}
    return resolve


# --------------------------------------------------------------------------- erasure
@strawberry.type(description="Effacement exécuté : la clé de la personne est détruite, ses parcours purgés des vues.")
class PersonErased:
    pathways: int = strawberry.field(description="Nombre de parcours de la personne effacés.")
    legal_basis: ErasureBasis
    legal_basis_label: str


async def erase_person(info: Info, person_ref: str, legal_basis: ErasureBasis) -> PersonErased:
    from datetime import datetime, timezone

    from gateway.permissions import Role
    from domain.errors import UnknownPerson

    context: Context = info.context
    principal = context.require(Role.DPO)  # the data protection officer's act, never a care team's
    erasure = context.services.erasure
    if erasure is None:
        raise PublicError("Effacement indisponible sur cette instance.", "UNAVAILABLE")
    basis = ErasureBasis(legal_basis)
    try:
        done = await asyncio.to_thread(erasure.erase_person, person_ref, basis, now=datetime.now(timezone.utc),
                                       for_agency=principal.agency)
    except UnknownPerson as unknown:
        context.audit_read("mutation.erasePerson", None, set(), outcome="4", action=EXECUTE)
        raise PublicError(unknown.reason, unknown.code) from None
    # One record per pathway erased (the reference itself is never written to the audit).
    for pathway_id in done.pathways:
        context.audit_read("mutation.erasePerson", pathway_id, set(), action=EXECUTE)
    return PersonErased(pathways=len(done.pathways), legal_basis=basis,
                        legal_basis_label=value_label(ERASURE_BASIS_LABELS, basis))


# --------------------------------------------------------------------------- webhooks
@strawberry.type(description="Webhook d'alertes enregistré pour votre structure. Le secret n'est montré qu'une fois.")
class WebhookRegistration:
    agency: str
    url: str
    secret: str | None


async def register_webhook(info: Info, url: str) -> WebhookRegistration:
    from gateway.permissions import Role
    from services.alerting.webhooks import WebhookUrlRefused, check_webhook_url

    context: Context = info.context
    principal = context.require(Role.ADMIN)  # one agency's whole alert feed: its administrator's
    registry = context.services.webhooks
    if registry is None:
        raise PublicError("Webhooks indisponibles sur cette instance.", "UNAVAILABLE")
    development = getattr(context.services.settings, "environment", "production") == "development"
    try:
        await asyncio.to_thread(check_webhook_url, url, development=development)  # DNS: off the loop
    except WebhookUrlRefused as refused:
        context.audit_read("mutation.registerAlertWebhook", None, set(), outcome="4", action=EXECUTE)
        raise PublicError(str(refused), "BAD_URL") from None
    secret = await asyncio.to_thread(registry.register, principal.agency, url)
    context.audit_read("mutation.registerAlertWebhook", None, set(), action=EXECUTE)
    return WebhookRegistration(agency=principal.agency, url=url, secret=secret)


_CATEGORY_FR = {"identity": "d'identité", "social": "sociale", "administrative": "administrative",
                "medical": "médicale"}


#: The three "orientation" commands, and how they differ (the partner's first question).
_NOTES = {
    "MakeReferral": "Une orientation vers un service d'une autre structure (boucle fermée, statuts FHIR Task : "
                    "updateReferralStatus, recordReferralOutcome) ; à ne pas confondre avec orientToGp (vers un "
                    "médecin de ville, parcours PASS) ni decideOrientation (la décision de sortie d'un SAS).",
    "OrientToGp": "Parcours PASS → médecin de ville seulement : l'orientation vers un médecin traitant, suivie "
                  "par recordFollowUpCall et recordGpVisitOutcome ; autre chose qu'une orientation makeReferral.",
    "DecideOrientation": "Parcours SAS seulement : la décision d'orientation à la sortie du SAS (où va la "
                         "personne), pas une orientation vers un service (makeReferral).",
}


def command_description(name: str) -> str:
    """What the command records and who may send it, from the disclosure catalogue and the
    write policy (the same tables that decide): the mutation's description."""
    from domain import disclosure, writepolicy

    entry = disclosure.command_entry(name)
    rule = writepolicy.WRITE_POLICY[name]
    category = "de la catégorie du besoin" if entry.by_need else _CATEGORY_FR[str(entry.category)]
    text = f"{entry.label}." + (f" {_NOTES[name]}" if name in _NOTES else "") + f" Information {category}."
    text += f" Qui l'envoie : {writepolicy.WRITER_LABELS[rule.writer]}"
    text += f" ({rule.why})." if rule.why else "."
    if rule.writer is not writepolicy.Writer.ENGINE:
        roles = sorted(r.value for r in disclosure.CASE_ROLES
                       if entry.by_need or disclosure.role_may_write(r, entry.category))
        text += f" Rôles (code du jeton) : {', '.join(roles)}" + (
            ", selon la catégorie du besoin." if entry.by_need else ".")
    return text


#: Commands with no mutation of their own: erasure is asked by person (erasePerson), not by pathway.
NOT_MUTATIONS = frozenset({"ErasePersonalData"})


def mutation_fields() -> dict[str, Any]:
    """One mutation per pathway command, and the alert webhook's (the schema adds the directory's)."""
    fields: dict[str, Any] = {}
    for name, input_type in INPUTS.items():
        if name in NOT_MUTATIONS:
            continue
        fields[_field_name(name)] = strawberry.mutation(
            resolver=_resolver(name, input_type), description=command_description(name))
    fields["erase_person"] = strawberry.mutation(
        resolver=erase_person,
        description="Efface les données personnelles d'une personne (rôle dpo) : sa clé est détruite, ses parcours "
                    "purgés des vues ; les indicateurs restent. Audité, avec son fondement.")
    fields["register_alert_webhook"] = strawberry.mutation(
        resolver=register_webhook,
        description="Enregistre (ou remplace) le webhook d'alertes de votre structure (rôle admin_structure ; "
                    "https, adresse publique).")
    fields.update(TERRITORY_MUTATIONS)
    return fields

