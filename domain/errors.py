"""Named refusals of the pathway aggregates.

Each error carries the reason in French (it reaches the screens as is) and, where one field
of the command is at fault, that field's name so that a form can point at it.
"""

from __future__ import annotations

import re

_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def error_code(name: str) -> str:
    """THE error-code convention of every edge (GraphQL `extensions.code` and `code` of
    `CommandRefused`, dead-letter reasons): stable UPPER_SNAKE words. A refusal's class name
    (`UnknownAlert`) or a lower-case tag (`uuid_parsing`) gives its code (`UNKNOWN_ALERT`,
    `UUID_PARSING`); a code already in the convention is unchanged."""
    return _WORD_BOUNDARY.sub("_", name.strip()).replace("-", "_").replace(" ", "_").upper()


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


class PathwayNotClosed(DomainError):
    default_reason = "Le parcours n'est pas clos."


class AgencyNotParticipating(DomainError):
    default_reason = "Cette structure ne participe pas au parcours."
    default_field = "actor.agency"


class AgencyAlreadyParticipating(DomainError):
    default_reason = "Cette structure participe déjà au parcours."
    default_field = "agency"


class LeadAgencyCannotLeave(DomainError):
    default_reason = "La structure référente ne peut pas quitter le parcours."
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
