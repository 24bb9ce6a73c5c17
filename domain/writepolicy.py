"""The write policy: THE one table saying who may send each command, next to the read policy.

The disclosure catalogue (:mod:`domain.disclosure`) says what a command writes (its category)
and which professional roles need that category. This module adds, per command, which
agencies of the pathway may send it (:data:`WRITE_POLICY`), and :func:`check_write` applies
both, in this order, to every command whatever way it came in (GraphQL, the inbound Kafka
topics, the risk engine): the pathways handler (`services.pathways.handler`) calls it once the
pathway is loaded, so the gateway and ingest cannot differ.

1. **Membership first**: an agency that does not take part in the pathway is told exactly
   what it would be told if the pathway did not exist (:data:`UNKNOWN_PATHWAY`): no kind, no
   state, no "forbidden".
2. **Input bounds**: `occurredAt` neither in the future beyond the clock skew nor before the
   pathway opened.
3. **Who**: the engine-only commands (an alert is raised, escalated and re-evaluated by the
   risk engine, never by a person), the lead's commands (care team, closure), an alert's
   owner's commands.
4. **Professional role**: the role needs the category the command writes
   (:func:`domain.disclosure.role_may_write`).

Every refusal is a :class:`WriteRefused` naming the field at fault and the reason, in French.
The platform's own actor (the risk engine, `SYSTEM_AGENCY`) passes: no token and no inbound
topic can carry it (gateway.auth, services.ingest.messages).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol
from uuid import UUID

from domain import disclosure
from domain.errors import DomainError
from domain.values import Actor, ParticipantRole

#: What a non-member is told about a pathway: the same as about a pathway that does not exist.
UNKNOWN_PATHWAY = "Parcours inconnu, ou votre structure n'y participe pas."
UNKNOWN_PATHWAY_CODE = "UNKNOWN_PATHWAY"

#: Default tolerated clock skew between a client and Relais for `occurredAt`.
DEFAULT_CLOCK_SKEW = timedelta(minutes=5)


class Writer(StrEnum):
    """Which agency of the pathway may send a command."""

    ENGINE = "engine"  # the risk engine only
    MEMBER = "member"  # any participating agency
    COORDINATION = "coordination"  # the lead agency or a coordination participant
    LEAD = "lead"  # the lead agency only
    ALERT_OWNER = "alert_owner"  # the agency owning the alert, or the lead
    OPENER = "opener"  # anyone, the caller's agency becoming the lead
    CARE_TEAM = "care_team"  # an agency of the person's care team (disclosure.CARE_TEAM_ROLES)
    EMERGENCY = "emergency"  # any participating agency, by a role granted the emergency override


#: Who may send, in French (the schema's mutation descriptions, the partner guide).
WRITER_LABELS: Mapping[Writer, str] = {
    Writer.ENGINE: "le moteur de règles seulement (jamais un partenaire)",
    Writer.MEMBER: "toute structure participant au parcours",
    Writer.COORDINATION: "la structure référente ou une structure de coordination du parcours",
    Writer.LEAD: "la structure référente du parcours seulement",
    Writer.ALERT_OWNER: "la structure qui porte l'alerte, ou la référente",
    Writer.OPENER: "toute structure (elle devient la référente du parcours)",
    Writer.CARE_TEAM: "une structure de l'équipe de soins de la personne, jamais pour elle-même",
    Writer.EMERGENCY: "toute structure du parcours, par un rôle qui a reçu le droit au bris de glace",
}


@dataclass(frozen=True)
class WriteRule:
    writer: Writer
    #: Why, in one line (shown in docs/security.md and in the refusals).
    why: str = ""


#: Participant roles that count as "coordination" for the care team.
COORDINATING = frozenset({ParticipantRole.LEAD, ParticipantRole.COORDINATION})

_OPEN = WriteRule(Writer.OPENER, "la structure qui ouvre le parcours en est la référente")
_ENGINE = WriteRule(Writer.ENGINE, "une alerte est déclenchée et réévaluée par le moteur de règles, jamais à la main")
_CARE_TEAM = WriteRule(Writer.COORDINATION, "l'équipe de soins est composée par la structure référente ou la coordination")
_OWNER = WriteRule(Writer.ALERT_OWNER, "une alerte est close par la structure qui en a la charge, ou la référente")
_LEAD = WriteRule(Writer.LEAD, "la clôture du parcours revient à la structure référente")
_ERASURE = WriteRule(Writer.ENGINE, "l'effacement est demandé par le DPO (erasePerson) ou par la durée de conservation, "
                                    "et exécuté par Relais")

_CONSENT = WriteRule(Writer.CARE_TEAM, "le choix de la personne est recueilli et enregistré par l'équipe de soins")
_BREAK_GLASS = WriteRule(Writer.EMERGENCY, "le bris de glace est réservé aux rôles qui en ont reçu le droit")

#: Roles granted the emergency override (bris de glace) unless the settings say otherwise.
DEFAULT_EMERGENCY_ROLES = frozenset({disclosure.Role.MEDECIN, disclosure.Role.INFIRMIER, disclosure.Role.SAGE_FEMME})

_SPECIAL: Mapping[str, WriteRule] = {
    "OpenDetentionPathway": _OPEN, "OpenMaternityPathway": _OPEN, "OpenSasPathway": _OPEN,
    "OpenPassGpPathway": _OPEN,
    "AddAgency": _CARE_TEAM, "RemoveAgency": _CARE_TEAM, "HandOverLead": _CARE_TEAM,
    "RaiseAlert": _ENGINE, "EscalateAlert": _ENGINE, "UpdateAlert": _ENGINE,
    "ResolveAlert": _OWNER, "DismissAlert": _OWNER,
    "ClosePathway": _LEAD, "ReopenPathway": _LEAD,
    "ErasePersonalData": _ERASURE,
    "GrantConsent": _CONSENT, "WithdrawConsent": _CONSENT, "RecordObjection": _CONSENT,
    "BreakGlass": _BREAK_GLASS,
}

#: Every command of the catalogue -> who may send it. The professional roles come from the
#: category the command writes (disclosure.COMMANDS, disclosure.ROLE_NEEDS).
WRITE_POLICY: Mapping[str, WriteRule] = {
    name: _SPECIAL.get(name, WriteRule(Writer.MEMBER)) for name in disclosure.COMMANDS
}


class WriteRefused(DomainError):
    """A command the policy refuses: `field` at fault, `reason` in French, `code`."""

    def __init__(self, reason: str, *, field: str | None, code: str = "FORBIDDEN") -> None:
        super().__init__(reason, field=field)
        self._code = code

    @property
    def code(self) -> str:
        return self._code


class PathwayFacts(Protocol):
    """What the policy reads of a pathway (a `domain.pathway.Pathway` has it)."""

    participants: Mapping[str, ParticipantRole]
    lead_agency: str
    opened_at: datetime
    alerts: Mapping[UUID, Any]


def _field(fields: Any, name: str) -> Any:
    return fields.get(name) if isinstance(fields, Mapping) else getattr(fields, name, None)


def participant_may_send(name: str, participant: ParticipantRole | None, *, is_lead: bool,
                         owns_alert: bool = False) -> bool:
    """The table's "who" for one agency of a pathway (its participant role), engine aside."""
    writer = WRITE_POLICY[name].writer
    if participant is None:
        return writer is Writer.OPENER
    if writer is Writer.ENGINE:
        return False
    if writer is Writer.COORDINATION:
        return ParticipantRole(participant) in COORDINATING
    if writer is Writer.CARE_TEAM:
        return ParticipantRole(participant) in disclosure.CARE_TEAM_ROLES
    if writer is Writer.LEAD:
        return is_lead
    if writer is Writer.ALERT_OWNER:
        return owns_alert or is_lead
    return True


