"""The disclosure catalogue: THE one place saying what each thing Relais records reveals.

Secret professionnel partagé (CSP L1110-4 / L1110-12): an agency sees only what its role needs,
and outside the person's care team only what the person consented to share. Both checks work
on four information categories (identity, social, administrative, medical); this module gives
the category, and the French label, of

- every event type of the pathway aggregates (:data:`EVENTS`);
- every command of the pathways service, by name (:data:`COMMANDS`; the domain does not import
  the services: a test checks that the names are exactly those of `services.pathways.commands`);
- every rupture-risk rule (:data:`RULES`; `domain.rules` takes its titles from here), with the
  alert subjects that reveal something else than their rule (a newborn's missing housing);
- every need category (:data:`NEED_CATEGORIES`);

and the role-needs table (:class:`Role`, :data:`ROLE_NEEDS`, :data:`CASE_ROLES`,
:data:`CARE_TEAM_ROLES`) with the write policy (:func:`role_may_write`). The gateway (views,
permissions, mutations), ingest, the projections and alerting read it; nothing else defines a
category or a label.

A name without an entry is refused, never defaulted: :func:`event_entry`, :func:`command_entry`
and :func:`rule_entry` raise :class:`~domain.errors.UnknownEventType`,
:class:`~domain.errors.UnknownCommand`, :class:`~domain.errors.UnknownRule`.

How an event's category is computed (:func:`event_category`), the same from a domain event
(`vars(event)`) and from its wire body (the relay's JSON):

1. its **own** category: the entry's, or what its content says — a recorded need takes its
   need category's (a need about addiction is medical), a raised alert its rule's or subject's,
   a referral its target service's (CSAPA, CMP... medical; SIAO, CHRS... social; CPAM,
   préfecture... administrative);
2. raised to the category of the **subject** it names, when it names one recorded earlier in
   the pathway (`NeedMet` names a need, `ReferralStatusChanged` a referral, `AlertResolved` an
   alert): whoever may not see the need may not see that it was met. Such events have the
   identity floor, so they take exactly their subject's category. A subject never seen takes
   the medical category (the narrowest): a stream in order never has one.

:class:`Subjects` holds the subjects of one pathway as its events are read in order; the
timeline projection keeps the same thing in a table (`timeline_subjects`).

Categories are ordered by :data:`SENSITIVITY` (identity < administrative < social < medical)
when two must be combined: the more sensitive wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from domain.errors import UnknownCommand, UnknownEventType, UnknownNeedCategory, UnknownRule
from domain.values import InformationCategory, NeedCategory, ParticipantRole

Category = InformationCategory
I, S, A, M = Category.IDENTITY, Category.SOCIAL, Category.ADMINISTRATIVE, Category.MEDICAL
ALL_CATEGORIES: tuple[Category, ...] = (I, S, A, M)

#: Least to most sensitive: what wins when two categories apply to one thing.
SENSITIVITY: tuple[Category, ...] = (I, A, S, M)
_RANK = {category: rank for rank, category in enumerate(SENSITIVITY)}


def most_sensitive(*categories: Category | str) -> Category:
    return max((Category(c) for c in categories), key=_RANK.__getitem__)


def more_sensitive_than(category: Category | str) -> tuple[Category, ...]:
    """The categories that would win over `category` (none above medical)."""
    return SENSITIVITY[_RANK[Category(category)] + 1:]


# --------------------------------------------------------------------------- roles
class Role(StrEnum):
    """Roles a bearer token may carry (French codes, as the agencies name their staff)."""

    MEDECIN = "medecin"
    INFIRMIER = "infirmier"
    SAGE_FEMME = "sage_femme"
    PUERICULTRICE = "puericultrice"
    TRAVAILLEUR_SOCIAL = "travailleur_social"
    ASSISTANTE_SOCIALE = "assistante_sociale"
    COORDINATEUR = "coordinateur"
    CONSEILLER_DROITS = "conseiller"  # CPAM, accès aux droits
    CONSEILLER_PENITENTIAIRE = "conseiller_penitentiaire"  # SPIP
    BENEVOLE = "benevole"
    ANALYSTE = "analyste"  # ARS / DREETS: de-identified indicators only
    DPO = "dpo"  # délégué à la protection des données: its organisation's audit trail, no personal data
    DPO_REGIONAL = "dpo_regional"  # the platform's DPO (ARS, GRADeS): every organisation's audit trail
    ADMIN = "admin_structure"  # an agency's administrator: its alert webhook, no personal data
    TERRITORY_ADMIN = "admin_territoire"  # its territory's alert settings and back-test, no personal data


#: What each role's job needs to see (and may therefore write).
ROLE_NEEDS: Mapping[Role, frozenset[Category]] = {
    Role.MEDECIN: frozenset(ALL_CATEGORIES),
    Role.INFIRMIER: frozenset(ALL_CATEGORIES),
    Role.SAGE_FEMME: frozenset(ALL_CATEGORIES),
    Role.PUERICULTRICE: frozenset(ALL_CATEGORIES),
    Role.TRAVAILLEUR_SOCIAL: frozenset({I, S, A}),
    Role.ASSISTANTE_SOCIALE: frozenset({I, S, A}),
    Role.COORDINATEUR: frozenset({I, S, A}),
    Role.CONSEILLER_DROITS: frozenset({I, A}),
    Role.CONSEILLER_PENITENTIAIRE: frozenset({I, S, A}),
    Role.BENEVOLE: frozenset({I, S}),
    Role.ANALYSTE: frozenset(),
    Role.DPO: frozenset(),
    Role.DPO_REGIONAL: frozenset(),
    Role.ADMIN: frozenset(),
    Role.TERRITORY_ADMIN: frozenset(),
}

#: Roles that read pathways at all (the others read indicators or the audit trail).
CASE_ROLES = frozenset(role for role, needs in ROLE_NEEDS.items() if needs)

#: Participant roles that make an agency part of the person's care team.
CARE_TEAM_ROLES = frozenset({
    ParticipantRole.LEAD, ParticipantRole.HEALTH_CARE, ParticipantRole.MENTAL_HEALTH,
    ParticipantRole.ADDICTION_CARE, ParticipantRole.MATERNAL_CHILD, ParticipantRole.SCREENING,
})


def role_may_write(role: Role | str, category: Category | str) -> bool:
    """The write policy: a role records only what its job needs to know."""
    try:
        needs = ROLE_NEEDS[Role(role)]
    except ValueError:
        return False
    return Category(category) in needs


#: The staff an agency taking part with a participant role has: who reads and acts on the
#: alerts it owns. Conservative: the lead is counted as its social workers and coordinators
#: only (a SPIP, a SAS operator, a CADA lead without any carer), so every rule an agency may
#: own as the lead is readable and resolvable without a medical role.
PARTICIPANT_STAFF: Mapping[ParticipantRole, frozenset[Role]] = {
    ParticipantRole.LEAD: frozenset({Role.ASSISTANTE_SOCIALE, Role.TRAVAILLEUR_SOCIAL, Role.COORDINATEUR}),
    ParticipantRole.HOUSING: frozenset({Role.TRAVAILLEUR_SOCIAL, Role.COORDINATEUR}),
    ParticipantRole.HEALTH_CARE: frozenset({Role.MEDECIN, Role.INFIRMIER, Role.ASSISTANTE_SOCIALE}),
    ParticipantRole.MENTAL_HEALTH: frozenset({Role.MEDECIN, Role.INFIRMIER}),
    ParticipantRole.ADDICTION_CARE: frozenset({Role.MEDECIN, Role.INFIRMIER, Role.TRAVAILLEUR_SOCIAL}),
    ParticipantRole.RIGHTS: frozenset({Role.CONSEILLER_DROITS}),
    ParticipantRole.SOCIAL_SUPPORT: frozenset({Role.ASSISTANTE_SOCIALE, Role.TRAVAILLEUR_SOCIAL}),
    ParticipantRole.SCREENING: frozenset({Role.MEDECIN, Role.INFIRMIER}),
    ParticipantRole.MATERNAL_CHILD: frozenset({Role.PUERICULTRICE, Role.SAGE_FEMME, Role.MEDECIN}),
    ParticipantRole.JUSTICE: frozenset({Role.CONSEILLER_PENITENTIAIRE}),
    ParticipantRole.COORDINATION: frozenset({Role.COORDINATEUR}),
    ParticipantRole.OTHER: frozenset({Role.TRAVAILLEUR_SOCIAL}),
}


# --------------------------------------------------------------------------- needs
#: Need category -> what a need of that category reveals. Interpreting is social: the language
#: a person speaks is what every agency needs to talk to them, it names no care. "Other" stays
#: social so that the social workers who record most of them can (their text is theirs).
NEED_CATEGORIES: Mapping[NeedCategory, Category] = {
    NeedCategory.HOUSING: S,
    NeedCategory.HEALTH_COVERAGE: A,
    NeedCategory.CARE: M,
    NeedCategory.INTERPRETING: S,
    NeedCategory.ADDICTION: M,
    NeedCategory.MENTAL_HEALTH: M,
    NeedCategory.SCREENING: M,
    NeedCategory.MATERNAL_CHILD: M,
    NeedCategory.ADMINISTRATIVE: A,
    NeedCategory.OTHER: S,
}


def need_category(need: NeedCategory | str | None) -> Category:
    """The information category of a need of category `need`."""
    try:
        return NEED_CATEGORIES[NeedCategory(_plain(need))]
    except ValueError:
        raise UnknownNeedCategory(str(_plain(need))) from None


# --------------------------------------------------------------------------- value labels
#: French labels of the codes a user reads inside a sentence (the timeline, alert texts).
REFERRAL_STATUS_LABELS: Mapping[str, str] = {
    "draft": "brouillon", "requested": "demandée", "accepted": "acceptée", "rejected": "refusée",
    "cancelled": "annulée", "in-progress": "en cours", "on-hold": "en attente", "failed": "échouée",
    "completed": "réalisée",
}
REFERRAL_OUTCOME_LABELS: Mapping[str, str] = {"honoured": "honorée", "not_honoured": "non honorée"}
CLOSURE_OUTCOME_LABELS: Mapping[str, str] = {
    "handed_over": "relais effectué", "housed": "hébergé", "transferred": "transféré",
    "lost_to_follow_up": "perdu de vue", "refused": "accompagnement refusé", "deceased": "décès", "other": "autre",
}
SEVERITY_LABELS: Mapping[str, str] = {"low": "faible", "medium": "moyenne", "high": "élevée", "critical": "critique"}
DISMISSAL_REASON_LABELS: Mapping[str, str] = {
    "false_alarm": "fausse alerte", "handled_elsewhere": "déjà traité ailleurs", "person_refused": "refus de la personne",
}

ERASURE_BASIS_LABELS: Mapping[str, str] = {
    "no_longer_necessary": "finalité atteinte (RGPD art. 17.1.a)",
    "consent_withdrawn": "retrait du consentement (RGPD art. 17.1.b)",
    "objection": "opposition de la personne (RGPD art. 17.1.c et 21)",
    "unlawful_processing": "traitement illicite (RGPD art. 17.1.d)",
    "legal_obligation": "obligation légale ou décision de justice (RGPD art. 17.1.e)",
    "retention_expired": "durée de conservation écoulée après la clôture",
}


def value_label(labels: Mapping[str, str], value: Any) -> str:
    """The French label of a code (an enum or its value); the code itself if none."""
    code = _plain(value)
    return labels.get(code, str(code))


# --------------------------------------------------------------------------- referral targets
#: Words of a referral's target (agency and service) that make it plainly a housing / social
#: service, or an administrative one. Anything else (CSAPA, CMP, CeGIDD, a GP...) names a care:
#: medical (when in doubt, the narrower category).
SOCIAL_TARGETS = ("siao", "115", "héberg", "heberg", "logement", "cada", "huda", "chrs", "lhss", "association",
                  "domiciliation", "accueil de jour", "ccas")
ADMINISTRATIVE_TARGETS = ("cpam", "caf", "préfecture", "prefecture", "ofii", "droits", "france travail", "mairie")


def referral_target_category(to_agency: str | None, service: str | None) -> Category:
    target = f"{to_agency or ''} {service or ''}".lower()
    if any(word in target for word in SOCIAL_TARGETS):
        return S
    if any(word in target for word in ADMINISTRATIVE_TARGETS):
        return A
    return M


def referral_category(to_agency: str | None, service: str | None, need: Category | str | None = None) -> Category:
    """What a referral reveals: its target service's category, or its need's when more sensitive
    (the category ReferralMade gets, for the views that show referrals as objects)."""
    target = referral_target_category(to_agency, service)
    return target if need is None else most_sensitive(target, need)


# --------------------------------------------------------------------------- rules
@dataclass(frozen=True)
class RuleEntry:
    """A rupture-risk rule: its French title, the category its alerts reveal, and the subjects
    that reveal another one."""

    label: str
    category: Category
    subjects: Mapping[str, Category] = field(default_factory=dict)
    #: Commands whose fact resolves the alert (one is enough): the owner must be allowed one.
    resolved_by: tuple[str, ...] = ()


RULES: Mapping[str, RuleEntry] = {
    "exit-without-housing": RuleEntry("Sortie sans hébergement confirmé", S,
                                      resolved_by=("ConfirmHousing", "DecideOrientation")),
    "rights-not-open": RuleEntry("Droits santé non ouverts", A, resolved_by=("OpenCoverage", "FileCoverageRenewal")),
    # The interpreting need is social (NEED_CATEGORIES): the text names the appointment's day
    # and time, never its service, so the social worker who booked it (CADA) reads and acts.
    "interpreter-missing": RuleEntry("Interprète non réservé", S, resolved_by=("BookInterpreter",)),
    "referral-unverified": RuleEntry("Orientation sans retour", S,
                                     resolved_by=("RecordReferralOutcome", "UpdateReferralStatus")),
    # The text names the day of the missed appointment and its agency's next step (call the
    # person back), not the care: the social worker who booked it follows the person up.
    "missed-appointment-unfollowed": RuleEntry("Rendez-vous manqué sans suite", S,
                                               resolved_by=("RecordContactAttempt",)),
    # Failed calls and a lost phone: contact details, as ContactAttempted / PhoneStatusRecorded.
    "contact-lost": RuleEntry("Contact perdu", I, resolved_by=("RecordContactAttempt", "RecordPhoneStatus")),
    "referral-declined": RuleEntry("Orientation refusée par le service", S,
                                   resolved_by=("MakeReferral", "MarkNeedMet")),
    # Owned by a carer of the pathway only (the treatment names the care).
    "treatment-continuity": RuleEntry("Continuité du traitement à la sortie", M,
                                      resolved_by=("PlanTreatmentFollowUp",)),
    # Both subjects are social: the maternity's social worker makes the PMI link (PmiLinked is
    # social), the SIAO reads the newborn's missing housing to act on it.
    "newborn-without-follow-up": RuleEntry("Nouveau-né sans suivi", S, resolved_by=("LinkPmi", "ConfirmHousing")),
    # The SAS operator organises the screening of every arrival from a high-endemicity country
    # (the country is on the opening) and relays health needs to the PASS without naming them.
    "screening-overdue": RuleEntry("Dépistage en retard", S,
                                   resolved_by=("RecordClatScreening", "BookAppointment", "MarkNeedMet")),
    "stalled": RuleEntry("Parcours à l'arrêt", S, resolved_by=("HoldCaseConference", "AssignAction", "MarkNeedMet")),
    # Consent is administrative, as ConsentGranted / ConsentWithdrawn.
    "consent-missing": RuleEntry("Consentement manquant", A, resolved_by=("GrantConsent",)),
    # The text says a care was refused and a case conference is due, not which care (the DAC
    # coordinator convenes the conference; the carers read the refusal itself, CareRefused).
    "care-refused": RuleEntry("Refus de soins par la personne", S, resolved_by=("HoldCaseConference",)),
}


#: What a reader who may not see an alert's rule (its category) reads as its label: the rule's
#: id and title say what the risk is about ("Continuité du traitement").
NEUTRAL_RULE_LABEL = "Point d'attention sur le parcours"


def rule_entry(rule_id: str) -> RuleEntry:
    try:
        return RULES[rule_id]
    except KeyError:
        raise UnknownRule(rule_id) from None


def rule_label(rule_id: str) -> str:
    return rule_entry(rule_id).label


def alert_category(rule_id: str, subject: str | None = None) -> Category:
    """What an alert of `rule_id` about `subject` reveals."""
    entry = rule_entry(rule_id)
    return entry.subjects.get(subject or "", entry.category)


def roles_able_to_act(rule_id: str, subject: str | None = None) -> frozenset[Role]:
    """The roles that read an alert's text and may send a command that resolves it."""
    category = alert_category(rule_id, subject)
    resolving = [command_category(name) for name in rule_entry(rule_id).resolved_by]
    return frozenset(
        role for role, needs in ROLE_NEEDS.items()
        if category in needs and any(role_may_write(role, c) for c in resolving)
    )


