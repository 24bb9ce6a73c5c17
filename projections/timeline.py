"""Cross-agency timeline: one row per pathway event, labelled in French and tagged with the
information category of its content, so that the gateway shows each agency only what its
role and the person's consent allow.

``timeline`` — event_id (the CloudEvent id), pathway_id, seq (version in the pathway),
event_type (``NeedRecorded``), event_version, occurred_at (when it happened),
recorded_at (when it was recorded), agency, professional, role (who), category
(``identity`` / ``social`` / ``administrative`` / ``medical``), label (one French line).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from projections.base import PathwayEvent, Projection, Statement, Table

IDENTITY, SOCIAL, ADMINISTRATIVE, MEDICAL = "identity", "social", "administrative", "medical"

KIND_FR = {"detention": "sortie de détention", "maternity": "sortie de maternité", "sas": "arrivée en SAS",
           "pass_gp": "relais PASS → médecin traitant"}
NEED_FR = {"housing": "hébergement", "health_coverage": "couverture santé", "care": "soins",
           "interpreting": "interprétariat", "addiction": "addictologie", "mental_health": "santé mentale",
           "screening": "dépistage", "maternal_child": "suivi mère-enfant", "administrative": "démarches administratives",
           "other": "autre"}
NEED_CATEGORY = {"housing": SOCIAL, "health_coverage": ADMINISTRATIVE, "administrative": ADMINISTRATIVE,
                 "interpreting": SOCIAL, "other": SOCIAL}  # the rest (care, addiction...) is medical
REFERRAL_STATUS_FR = {"draft": "brouillon", "requested": "demandée", "accepted": "acceptée", "rejected": "refusée",
                      "cancelled": "annulée", "in-progress": "en cours", "on-hold": "en attente",
                      "failed": "échouée", "completed": "réalisée"}
COVERAGE_FR = {"puma": "PUMa", "css": "CSS", "ame": "AME", "soins_urgents": "soins urgents et vitaux"}
PHONE_FR = {"valid": "valide", "changed": "a changé", "lost": "plus de téléphone"}
ADMIN_FR = {"regular": "situation régulière", "asylum_seeker": "demandeur d'asile", "refugee": "réfugié",
            "undocumented": "sans titre de séjour", "unknown": "situation inconnue"}
OUTCOME_FR = {"handed_over": "relais effectué", "housed": "hébergé", "transferred": "transféré",
              "lost_to_follow_up": "perdu de vue", "refused": "accompagnement refusé", "deceased": "décès",
              "other": "autre"}
SEVERITY_FR = {"low": "faible", "medium": "moyenne", "high": "élevée", "critical": "critique"}
ALERT_RULE_CATEGORY = {"rights-not-open": ADMINISTRATIVE, "interpreter-missing": MEDICAL,
                       "missed-appointment-unfollowed": MEDICAL, "treatment-continuity": MEDICAL,
                       "screening-overdue": MEDICAL, "care-refused": MEDICAL}
NOT_WENT_FR = {"phone_changed": "numéro de téléphone changé", "address_not_found": "adresse non trouvée",
               "gp_not_taking_patients": "le médecin ne prend plus de patients", "no_interpreter": "pas d'interprète",
               "schedule_unsuitable": "horaire ne convient pas", "found_closer_gp": "a trouvé un médecin plus proche",
               "afraid_paper_certificate": "peur d'y aller avec une attestation papier",
               "transport_strike": "grève des transports", "changed_mind": "a changé d'avis", "other": "autre"}


def _d(value: Any) -> str:
    """A date or instant as French short date (JJ/MM/AAAA)."""
    if not value:
        return "?"
    text = str(value)[:10]
    y, m, d = text.split("-")
    return f"{d}/{m}/{y}"


SOCIAL_TARGETS = ("siao", "115", "héberg", "heberg", "logement", "cada", "huda", "chrs", "lhss", "association",
                  "domiciliation", "accueil de jour", "ccas")
ADMINISTRATIVE_TARGETS = ("cpam", "caf", "préfecture", "prefecture", "ofii", "droits", "france travail", "mairie")


def _referral(e: PathwayEvent) -> tuple[str, str]:
    """A referral names the service it goes to, which often says what care the person needs
    (CSAPA, CMP, CeGIDD...): medical unless the target is plainly a housing/social or an
    administrative service (secret professionnel partagé: when in doubt, the narrower category)."""
    target = f"{e.get('to_agency') or ''} {e.get('service') or ''}".lower()
    if any(k in target for k in SOCIAL_TARGETS):
        category = SOCIAL
    elif any(k in target for k in ADMINISTRATIVE_TARGETS):
        category = ADMINISTRATIVE
    else:
        category = MEDICAL
    return category, f"Orientation vers {e.get('to_agency')} ({e.get('service')})"


def _opened(e: PathwayEvent) -> tuple[str, str]:
    return IDENTITY, f"Parcours ouvert ({KIND_FR.get(e.kind or '', e.kind)}) par {e.get('lead_agency')}"


Label = Callable[[PathwayEvent], tuple[str, str]]

LABELS: dict[str, Label] = {
    "DetentionPathwayOpened": _opened,
    "MaternityPathwayOpened": _opened,
    "SasPathwayOpened": _opened,
    "PassGpPathwayOpened": _opened,
    "AgencyJoined": lambda e: (SOCIAL, f"{e.get('agency')} rejoint le parcours"),
    "AgencyLeft": lambda e: (SOCIAL, f"{e.get('agency')} quitte le parcours"),
    "ConsentGranted": lambda e: (ADMINISTRATIVE, f"Consentement au partage donné pour {e.get('agency')}"),
    "ConsentWithdrawn": lambda e: (ADMINISTRATIVE, f"Consentement au partage retiré pour {e.get('agency')}"),
    "NeedRecorded": lambda e: (NEED_CATEGORY.get(e.get("category"), MEDICAL),
                               f"Besoin identifié : {NEED_FR.get(e.get('category'), e.get('category'))}"),
    "NeedMet": lambda e: (SOCIAL, "Besoin couvert"),
    "ReferralMade": _referral,
    "ReferralStatusChanged": lambda e: (
        SOCIAL, f"Orientation {REFERRAL_STATUS_FR.get(e.get('status'), e.get('status'))}"),
    "ReferralOutcomeRecorded": lambda e: (
        SOCIAL, "Orientation honorée" if e.get("outcome") == "honoured" else "Orientation non honorée"),
    "InterpreterNeedRecorded": lambda e: (
        SOCIAL, f"Besoin d'interprète : {e.get('language')}" if e.get("language") else "Plus besoin d'interprète"),
    "AppointmentBooked": lambda e: (MEDICAL, f"Rendez-vous pris avec {e.get('with_agency')} le {_d(e.get('scheduled_at'))}"),
    "InterpreterBooked": lambda e: (SOCIAL, f"Interprète réservé ({e.get('provider')})"),
    "AppointmentSeen": lambda e: (MEDICAL, "Rendez-vous honoré"),
    "AppointmentMissed": lambda e: (MEDICAL, "Rendez-vous manqué"),
    "AppointmentExcused": lambda e: (MEDICAL, "Rendez-vous excusé"),
    "AppointmentCancelled": lambda e: (MEDICAL, "Rendez-vous annulé"),
    "CoverageApplied": lambda e: (ADMINISTRATIVE, f"Demande de {COVERAGE_FR.get(e.get('scheme'), e.get('scheme'))} déposée"),
    "CoverageOpened": lambda e: (ADMINISTRATIVE, f"Droits {COVERAGE_FR.get(e.get('scheme'), e.get('scheme'))} ouverts"
                                 + (f" jusqu'au {_d(e.get('expires_on'))}" if e.get("expires_on") else "")),
    "CoverageRenewalFiled": lambda e: (ADMINISTRATIVE, f"Renouvellement {COVERAGE_FR.get(e.get('scheme'), e.get('scheme'))} déposé"),
    "CoverageEnded": lambda e: (ADMINISTRATIVE, f"Fin des droits {COVERAGE_FR.get(e.get('scheme'), e.get('scheme'))}"),
    "HousingRequested": lambda e: (SOCIAL, f"Demande d'hébergement auprès de {e.get('via_agency')}"),
    "HousingOffered": lambda e: (SOCIAL, f"Place proposée : {e.get('place')} à partir du {_d(e.get('available_on'))}"),
    "HousingConfirmed": lambda e: (SOCIAL, "Hébergement confirmé"),
    "HousingDeclined": lambda e: (SOCIAL, "Proposition d'hébergement refusée"),
    "PhoneStatusRecorded": lambda e: (IDENTITY, f"Téléphone : {PHONE_FR.get(e.get('status'), e.get('status'))}"),
    "ContactAttempted": lambda e: (SOCIAL, "Personne jointe" if e.get("reached") else "Tentative de contact sans réponse"),
    "CaseConferenceHeld": lambda e: (SOCIAL, f"Synthèse tenue ({len(e.get('agencies') or [])} structures)"),
    "ActionAssigned": lambda e: (SOCIAL, f"Action confiée à {e.get('owner_agency')} pour le {_d(e.get('due_on'))}"),
    "ActionCompleted": lambda e: (SOCIAL, "Action réalisée"),
    "AlertRaised": lambda e: (ALERT_RULE_CATEGORY.get(e.get("rule_id"), SOCIAL),
                              f"Alerte « {e.get('rule_id')} » ({SEVERITY_FR.get(e.get('severity'), e.get('severity'))}) "
                              f"pour {e.get('owner_agency')}"),
    "AlertAcknowledged": lambda e: (SOCIAL, "Alerte prise en compte"),
    "AlertEscalated": lambda e: (SOCIAL, f"Alerte remontée à {e.get('to_agency')}"),
    "AlertResolved": lambda e: (SOCIAL, "Alerte levée"),
    "CareRefused": lambda e: (MEDICAL, f"Soin refusé par la personne : {e.get('care')} (proposé par {e.get('proposed_by')})"),
    "PathwayClosed": lambda e: (SOCIAL, f"Parcours clos : {OUTCOME_FR.get(e.get('outcome'), e.get('outcome'))}"),
    "PathwayReopened": lambda e: (SOCIAL, "Parcours rouvert"),
    # detention
    "ReleaseDateSet": lambda e: (ADMINISTRATIVE, f"Date de libération fixée au {_d(e.get('release_date') or e.get('new_date'))}"),
    "TreatmentToContinueRecorded": lambda e: (MEDICAL, "Traitement à poursuivre après la sortie"),
    "TreatmentFollowUpPlanned": lambda e: (MEDICAL, "Suite du traitement programmée après la sortie"),
    "TreatmentHandedOver": lambda e: (MEDICAL, f"Traitement transmis à {e.get('to_agency')}"),
    "Released": lambda e: (ADMINISTRATIVE, f"Libération le {_d(e.get('released_on'))}"),
    # maternity
    "DischargeDateSet": lambda e: (MEDICAL, f"Sortie de maternité prévue le {_d(e.get('discharge_date'))}"),
    "NewbornRegistered": lambda e: (IDENTITY, f"Naissance le {_d(e.get('born_on'))}"),
    "PmiLinked": lambda e: (MEDICAL, f"Lien avec la PMI {e.get('pmi_agency')}"),
    "Discharged": lambda e: (MEDICAL, f"Sortie de maternité le {_d(e.get('discharged_on'))}"),
    # sas
    "AdministrativeSituationAssessed": lambda e: (
        ADMINISTRATIVE, f"Situation administrative : {ADMIN_FR.get(e.get('status'), e.get('status'))}"),
    "TbScreeningNeedFlagged": lambda e: (MEDICAL, "Dépistage de la tuberculose à prévoir"),
    "ClatScreeningDone": lambda e: (MEDICAL, f"Dépistage CLAT réalisé le {_d(e.get('screened_on'))}"),
    "OrientationDecided": lambda e: (SOCIAL, f"Orientation décidée : {e.get('destination')}"),
    "SasLeft": lambda e: (SOCIAL, f"Départ du SAS le {_d(e.get('left_on'))} vers {e.get('destination')}"),
    # pass -> gp
    "GpSearchStarted": lambda e: (SOCIAL, f"Recherche d'un médecin traitant ({e.get('commune')})"),
    "OrientedToGp": lambda e: (MEDICAL, f"Orientation vers le médecin {e.get('gp_ref')} ({e.get('gp_commune')})"),
    "FollowUpCallMade": lambda e: (SOCIAL, "Appel de suivi : personne jointe" if e.get("reached")
                                   else "Appel de suivi : sans réponse"),
    "GpVisitOutcomeRecorded": lambda e: (
        MEDICAL, "Consultation chez le médecin traitant effectuée" if e.get("outcome") == "went"
        else f"Pas allé chez le médecin : {NOT_WENT_FR.get(e.get('reason'), e.get('reason') or 'raison inconnue')}"),
}


def label(event: PathwayEvent) -> tuple[str, str]:
    """(information category, French one-line label) of an event."""
    make = LABELS.get(event.name)
    if make is None:
        return SOCIAL, f"Événement {event.name}"
    return make(event)


class Timeline(Projection):
    name = "timeline"
    title = "Fil chronologique inter-structures (un événement par ligne, catégorie d'information)"
    tables = (
        Table(
            "timeline",
            "event_id TEXT NOT NULL, pathway_id TEXT NOT NULL, seq BIGINT NOT NULL, "
            "event_type TEXT NOT NULL, event_version BIGINT NOT NULL, occurred_at TEXT NOT NULL, "
            "recorded_at TEXT NOT NULL, agency TEXT, professional TEXT, role TEXT, category TEXT NOT NULL, "
            "label TEXT NOT NULL",
            ("event_id",),
            (("pathway_id", "seq"),),
        ),
    )

    def apply(self, event: PathwayEvent) -> list[Statement]:
        category, text = label(event)
        return [
            Statement(
                f"INSERT INTO {self.t['timeline']} (event_id, pathway_id, seq, event_type, event_version, "
                "occurred_at, recorded_at, agency, professional, role, category, label) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
                (event.id, event.pathway_id, event.seq, event.name, event.version, event.occurred_at,
                 event.recorded_at, event.agency, event.professional, event.role, category, text),
            )
        ]
