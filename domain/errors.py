"""Named refusals of the pathway aggregates.

Each error carries the reason in French (it reaches the screens as is) and, where one field
of the command is at fault, that field's name so that a form can point at it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def error_code(name: str) -> str:
    """THE error-code convention of every edge (GraphQL `extensions.code` and `code` of
    `CommandRefused`, dead-letter reasons): stable UPPER_SNAKE words. A refusal's class name
    (`UnknownAlert`) or a lower-case tag (`uuid_parsing`) gives its code (`UNKNOWN_ALERT`,
    `UUID_PARSING`); a code already in the convention is unchanged."""
    return _WORD_BOUNDARY.sub("_", name.strip()).replace("-", "_").replace(" ", "_").upper()


# --------------------------------------------------------------------------- refused input values
#: THE codes of a refused input value, each with the French reason every edge gives (the field
#: at fault is named beside it): a command's payload (pydantic, services.pathways.handler) and a
#: GraphQL variable (graphql-core's coercion, gateway.hardening) are refused in these words.
INPUT_ERRORS: dict[str, str] = {
    "REQUIRED_FIELD": "champ obligatoire",
    "UNKNOWN_FIELD": "champ inconnu",
    "UNKNOWN_ENUM_VALUE": "valeur non reconnue de l'énumération",
    "INVALID_UUID": "identifiant (UUID) invalide",
    "INVALID_DATE": "date ou date et heure invalide (ISO 8601 : AAAA-MM-JJ, AAAA-MM-JJThh:mm:ss+hh:mm)",
    "INVALID_VALUE": "valeur invalide",
}

#: Finer French reasons of some kinds of refused value (pydantic's error types name the kinds;
#: graphql-core's coercion messages are sorted into the same kinds by gateway.hardening). The
#: code of every kind is `input_code(kind)`.
_INPUT_REASONS: dict[str, str] = {
    "timezone_aware": "date et heure avec fuseau horaire attendues (ISO 8601)",
    "datetime_parsing": "date et heure invalides (ISO 8601 : AAAA-MM-JJThh:mm:ss+hh:mm)",
    "datetime_from_date_parsing": "date et heure invalides (ISO 8601 : AAAA-MM-JJThh:mm:ss+hh:mm)",
    "datetime_type": "date et heure attendues (ISO 8601 : AAAA-MM-JJThh:mm:ss+hh:mm)",
    "date_parsing": "date invalide (ISO 8601 : AAAA-MM-JJ)",
    "date_from_datetime_parsing": "date invalide (ISO 8601 : AAAA-MM-JJ)",
    "date_type": "date attendue (ISO 8601 : AAAA-MM-JJ)",
    "int_parsing": "nombre entier attendu",
    "int_type": "nombre entier attendu",
    "string_too_short": "ne doit pas être vide",
    "string_too_long": "texte trop long",
    "bool_parsing": "oui/non attendu",
    "list_type": "liste attendue",
    "string_type": "texte attendu",
}
_INPUT_CODES: dict[str, str] = {"missing": "REQUIRED_FIELD", "extra_forbidden": "UNKNOWN_FIELD",
                                "enum": "UNKNOWN_ENUM_VALUE"}


def input_code(kind: str) -> str:
    """The code (a key of INPUT_ERRORS) of one kind of refused input value."""
    if kind in _INPUT_CODES:
        return _INPUT_CODES[kind]
    if kind.startswith("uuid"):
        return "INVALID_UUID"
    if kind.startswith(("date", "datetime", "timezone")):
        return "INVALID_DATE"
    return "INVALID_VALUE"


def input_error(kind: str) -> tuple[str, str]:
    """(code, French reason) of one kind of refused input value."""
    code = input_code(kind)
    return code, _INPUT_REASONS.get(kind, INPUT_ERRORS[code])


#: Bounds, whose reason names the bound (pydantic's `ctx`).
_BOUND_REASONS: dict[str, str] = {"greater_than_equal": "doit être supérieur ou égal à {ge}",
                                  "greater_than": "doit être supérieur à {gt}",
                                  "less_than_equal": "doit être inférieur ou égal à {le}",
                                  "less_than": "doit être inférieur à {lt}"}


def refused_input(error: Mapping[str, Any]) -> tuple[str, str]:
    """(code, French reason) of one refused value described as pydantic describes it (an entry
    of `ValidationError.errors()`: its `type` and `ctx`): the reason names the expected values
    of an enumeration, the bound that was crossed, or our validators' own French sentence."""
    kind, ctx = error["type"], error.get("ctx") or {}
    code, reason = input_error(kind)
    if kind == "enum":  # pydantic lists the values in English ("'a', 'b' or 'c'")
        reason = f"valeur non reconnue (attendu : {str(ctx.get('expected', '')).replace(' or ', ' ou ')})"
    elif kind in _BOUND_REASONS:
        reason = _BOUND_REASONS[kind].format(**ctx)
    elif kind == "value_error":
        reason = str(ctx.get("error", reason))
    return code, reason