def agency_may_act(participant_role: ParticipantRole | str | None, rule_id: str, subject: str | None = None) -> bool:
    """Whether an agency taking part with `participant_role` has staff able to act on the alert
    (None: it does not take part, it cannot)."""
    if participant_role is None:
        return False
    return bool(PARTICIPANT_STAFF[ParticipantRole(participant_role)] & roles_able_to_act(rule_id, subject))


# --------------------------------------------------------------------------- events
class Own(StrEnum):
    """Where an event's own category comes from."""

    TYPE = "type"  # the entry's category
    NEED = "need"  # the need category it records (`category`)
    RULE = "rule"  # its alert's rule and subject (`rule_id`, `subject`)
    #: the service it orients to (`to_agency`, `service`): medical unless plainly social or administrative
    REFERRAL_TARGET = "referral_target"


@dataclass(frozen=True)
class EventEntry:
    """An event type: French label, category, and how its content and subject refine it.

    `about`: the field naming an earlier subject (need, referral, alert) whose category this
    event also reveals. `records`: the field naming the subject this event introduces, which
    later events name with the same id; the subject's category is this event's."""

    label: str
    category: Category
    own: Own = Own.TYPE
    about: str | None = None
    records: str | None = None


def _e(label: str, category: Category, **how: Any) -> EventEntry:
    return EventEntry(label, category, **how)


