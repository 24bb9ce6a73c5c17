"""GraphQL output types. Every field carrying personal data is tagged with its information
category in CATEGORIES (read by gateway.permissions.redact) and says so in its description.

`item` means the object carries its own category in `info_category` (a need about addiction
is medical, a need about housing is social).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

import strawberry

from domain import values as v
from gateway import permissions as p
from gateway.permissions import ITEM

# --------------------------------------------------------------------------- enums
PathwayKind = strawberry.enum(v.PathwayKind, description="Type de parcours.")
ParticipantRole = strawberry.enum(v.ParticipantRole, description="Rôle d'une structure dans le parcours.")
InformationCategory = strawberry.enum(v.InformationCategory, description="Catégorie d'information (consentement).")
ConsentInformation = strawberry.enum(v.ConsentInformation, description="Comment la personne a été informée avant "
                                     "de consentir ou de s'opposer (preuve du consentement).")
NeedCategory = strawberry.enum(v.NeedCategory)
ErasureBasis = strawberry.enum(v.ErasureBasis, description="Fondement d'un effacement (RGPD art. 17) ; liste fermée.")
NeedStatus = strawberry.enum(v.NeedStatus)
ReferralStatus = strawberry.enum(v.ReferralStatus, description="Statut FHIR Task d'une orientation.")
ReferralOutcome = strawberry.enum(v.ReferralOutcome)
AppointmentStatus = strawberry.enum(v.AppointmentStatus)
CoverageScheme = strawberry.enum(v.CoverageScheme)
CoverageStatus = strawberry.enum(v.CoverageStatus)
HousingStatus = strawberry.enum(v.HousingStatus)
PhoneStatus = strawberry.enum(v.PhoneStatus)
AlertSeverity = strawberry.enum(v.AlertSeverity)
AlertStatus = strawberry.enum(v.AlertStatus)
ClosureOutcome = strawberry.enum(v.ClosureOutcome)
TreatmentKind = strawberry.enum(v.TreatmentKind)
AdministrativeStatus = strawberry.enum(v.AdministrativeStatus)
GpVisitOutcome = strawberry.enum(v.GpVisitOutcome)
NotWentReason = strawberry.enum(v.NotWentReason)
#: The GraphQL (English, like every other identifier of the schema) name of each role, and what it
#: is; the enum's value, and the claim a token carries, stay the domain's French code
#: (domain.disclosure.Role). A role without a name here fails tests/unit/gateway/test_schema_descriptions.py.
ROLE_NAMES: dict[p.Role, tuple[str, str]] = {
    p.Role.MEDECIN: ("DOCTOR", "Médecin."),
    p.Role.INFIRMIER: ("NURSE", "Infirmier ou infirmière."),
    p.Role.SAGE_FEMME: ("MIDWIFE", "Sage-femme."),
    p.Role.PUERICULTRICE: ("PAEDIATRIC_NURSE", "Puéricultrice (PMI)."),
    p.Role.TRAVAILLEUR_SOCIAL: ("SOCIAL_WORKER", "Travailleur social."),
    p.Role.ASSISTANTE_SOCIALE: ("SOCIAL_SERVICE_ASSISTANT", "Assistant(e) de service social."),
    p.Role.COORDINATEUR: ("COORDINATOR", "Coordinateur ou coordinatrice de parcours."),
    p.Role.CONSEILLER_DROITS: ("BENEFITS_ADVISER", "Conseiller accès aux droits (CPAM)."),
    p.Role.CONSEILLER_PENITENTIAIRE: ("PROBATION_OFFICER", "Conseiller pénitentiaire d'insertion et de probation (SPIP)."),
    p.Role.BENEVOLE: ("VOLUNTEER", "Bénévole d'association."),
    p.Role.ANALYSTE: ("ANALYST", "Analyste (ARS, DREETS) : indicateurs désidentifiés seulement."),
    p.Role.DPO: ("DPO", "Délégué à la protection des données : le journal d'audit de sa structure."),
    p.Role.DPO_REGIONAL: ("REGIONAL_DPO", "DPO de la plateforme : le journal d'audit de toutes les structures."),
    p.Role.ADMIN: ("AGENCY_ADMIN", "Administrateur d'une structure : son webhook d'alertes, aucune donnée personnelle."),
    p.Role.TERRITORY_ADMIN: ("TERRITORY_ADMIN", "Administrateur d'un territoire : ses réglages d'alertes et le rejeu des règles, aucune donnée personnelle."),
}


def _graphql_role_enum() -> type:
    from enum import Enum

    members = {name: strawberry.enum_value(role.value, description=f"{text} Code du jeton : « {role.value} ».")
               for role, (name, text) in ROLE_NAMES.items()}
    return strawberry.enum(Enum("Role", members),  # type: ignore[misc]
                           description="Rôle porté par le jeton d'accès (la revendication `role` du jeton "
                                       "porte le code français indiqué pour chaque valeur).")


Role = _graphql_role_enum()
Membership = strawberry.enum(p.Membership)
RedactionReason = strawberry.enum(p.Reason, name="RedactionReason")


@strawberry.enum(description="État d'un parcours.")
class PathwayState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


I, S, A, M = "identity", "social", "administrative", "medical"


# Cursors: projections.queries.encode_cursor / decode_cursor (the one codec).


# --------------------------------------------------------------------------- types
@strawberry.type(description="Une information masquée, et pourquoi.")
class Redaction:
    field: str
    category: InformationCategory
    reason: RedactionReason
    message: str


@strawberry.type(description="Ce que votre structure et votre rôle voient de ce parcours.")
class Access:
    membership: Membership
    visible_categories: list[InformationCategory]
    hidden_categories: list[InformationCategory]


@strawberry.type(description="Structure participant au parcours.")
class Participant:
    agency: str
    role: ParticipantRole
    in_care_team: bool


@strawberry.type(description="Consentement de la personne au partage, par structure et catégorie.")
class Consent:
    agency: str
    categories: list[InformationCategory]


@strawberry.type(description="Besoin identifié. Catégorie d'information : celle du besoin (item).")
class Need:
    need_id: UUID
    info_category: InformationCategory
    category: NeedCategory | None
    description: str | None
    status: NeedStatus
    recorded_at: datetime
    recorded_by: str
    met_at: datetime | None


@strawberry.type(description="Orientation (boucle fermée, statuts FHIR Task).")
class Referral:
    referral_id: UUID
    info_category: InformationCategory
    to_agency: str | None
    service: str | None
    status: ReferralStatus
    status_reason: str | None
    made_at: datetime
    made_by: str
    need_id: UUID | None
    outcome: ReferralOutcome | None
    outcome_reason: str | None
    outcome_at: datetime | None


@strawberry.type(description="Rendez-vous (catégorie médicale).")
class Appointment:
    appointment_id: UUID
    info_category: InformationCategory
    with_agency: str | None
    service: str | None
    scheduled_at: datetime | None
    status: AppointmentStatus | None
    interpreter_needed: bool | None
    language: str | None
    interpreter_booked: bool | None
    status_reason: str | None


@strawberry.type(description="Droits santé (catégorie administrative).")
class Coverage:
    scheme: CoverageScheme
    status: CoverageStatus | None
    applied_on: date | None
    opened_on: date | None
    expires_on: date | None
    renewal_filed_on: date | None


@strawberry.type(description="Demande d'hébergement (catégorie sociale).")
class HousingRequest:
    request_id: UUID
    via_agency: str
    status: HousingStatus | None
    needed_from: date | None
    place: str | None
    available_on: date | None
    decline_reason: str | None


@strawberry.type(description="Joignabilité de la personne (catégorie identité).")
class Contact:
    phone: PhoneStatus | None
    failed_attempts: int | None
    last_attempt_at: datetime | None
    last_reached_at: datetime | None


@strawberry.type(description="Action décidée en synthèse (catégorie sociale).")
class Action:
    action_id: UUID
    conference_id: UUID
    owner_agency: str
    description: str | None
    due_on: date
    done: bool
    done_at: datetime | None


@strawberry.type(description="Synthèse / réunion de concertation (décisions : catégorie sociale).")
class CaseConference:
    conference_id: UUID
    held_at: datetime
    agencies: list[str] = strawberry.field(description="Structures invitées.")
    decisions: list[str] | None
    present: list[str] = strawberry.field(
        description="Structures ayant confirmé elles-mêmes leur présence (celle qui a tenu la synthèse comprise).")


@strawberry.type(description="Fait propre au type de parcours (date de sortie, nouveau-né, dépistage...).")
class Fact:
    name: str
    label: str
    info_category: InformationCategory
    value: str | None


@strawberry.type(description="Un événement du parcours qui a déclenché une alerte (le même que l'entrée de la "
                              "chronologie de même eventId). Type et libellé : catégorie de l'événement (item).")
class TriggeringEvent:
    event_id: str = strawberry.field(description="Identifiant de l'événement (l'id CloudEvent publié sur "
                                                 "<prefix>.pathway-events, et TimelineEntry.eventId).")
    position: int | None = strawberry.field(description="Sa position dans la chronologie du parcours "
                                                        "(TimelineEntry.position) ; null si la vue de lecture ne "
                                                        "l'a pas encore.")
    info_category: InformationCategory = strawberry.field(
        description="Catégorie d'information de l'événement (celle de l'alerte tant que la chronologie ne l'a pas).")
    type: str | None = strawberry.field(description="Type d'événement (ex. HousingDeclined) [catégorie de l'événement].")
    label: str | None = strawberry.field(description="Libellé en français [catégorie de l'événement].")
    occurred_at: datetime | None = strawberry.field(description="Quand le fait a eu lieu.")


@strawberry.type(description="Alerte de risque de rupture. Catégorie : celle de la règle (item).")
class Alert:
    alert_id: UUID
    pathway_id: UUID
    info_category: InformationCategory
    rule_id: str | None = strawberry.field(description="Règle : null si sa catégorie ne vous est pas visible "
                                           "(redactions le dit).")
    rule_label: str = strawberry.field(description="Titre de la règle, ou un libellé neutre si sa catégorie ne "
                                       "vous est pas visible.")
    severity: AlertSeverity
    status: AlertStatus
    owner_agency: str
    raised_at: datetime
    subject: str | None
    suggested_action: str | None
    escalated_to: str | None
    escalation_reason: str | None
    resolution_reason: str | None
    status_changed_at: datetime | None
    triggering_events: list[TriggeringEvent] = strawberry.field(
        description="Les événements du parcours qui ont déclenché l'alerte, avec leurs identifiants.")
    redactions: list[Redaction]
    consent_version: int = strawberry.field(
        default=0, description="Version du consentement de la personne en vigueur quand cette alerte vous est "
        "communiquée (CSP D1110-3-1) ; 0 : aucun choix enregistré.")


@strawberry.type(description="Événement de la chronologie inter-structures (libellé et catégorie : vue de lecture « timeline »).")
class TimelineEntry:
    event_id: str = strawberry.field(description="Identifiant de l'événement (l'id CloudEvent publié sur "
                                                 "<prefix>.pathway-events ; Alert.triggeringEvents le cite).")
    position: int
    info_category: InformationCategory
    type: str | None
    label: str | None
    occurred_at: datetime
    recorded_at: datetime
    agency: str
    role: str
    redactions: list[Redaction]


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class TimelineConnection:
    entries: list[TimelineEntry]
    page_info: PageInfo
    total_count: int


# Pathway (with the timeline resolver) lives in gateway.views to keep this module free of I/O.

CATEGORIES: dict[type, dict[str, str]] = {
    Need: {"category": ITEM, "description": ITEM},
    Referral: {"to_agency": ITEM, "service": ITEM, "status_reason": ITEM, "outcome_reason": ITEM},
    Appointment: {"with_agency": ITEM, "service": ITEM, "scheduled_at": ITEM, "status": ITEM,
                  "interpreter_needed": ITEM, "language": ITEM, "interpreter_booked": ITEM, "status_reason": ITEM},
    Coverage: {"status": A, "applied_on": A, "opened_on": A, "expires_on": A, "renewal_filed_on": A},
    HousingRequest: {"status": S, "needed_from": S, "place": S, "available_on": S, "decline_reason": S},
    Contact: {"phone": I, "failed_attempts": I, "last_attempt_at": I, "last_reached_at": I},
    Action: {"description": S},
    CaseConference: {"decisions": S},
    Fact: {"value": ITEM},
    # suggested_action and resolution_reason are texts per category (domain.texts): each reader
    # gets the parts it may see (gateway.views.alert_view), so they are not tagged as a whole.
    Alert: {"subject": ITEM, "escalation_reason": ITEM},
    TimelineEntry: {"type": ITEM, "label": ITEM},
    TriggeringEvent: {"type": ITEM, "label": ITEM},
}


def _camel(path: str) -> str:
    def one(part: str) -> str:
        head, *rest = part.split("_")
        return head + "".join(x[:1].upper() + x[1:] for x in rest)

    return ".".join(one(part) for part in path.split("."))


def as_redactions(items: list[p.Redaction]) -> list[Redaction]:
    """The GraphQL (camelCase) path of each hidden field, its category and the reason."""
    return [Redaction(field=_camel(r.field), category=r.category, reason=r.reason, message=r.reason.message)
            for r in items]