class DomainError(Exception):
    """Base of every refusal raised by a `check_*` method. Its code is its class name in the
    convention of `error_code` (`UnknownAlert` -> `UNKNOWN_ALERT`) unless it names one."""

    default_reason: str = "Commande refusée."
    default_field: str | None = None

    def __init__(self, reason: str | None = None, *, field: str | None = None) -> None:
        self.reason = reason or self.default_reason
        self.field = field if field is not None else self.default_field
        super().__init__(self.reason)

    @property
    def code(self) -> str:
        return error_code(type(self).__name__)


class PathwayClosed(DomainError):
    default_reason = "Le parcours est clos : seule une réouverture est possible."


class PathwayErased(DomainError):
    default_reason = "Les données personnelles de ce parcours ont été effacées : plus rien ne peut y être enregistré."


class ErasureNotAllowed(DomainError):
    default_reason = ("Seul le délégué à la protection des données (DPO) d'une structure du parcours peut "
                      "demander l'effacement.")


class PathwayNotClosed(DomainError):
    default_reason = "Le parcours n'est pas clos."


class AgencyNotParticipating(DomainError):
    default_reason = "Cette structure ne participe pas au parcours."
    default_field = "actor.agency"


class AgencyAlreadyParticipating(DomainError):
    default_reason = "Cette structure participe déjà au parcours."
    default_field = "agency"


class LeadAgencyCannotLeave(DomainError):
    default_reason = ("La structure référente ne peut pas quitter le parcours : elle passe d'abord la main "
                      "(handOverLead).")
    default_field = "agency"


class AlreadyLead(DomainError):
    default_reason = "Cette structure est déjà la référente du parcours."
    default_field = "agency"


class ConsentNotGranted(DomainError):
    default_reason = "Aucun consentement de partage n'a été donné pour cette catégorie."
    default_field = "categories"


class ConsentForOwnAgency(DomainError):
    """A structure never records a consent (or an objection) that widens or narrows its own
    access: the person's choice is collected by another member of the care team."""

    default_reason = ("Une structure n'enregistre jamais un consentement pour elle-même : il est recueilli "
                      "auprès de la personne par un autre membre de l'équipe de soins.")
    default_field = "agency"


class ObjectionToLeadAgency(DomainError):
    default_reason = ("La structure référente tient le dossier de la personne : une opposition à son égard se "
                      "traite en changeant de structure référente ou en clôturant le parcours.")
    default_field = "agency"


class DuplicateIdentifier(DomainError):
    default_reason = "Cet identifiant est déjà utilisé dans le parcours."


class UnknownNeed(DomainError):
    default_reason = "Besoin inconnu dans ce parcours."
    default_field = "need_id"


class NeedAlreadyMet(DomainError):
    default_reason = "Ce besoin est déjà couvert."
    default_field = "need_id"


class UnknownReferral(DomainError):
    default_reason = "Orientation inconnue dans ce parcours."
    default_field = "referral_id"


class ReferralTransitionNotAllowed(DomainError):
    default_reason = "Ce changement de statut de l'orientation n'est pas possible."
    default_field = "status"


class ReasonRequired(DomainError):
    default_reason = "Un motif est obligatoire."
    default_field = "reason"


class AppointmentNotScheduled(DomainError):
    default_reason = "Ce rendez-vous n'a pas été pris."
    default_field = "appointment_id"


class AppointmentAlreadyConcluded(DomainError):
    default_reason = "Ce rendez-vous est déjà honoré, manqué, excusé ou annulé."
    default_field = "appointment_id"


class AppointmentNotYetDue(DomainError):
    default_reason = "Le rendez-vous n'a pas encore eu lieu."
    default_field = "occurred_at"


class InterpreterNotNeeded(DomainError):
    default_reason = "Aucun besoin d'interprète n'est indiqué pour ce rendez-vous."
    default_field = "appointment_id"


class UnknownRefusalSubject(DomainError):
    default_reason = "Aucun rendez-vous ni aucune orientation de ce parcours ne porte cet identifiant."
    default_field = "related_id"


class CoverageNotOpen(DomainError):
    default_reason = "Ces droits ne sont pas ouverts."
    default_field = "scheme"


class InvalidCoveragePeriod(DomainError):
    default_reason = "La date de fin des droits précède leur ouverture."
    default_field = "expires_on"


class UnknownHousingRequest(DomainError):
    default_reason = "Demande d'hébergement inconnue dans ce parcours."
    default_field = "request_id"