#: Every event type of the pathway aggregates (the base Pathway and its four kinds).
EVENTS: Mapping[str, EventEntry] = {
    # --- opening: who the person is (pseudonymous reference), where, which kind
    "DetentionPathwayOpened": _e("Parcours sortie de détention ouvert", I),
    "MaternityPathwayOpened": _e("Parcours sortie de maternité ouvert", I),
    "SasPathwayOpened": _e("Parcours arrivée en SAS ouvert", I),
    "PassGpPathwayOpened": _e("Parcours relais PASS → médecin de ville ouvert", I),
    # --- participants and consent: who takes part and what the person agreed to share is the
    # administrative frame of the pathway (the participants list is shown to every member).
    "AgencyJoined": _e("Structure ajoutée au parcours", A),
    "AgencyLeft": _e("Structure retirée du parcours", A),
    "LeadHandedOver": _e("Structure référente changée", A),
    "ConsentGranted": _e("Consentement au partage donné", A),
    "ConsentWithdrawn": _e("Consentement retiré", A),
    "ObjectionRecorded": _e("Opposition de la personne enregistrée", A),
    # Who broke the glass and why is shown to the lead agency and the DPO (the override's audit).
    "EmergencyAccessOpened": _e("Accès d'urgence ouvert (bris de glace)", A),
    # --- needs: the category of the need
    "NeedRecorded": _e("Besoin identifié", S, own=Own.NEED, records="need_id"),
    "NeedMet": _e("Besoin couvert", I, about="need_id"),
    # --- referrals: the service they go to, and the need they answer
    "ReferralMade": _e("Orientation", M, own=Own.REFERRAL_TARGET, about="need_id", records="referral_id"),
    "ReferralStatusChanged": _e("Statut d'orientation modifié", I, about="referral_id"),
    "ReferralOutcomeRecorded": _e("Retour d'orientation", I, about="referral_id"),
    # --- interpreting. The need (a language) is social: see NEED_CATEGORIES. A booked
    # interpreter names an appointment by its id only (the provider, ISM), and the social
    # worker who booked the appointment books the interpreter too (CADA, for Mr M.): social,
    # as its command (BookInterpreter) and the rule that watches it (interpreter-missing).
    "InterpreterNeedRecorded": _e("Besoin d'interprète", S),
    "InterpreterBooked": _e("Interprète réservé", S),
    # --- appointments: with whom and when the person is seen names their care
    "AppointmentBooked": _e("Rendez-vous pris", M),
    "AppointmentSeen": _e("Rendez-vous honoré", M),
    "AppointmentMissed": _e("Rendez-vous manqué", M),
    "AppointmentExcused": _e("Rendez-vous excusé", M),
    "AppointmentCancelled": _e("Rendez-vous annulé", M),
    "CareRefused": _e("Refus de soin", M),
    # --- health coverage (CPAM): administrative
    "CoverageApplied": _e("Demande de droits déposée", A),
    "CoverageOpened": _e("Droits ouverts", A),
    "CoverageRenewalFiled": _e("Renouvellement déposé", A),
    "CoverageEnded": _e("Droits fermés", A),
    # --- housing (SIAO): social
    "HousingRequested": _e("Demande d'hébergement", S),
    "HousingOffered": _e("Proposition d'hébergement", S),
    "HousingConfirmed": _e("Hébergement confirmé", S),
    "HousingDeclined": _e("Proposition d'hébergement refusée", S),
    # --- contact details: how the person is reached is identity data
    "PhoneStatusRecorded": _e("Téléphone", I),
    "ContactAttempted": _e("Tentative de contact", I),
    # --- case conferences
    "CaseConferenceHeld": _e("Synthèse tenue", S),
    # who was there is the care team's organisation, not the person's situation
    "ConferencePresenceConfirmed": _e("Présence à la synthèse confirmée", A),
    "ActionAssigned": _e("Action assignée", S),
    "ActionCompleted": _e("Action réalisée", S),
    # --- alerts: what their rule (or subject) reveals, for every step of their life
    "AlertRaised": _e("Alerte déclenchée", S, own=Own.RULE, records="alert_id"),
    "AlertAcknowledged": _e("Alerte prise en compte", I, about="alert_id"),
    "AlertEscalated": _e("Alerte escaladée", I, about="alert_id"),
    "AlertResolved": _e("Alerte levée", I, about="alert_id"),
    "AlertUpdated": _e("Alerte mise à jour", I, about="alert_id"),
    "AlertDismissed": _e("Alerte classée sans suite", I, about="alert_id"),
    # --- closure
    "PathwayClosed": _e("Parcours clôturé", S),
    "PathwayReopened": _e("Parcours rouvert", S),
    # --- erasure (RGPD art. 17): that it happened, when and on which ground; nothing personal
    "PersonalDataErased": _e("Données personnelles effacées", A),
    # --- sortie de détention. Dates are administrative (as the pathway's exit date); the
    # treatments are medical.
    "ReleaseDateSet": _e("Date de libération fixée", A),
    "TreatmentToContinueRecorded": _e("Traitement à poursuivre après la sortie", M),
    "TreatmentFollowUpPlanned": _e("Suite du traitement programmée après la sortie", M),
    "TreatmentHandedOver": _e("Traitement transmis", M),
    "Released": _e("Libération", A),
    # --- sortie de maternité. Discharge dates are administrative, as the pathway's exit date
    # they set (the SIAO plans housing on them); a birth, and the PMI follow-up, are medical.
    "DischargeDateSet": _e("Date de sortie de maternité fixée", A),
    "NewbornRegistered": _e("Naissance", M),
    # The maternity's social worker makes the link (a PMI is a departmental service of
    # social and medical protection): which PMI and when, no care. Social.
    "PmiLinked": _e("Lien PMI", S),
    "Discharged": _e("Sortie de maternité", A),
    # --- arrivée en SAS
    "AdministrativeSituationAssessed": _e("Situation administrative évaluée", A),
    # The SAS operator organises a TB screening for every arrival from a high-endemicity
    # country (the country is on the opening): that one is due and was done (a date, never its
    # result) is the organisation of the stay, social; the result stays with the CLAT.
    "TbScreeningNeedFlagged": _e("Dépistage de la tuberculose à prévoir", S),
    "ClatScreeningDone": _e("Dépistage CLAT", S),
    "OrientationDecided": _e("Orientation de sortie décidée", S),
    "SasLeft": _e("Sortie du SAS", S),
    # --- relais PASS -> médecin de ville: every step is about finding and seeing a GP (the
    # follow-up calls check a consultation happened): medical. The orientation is also a
    # referral of the pathway (same id), so referral events about it are medical too.
    "GpSearchStarted": _e("Recherche de médecin traitant", M),
    "OrientedToGp": _e("Orientation vers un médecin", M, records="orientation_id"),
    "FollowUpCallMade": _e("Appel de suivi", M),
    "GpVisitOutcomeRecorded": _e("Retour de consultation", M),
}