def role_may_send(name: str, role: str, category: disclosure.Category,
                  emergency_roles: frozenset[str] = DEFAULT_EMERGENCY_ROLES) -> bool:
    """The table's professional role: it needs the category the command writes, and the
    emergency override is the granted roles' only."""
    if WRITE_POLICY[name].writer is Writer.EMERGENCY and role not in emergency_roles:
        return False
    return disclosure.role_may_write(role, category)


def check_write(name: str, fields: Any, actor: Actor, pathway: PathwayFacts | None, *,
                now: datetime, clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
                territories: frozenset[str] | None = None,
                emergency_roles: frozenset[str] = DEFAULT_EMERGENCY_ROLES) -> None:
    """Raises :class:`WriteRefused` unless `actor` may send command `name` (with `fields`: a
    mapping or the command model) to `pathway` (None: the command opens it). See the module
    docstring for the order of the checks; `emergency_roles`: the roles granted the bris de glace."""
    rule = WRITE_POLICY.get(name)
    if rule is None:
        disclosure.command_entry(name)  # raises UnknownCommand
        raise AssertionError(name)
    opening = rule.writer is Writer.OPENER
    # 1. membership, before anything that would tell something about the pathway
    if not actor.is_system and not opening and (pathway is None or actor.agency not in pathway.participants):
        raise WriteRefused(UNKNOWN_PATHWAY, field="pathway_id", code=UNKNOWN_PATHWAY_CODE)
    # 2. input bounds
    occurred_at = _field(fields, "occurred_at")
    if occurred_at is not None:
        if occurred_at > now + clock_skew:
            raise WriteRefused(f"Date dans le futur : un fait est daté au plus tard de maintenant "
                               f"(tolérance {int(clock_skew.total_seconds())} s).",
                               field="occurred_at", code="OCCURRED_IN_FUTURE")
        if pathway is not None and not opening and occurred_at < pathway.opened_at:
            raise WriteRefused("Date antérieure à l'ouverture du parcours.", field="occurred_at",
                               code="OCCURRED_BEFORE_OPENING")
    if opening and territories is not None and _field(fields, "territory") not in territories:
        raise WriteRefused("Territoire inconnu : aucun code de département des structures enregistrées.",
                           field="territory", code="UNKNOWN_TERRITORY")
    if actor.is_system:
        return
    # 3. which agency of the pathway
    if opening:
        if _field(fields, "lead_agency") != actor.agency:
            raise WriteRefused("La structure référente d'un parcours est celle qui l'ouvre (la vôtre) : ouvrez-le, "
                               "ajoutez l'autre structure puis passez-lui la main (handOverLead).",
                               field="lead_agency")
    else:
        assert pathway is not None
        participant = pathway.participants.get(actor.agency)
        is_lead = actor.agency == pathway.lead_agency
        owns = False
        if rule.writer is Writer.ALERT_OWNER:
            alert = pathway.alerts.get(_as_uuid(_field(fields, "alert_id")))
            owns = alert is None or getattr(alert, "owner_agency", None) == actor.agency  # unknown: the domain says so
        if not participant_may_send(name, participant, is_lead=is_lead, owns_alert=owns):
            raise WriteRefused(f"Commande non autorisée pour votre structure : {rule.why}.",
                               field="alert_id" if rule.writer is Writer.ALERT_OWNER else "actor.agency")
    # 4. which professional role
    category = disclosure.command_category(name, fields)
    if rule.writer is Writer.EMERGENCY and not role_may_send(name, actor.role, category, emergency_roles):
        raise WriteRefused("Votre rôle n'a pas reçu le droit d'ouvrir un accès d'urgence (bris de glace).",
                           field="actor.role")
    if not disclosure.role_may_write(actor.role, category):
        raise WriteRefused(f"Votre rôle ne permet pas d'enregistrer des informations de catégorie "
                           f"« {category.value} ».", field="actor.role")


def _as_uuid(value: Any) -> UUID | None:
    if value is None or isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        return None