class HousingNotOffered(DomainError):
    default_reason = "Aucune proposition d'hébergement en cours pour cette demande."
    default_field = "request_id"


class HousingAlreadySettled(DomainError):
    default_reason = "Cette demande d'hébergement est déjà confirmée."
    default_field = "request_id"


class HousingNotConfirmed(DomainError):
    default_reason = "Aucune solution d'hébergement n'est confirmée."
    default_field = "outcome"


class UnknownCaseConference(DomainError):
    default_reason = "Synthèse inconnue dans ce parcours."
    default_field = "conference_id"


class NotInvitedToConference(DomainError):
    default_reason = "Votre structure n'était pas invitée à cette synthèse : elle ne peut y confirmer sa présence."
    default_field = "conference_id"


class PresenceAlreadyConfirmed(DomainError):
    default_reason = "La présence de votre structure à cette synthèse est déjà confirmée."
    default_field = "conference_id"


class UnknownAction(DomainError):
    default_reason = "Action inconnue dans ce parcours."
    default_field = "action_id"


class ActionAlreadyDone(DomainError):
    default_reason = "Cette action est déjà réalisée."
    default_field = "action_id"


class AlertAlreadyOpen(DomainError):
    default_reason = "Une alerte de cette règle est déjà ouverte pour ce sujet."
    default_field = "rule_id"


class UnknownAlert(DomainError):
    default_reason = "Alerte inconnue dans ce parcours."
    default_field = "alert_id"


class AlertNotOpen(DomainError):
    default_reason = "Cette alerte est déjà résolue."
    default_field = "alert_id"


class NotAlertOwner(DomainError):
    default_reason = "Seule la structure responsable de l'alerte peut la classer sans suite."
    default_field = "alert_id"


class DateBeforeStart(DomainError):
    default_reason = "Cette date précède le début du parcours."


class UnknownTreatment(DomainError):
    default_reason = "Traitement inconnu dans ce parcours."
    default_field = "treatment_id"


class FollowUpNotAfterExit(DomainError):
    default_reason = "Le rendez-vous de suivi doit avoir lieu après la sortie."
    default_field = "appointment_id"


class ExitAlreadyRecorded(DomainError):
    default_reason = "La sortie est déjà enregistrée."


class NoNewborn(DomainError):
    default_reason = "Aucun nouveau-né n'est enregistré pour ce parcours."


class RightsNotOpen(DomainError):
    default_reason = "Les droits (AME, CSS ou PUMa) ne sont pas ouverts : pas d'orientation vers un médecin de ville."


class UnknownOrientation(DomainError):
    default_reason = "Orientation vers un médecin inconnue dans ce parcours."
    default_field = "orientation_id"


class OutcomeAlreadyRecorded(DomainError):
    default_reason = "L'issue de cette orientation est déjà enregistrée."
    default_field = "orientation_id"


class PmiNotLinked(DomainError):
    default_reason = "Sortie avec un nouveau-né : le lien avec la PMI n'est pas fait."
    default_field = "outcome"


class OrientationNotDecided(DomainError):
    default_reason = "Aucune orientation n'est décidée pour la sortie du SAS."
    default_field = "outcome"


class GpVisitNotConfirmed(DomainError):
    default_reason = "Aucune venue chez le médecin orienté n'est confirmée."
    default_field = "outcome"


# --------------------------------------------------------------------------- the disclosure catalogue
class NotInCatalogue(DomainError, LookupError):
    """A name the disclosure catalogue (domain.disclosure) does not know. Nothing is defaulted:
    an event, command or rule without an entry has no category, so it cannot be shown, sent
    or written safely; each edge turns this into its refusal (dead-letter, GraphQL error,
    refused command)."""

    default_reason = "Nom inconnu du catalogue de partage"

    def __init__(self, name: str, reason: str | None = None, *, field: str | None = None) -> None:
        self.name = name
        super().__init__(reason or f"{self.default_reason} : « {name} ».", field=field)


class UnknownEventType(NotInCatalogue):
    default_reason = "Type d'événement inconnu du catalogue de partage"


class UnknownCommand(NotInCatalogue):
    default_reason = "Commande inconnue du catalogue de partage"


class UnknownRule(NotInCatalogue):
    default_reason = "Règle de risque de rupture inconnue du catalogue"
    default_field = "rule_id"


class UnknownNeedCategory(NotInCatalogue):
    default_reason = "Catégorie de besoin inconnue du catalogue"
    default_field = "category"


class UnknownPerson(DomainError):
    """An erasure asked for a person Relais holds no key of (or one the caller's agency never
    cared for: the same answer, so the refusal tells nothing)."""

    default_reason = "Aucune donnée de cette personne n'est chiffrée dans Relais (référence inconnue ou déjà effacée)."
    default_field = "personRef"