def event_entry(name: str) -> EventEntry:
    try:
        return EVENTS[name]
    except KeyError:
        raise UnknownEventType(name) from None


def _plain(value: Any) -> Any:
    """A field as the wire has it: enum values, UUIDs as text."""
    value = getattr(value, "value", value)
    return value if value is None or isinstance(value, str | bool | int | float) else str(value)


def own_category(name: str, data: Mapping[str, Any]) -> Category:
    """The category of an event from its type and content alone (step 1 of the module doc)."""
    entry = event_entry(name)
    if entry.own is Own.NEED:
        return need_category(data.get("category"))
    if entry.own is Own.RULE:
        return alert_category(str(_plain(data.get("rule_id"))), _plain(data.get("subject")))
    if entry.own is Own.REFERRAL_TARGET:
        return referral_target_category(data.get("to_agency"), data.get("service"))
    return entry.category


def subject_about(name: str, data: Mapping[str, Any]) -> str | None:
    """The id of the earlier subject the event names (its category raises the event's), if any."""
    about = event_entry(name).about
    ref = data.get(about) if about else None
    return None if ref is None else str(_plain(ref))


def subject_recorded(name: str, data: Mapping[str, Any]) -> str | None:
    """The id of the subject the event introduces, if any."""
    records = event_entry(name).records
    ref = data.get(records) if records else None
    return None if ref is None else str(_plain(ref))


#: The category of an event naming a subject never recorded before it (see the module doc).
UNKNOWN_SUBJECT = M


def event_category(name: str, data: Mapping[str, Any], subjects: Mapping[str, Category] | None = None) -> Category:
    """The category of one event of one pathway. `subjects`: subject id -> category, for the
    subjects recorded by the earlier events of the pathway (see :class:`Subjects`)."""
    own = own_category(name, data)
    ref = subject_about(name, data)
    if ref is None:
        return own
    return most_sensitive(own, (subjects or {}).get(ref, UNKNOWN_SUBJECT))


def event_label(name: str, data: Mapping[str, Any] | None = None) -> str:
    """The plain French label of an event; a raised alert says its rule."""
    entry = event_entry(name)
    if entry.own is Own.RULE and data is not None and data.get("rule_id"):
        return f"{entry.label} : {rule_label(_plain(data['rule_id']))}"
    return entry.label


class Subjects:
    """The subjects (needs, referrals, alerts, GP orientations) of one pathway and their
    categories, as its events are read in order: `categorise` each event, in order."""

    def __init__(self) -> None:
        self.categories: dict[str, Category] = {}

    def categorise(self, name: str, data: Mapping[str, Any]) -> Category:
        category = event_category(name, data, self.categories)
        ref = subject_recorded(name, data)
        if ref is not None:
            self.categories.setdefault(ref, category)
        return category


def event_data(domain_event: Any) -> dict[str, Any]:
    """The fields of a domain event, for the functions above (they read them as on the wire)."""
    return {key: value for key, value in vars(domain_event).items() if not key.startswith("_")}


# --------------------------------------------------------------------------- commands
@dataclass(frozen=True)
class CommandEntry:
    """A command: French label and the category it writes (a role sends it only if it needs
    that category). `by_need`: it writes the category of the need it records."""

    label: str
    category: Category
    by_need: bool = False


def _c(label: str, category: Category, *, by_need: bool = False) -> CommandEntry:
    return CommandEntry(label, category, by_need)


#: Every command of the pathways service, by name. The category is the one of the event the
#: command records (so a role can read back what it wrote), except where noted.
COMMANDS: Mapping[str, CommandEntry] = {
    "OpenDetentionPathway": _c("Ouvrir un parcours sortie de détention", I),
    "OpenMaternityPathway": _c("Ouvrir un parcours sortie de maternité", I),
    "OpenSasPathway": _c("Ouvrir un parcours arrivée en SAS", I),
    "OpenPassGpPathway": _c("Ouvrir un parcours relais PASS → médecin de ville", I),
    "AddAgency": _c("Ajouter une structure au parcours", A),
    "RemoveAgency": _c("Retirer une structure du parcours", A),
    "HandOverLead": _c("Passer la main à une autre structure référente", A),
    "GrantConsent": _c("Enregistrer un consentement au partage", A),
    "WithdrawConsent": _c("Enregistrer un retrait de consentement", A),
    "RecordObjection": _c("Enregistrer une opposition de la personne", A),
    "BreakGlass": _c("Ouvrir un accès d'urgence (bris de glace)", A),
    "RecordNeed": _c("Identifier un besoin", S, by_need=True),
    "MarkNeedMet": _c("Marquer un besoin comme couvert", S),
    # Orienting is what social workers do, to care services too: the write is social even when
    # the referral, once recorded, is shown as medical (a CSAPA).
    "MakeReferral": _c("Orienter vers un service", S),
    "UpdateReferralStatus": _c("Mettre à jour le statut d'une orientation", S),
    "RecordReferralOutcome": _c("Enregistrer le retour d'une orientation", S),
    "RecordInterpreterNeed": _c("Indiquer le besoin d'interprète", S),
    "BookAppointment": _c("Prendre un rendez-vous", M),
    "BookInterpreter": _c("Réserver un interprète", S),
    "MarkAppointmentSeen": _c("Marquer un rendez-vous comme honoré", M),
    "MarkAppointmentMissed": _c("Marquer un rendez-vous comme manqué", M),
    "ExcuseAppointment": _c("Excuser un rendez-vous", M),
    "CancelAppointment": _c("Annuler un rendez-vous", M),
    "RecordCareRefusal": _c("Enregistrer un refus de soin", M),
    "ApplyForCoverage": _c("Déposer une demande de droits", A),
    "OpenCoverage": _c("Enregistrer l'ouverture des droits", A),
    "FileCoverageRenewal": _c("Déposer un renouvellement de droits", A),
    "EndCoverage": _c("Enregistrer la fin des droits", A),
    "RequestHousing": _c("Demander un hébergement", S),
    "OfferHousing": _c("Proposer une place d'hébergement", S),
    "ConfirmHousing": _c("Confirmer l'hébergement", S),
    "DeclineHousing": _c("Refuser une proposition d'hébergement", S),
    "RecordPhoneStatus": _c("Indiquer l'état du téléphone", I),
    "RecordContactAttempt": _c("Enregistrer une tentative de contact", I),
    "HoldCaseConference": _c("Enregistrer une synthèse", S),
    "ConfirmConferencePresence": _c("Confirmer la présence de sa structure à une synthèse", A),
    "AssignAction": _c("Confier une action", S),
    "CompleteAction": _c("Marquer une action comme réalisée", S),
    # Alerts are raised by the risk engine; coordinators follow them up.
    "RaiseAlert": _c("Déclencher une alerte", S),
    "AcknowledgeAlert": _c("Prendre en compte une alerte", S),
    "EscalateAlert": _c("Remonter une alerte", S),
    "ResolveAlert": _c("Résoudre une alerte", S),
    "UpdateAlert": _c("Mettre à jour une alerte", S),
    # Any case role may close, with a reason, an alert its agency owns (it can read it).
    "DismissAlert": _c("Classer une alerte sans suite", I),
    "ClosePathway": _c("Clôturer le parcours", S),
    "ReopenPathway": _c("Rouvrir le parcours", S),
    # The DPO's act (domain.pathway.Pathway.check_may_erase), not a care team's write.
    "ErasePersonalData": _c("Effacer les données personnelles", A),
    "ScheduleRelease": _c("Fixer la date de libération", A),
    "RecordTreatmentToContinue": _c("Enregistrer un traitement à poursuivre", M),
    "PlanTreatmentFollowUp": _c("Planifier le suivi d'un traitement", M),
    "HandOverTreatment": _c("Transmettre un traitement", M),
    "RecordRelease": _c("Enregistrer la libération", A),
    "ScheduleDischarge": _c("Fixer la date de sortie de maternité", A),
    "RegisterNewborn": _c("Enregistrer une naissance", M),
    "LinkPmi": _c("Faire le lien avec la PMI", S),
    "RecordDischarge": _c("Enregistrer la sortie de maternité", A),
    "AssessAdministrativeSituation": _c("Évaluer la situation administrative", A),
    "FlagTbScreeningNeed": _c("Signaler un dépistage de la tuberculose à prévoir", S),
    "RecordClatScreening": _c("Enregistrer le dépistage CLAT", S),
    "DecideOrientation": _c("Décider l'orientation de sortie du SAS", S),
    "RecordSasExit": _c("Enregistrer la sortie du SAS", S),
    "StartGpSearch": _c("Lancer la recherche d'un médecin traitant", M),
    "OrientToGp": _c("Orienter vers un médecin de ville", M),
    "RecordFollowUpCall": _c("Enregistrer un appel de suivi", M),
    "RecordGpVisitOutcome": _c("Enregistrer le retour de consultation", M),
}


def command_entry(name: str) -> CommandEntry:
    try:
        return COMMANDS[name]
    except KeyError:
        raise UnknownCommand(name) from None


def command_category(name: str, fields: Mapping[str, Any] | Any | None = None) -> Category:
    """The category command `name` writes; `fields` (a mapping or the command model) gives the
    need category of a RecordNeed."""
    entry = command_entry(name)
    if entry.by_need and fields is not None:
        need = fields.get("category") if isinstance(fields, Mapping) else getattr(fields, "category", None)
        if need is not None:
            return need_category(need)
    return entry.category


# --------------------------------------------------------------------------- personal fields
#: The fields of pathway events that identify or describe the person, by name, whatever the
#: event: pseudonymous references (the person's, a newborn's, a GP's, a prescriber's), places
#: (prison, maternity ward, housing place, communes, exit destination), treatments (name,
#: kind), and every free text (descriptions, reasons, details, decisions, alert texts, the
#: refused care, the service seen or oriented to). They are sealed with the person's own key
#: before the event store and Kafka (infra/keystore.py), so that destroying that key erases
#: them everywhere at once. What stays in clear is the structure the indicators and the
#: disclosure rules need: ids, dates, enums (need category, rule, severity, outcome), agencies.
PERSONAL_FIELDS: frozenset[str] = frozenset({
    "person_ref", "newborn_ref", "gp_ref", "prescribed_by",
    "prison", "maternity_ward", "place", "commune", "gp_commune", "destination",
    "name", "kind", "care", "service", "language", "languages",
    "description", "reason", "detail", "decisions", "suggested_action",
    "from_high_tb_endemicity", "follow_up_needed",
    "collected_by",  # the professional who collected a consent: a professional id, as actor.professional
})
#: The personal fields of the `actor` of every event: the professional's id (the agency and
#: role stay in clear: they are the structure of who may see what).
PERSONAL_ACTOR_FIELDS: frozenset[str] = frozenset({"professional"})
ACTOR = "actor"


def split_personal(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """`(rest, personal)`: the event's fields without its personal ones, and those (the actor's
    as `actor.<field>`). Pure; `merge_personal` undoes it."""
    rest: dict[str, Any] = {}
    personal: dict[str, Any] = {}
    for name, value in data.items():
        if name in PERSONAL_FIELDS:
            personal[name] = value
        elif name == ACTOR and isinstance(value, Mapping):
            rest[name] = {k: v for k, v in value.items() if k not in PERSONAL_ACTOR_FIELDS}
            personal.update({f"{ACTOR}.{k}": v for k, v in value.items() if k in PERSONAL_ACTOR_FIELDS})
        else:
            rest[name] = value
    return rest, personal


def merge_personal(rest: Mapping[str, Any], personal: Mapping[str, Any]) -> dict[str, Any]:
    """The event's fields with its personal ones put back (None for each erased one)."""
    out = dict(rest)
    for name, value in personal.items():
        head, _, sub = name.partition(".")
        if sub and head == ACTOR and isinstance(out.get(ACTOR), Mapping):
            out[ACTOR] = {**out[ACTOR], sub: value}
        else:
            out[name] = value
    return out
