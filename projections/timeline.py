"""Cross-agency timeline: one row per pathway event, labelled in French and tagged with the
information category of its content, so that the gateway shows each agency only what its
role and the person's consent allow.

``timeline`` — event_id (the CloudEvent id), pathway_id, seq (version in the pathway),
event_type (``NeedRecorded``), event_version, occurred_at (when it happened),
recorded_at (when it was recorded), agency, professional, role (who), category
(``identity`` / ``social`` / ``administrative`` / ``medical``), label (one French line).

``timeline_subjects`` — pathway_id, subject_id, category: the needs, referrals, alerts and GP
orientations recorded so far, so that a later event naming one (``NeedMet``, ``AlertResolved``...)
takes its category, as the disclosure catalogue says (:class:`domain.disclosure.Subjects` does
the same in memory, for the gateway).

The category of every row is the disclosure catalogue's (``domain.disclosure``): the gateway and
this read model cannot disagree. The label is the catalogue's plain label unless a sentence
below says more. An event type the catalogue does not know is refused (``NotAPathwayEvent``: the
runner dead-letters it with the reason), never given a default category.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain import disclosure as catalogue
from domain.errors import NotInCatalogue
from domain.values import ConsentInformation
from infra.agencies import display_name as _n
from projections.base import NotAPathwayEvent, PathwayEvent, Projection, Statement, Table

KIND_FR = {"detention": "sortie de détention", "maternity": "sortie de maternité", "sas": "arrivée en SAS",
           "pass_gp": "relais PASS → médecin traitant"}
NEED_FR = {"housing": "hébergement", "health_coverage": "couverture santé", "care": "soins",
           "interpreting": "interprétariat", "addiction": "addictologie", "mental_health": "santé mentale",
           "screening": "dépistage", "maternal_child": "suivi mère-enfant", "administrative": "démarches administratives",
           "other": "autre"}
REFERRAL_STATUS_FR = catalogue.REFERRAL_STATUS_LABELS
COVERAGE_FR = {"puma": "PUMa", "css": "CSS", "ame": "AME", "soins_urgents": "soins urgents et vitaux"}
PHONE_FR = {"valid": "valide", "changed": "a changé", "lost": "plus de téléphone"}
ADMIN_FR = {"regular": "situation régulière", "asylum_seeker": "demandeur d'asile", "refugee": "réfugié",
            "undocumented": "sans titre de séjour", "unknown": "situation inconnue"}
OUTCOME_FR = catalogue.CLOSURE_OUTCOME_LABELS
CONSENT_INFORMATION_FR = {i.value: i.label for i in ConsentInformation}
SEVERITY_FR = catalogue.SEVERITY_LABELS
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


def _opened(e: PathwayEvent) -> str:
    return f"Parcours ouvert ({KIND_FR.get(e.kind or '', e.kind)}) par {_n(e.get('lead_agency'))}"


def _proof(e: PathwayEvent) -> str:
    """How the person's choice was collected (events from before the proof have none)."""
    informed = e.get("informed_by")
    if not informed:
        return ""
    return f" ({catalogue.value_label(CONSENT_INFORMATION_FR, informed)}, recueilli par {e.get('collected_by')})"


def _scheme(e: PathwayEvent) -> str:
    return COVERAGE_FR.get(e.get("scheme"), e.get("scheme"))


#: The sentence of an event type, where it says more than the catalogue's plain label.
Label = Callable[[PathwayEvent], str]

LABELS: dict[str, Label] = {
    "DetentionPathwayOpened": _opened,
    "MaternityPathwayOpened": _opened,
    "SasPathwayOpened": _opened,
    "PassGpPathwayOpened": _opened,
    "AgencyJoined": lambda e: f"{_n(e.get('agency'))} rejoint le parcours",
    "AgencyLeft": lambda e: f"{_n(e.get('agency'))} quitte le parcours",
    "LeadHandedOver": lambda e: f"{_n(e.get('from_agency'))} passe la main à {_n(e.get('agency'))} (référente)",
    "ConsentGranted": lambda e: f"Consentement au partage donné pour {_n(e.get('agency'))}{_proof(e)}",
    "ConsentWithdrawn": lambda e: f"Consentement au partage retiré pour {_n(e.get('agency'))}{_proof(e)}",
    "ObjectionRecorded": lambda e: f"Opposition de la personne au partage avec {_n(e.get('agency'))}{_proof(e)}",
    # The reason is shown to the lead agency and the DPO only (emergencyAccesses), never here.
    "EmergencyAccessOpened": lambda e: f"Accès d'urgence (bris de glace) ouvert par {_n(e.agency)}",
    "NeedRecorded": lambda e: f"Besoin identifié : {NEED_FR.get(e.get('category'), e.get('category'))}",
    "ReferralMade": lambda e: f"Orientation vers {_n(e.get('to_agency'))} ({e.get('service')})",
    "ReferralStatusChanged": lambda e: f"Orientation {REFERRAL_STATUS_FR.get(e.get('status'), e.get('status'))}",
    "ReferralOutcomeRecorded": lambda e: (
        "Orientation honorée" if e.get("outcome") == "honoured" else "Orientation non honorée"),
    "InterpreterNeedRecorded": lambda e: (
        f"Besoin d'interprète : {e.get('language')}" if e.get("language") else "Plus besoin d'interprète"),
    "AppointmentBooked": lambda e: f"Rendez-vous pris avec {_n(e.get('with_agency'))} le {_d(e.get('scheduled_at'))}",
    "InterpreterBooked": lambda e: f"Interprète réservé ({_n(e.get('provider'))})",
    "CoverageApplied": lambda e: f"Demande de {_scheme(e)} déposée",
    "CoverageOpened": lambda e: (f"Droits {_scheme(e)} ouverts"
                                 + (f" jusqu'au {_d(e.get('expires_on'))}" if e.get("expires_on") else "")),
    "CoverageRenewalFiled": lambda e: f"Renouvellement {_scheme(e)} déposé",
    "CoverageEnded": lambda e: f"Fin des droits {_scheme(e)}",
    "HousingRequested": lambda e: f"Demande d'hébergement auprès de {_n(e.get('via_agency'))}",
    "HousingOffered": lambda e: f"Place proposée : {e.get('place')} à partir du {_d(e.get('available_on'))}",
    "PhoneStatusRecorded": lambda e: f"Téléphone : {PHONE_FR.get(e.get('status'), e.get('status'))}",
    "ContactAttempted": lambda e: "Personne jointe" if e.get("reached") else "Tentative de contact sans réponse",
    "CaseConferenceHeld": lambda e: f"Synthèse tenue ({len(e.get('agencies') or [])} structures invitées)",
    "ConferencePresenceConfirmed": lambda e: f"{_n(e.get('agency'))} confirme sa présence à la synthèse",
    "ActionAssigned": lambda e: f"Action confiée à {_n(e.get('owner_agency'))} pour le {_d(e.get('due_on'))}",
    "AlertRaised": lambda e: (f"Alerte « {catalogue.rule_label(e.get('rule_id'))} » "
                              f"({SEVERITY_FR.get(e.get('severity'), e.get('severity'))}) pour {_n(e.get('owner_agency'))}"),
    "AlertEscalated": lambda e: f"Alerte remontée à {_n(e.get('to_agency'))}",
    "AlertUpdated": lambda e: (f"Alerte mise à jour ({SEVERITY_FR.get(e.get('severity'), e.get('severity'))}) "
                               f"pour {_n(e.get('owner_agency'))}"),
    "AlertDismissed": lambda e: ("Alerte classée sans suite : "
                                 f"{catalogue.value_label(catalogue.DISMISSAL_REASON_LABELS, e.get('reason'))}"),
    "CareRefused": lambda e: f"Soin refusé par la personne : {e.get('care')} (proposé par {_n(e.get('proposed_by'))})",
    "PathwayClosed": lambda e: f"Parcours clos : {OUTCOME_FR.get(e.get('outcome'), e.get('outcome'))}",
    # detention
    "ReleaseDateSet": lambda e: f"Date de libération fixée au {_d(e.get('release_date') or e.get('new_date'))}",
    "TreatmentHandedOver": lambda e: f"Traitement transmis à {_n(e.get('to_agency'))}",
    "Released": lambda e: f"Libération le {_d(e.get('released_on'))}",
    # maternity
    "DischargeDateSet": lambda e: f"Sortie de maternité prévue le {_d(e.get('discharge_date'))}",
    "NewbornRegistered": lambda e: f"Naissance le {_d(e.get('born_on'))}",
    "PmiLinked": lambda e: f"Lien fait avec {_n(e.get('pmi_agency'))}",
    "Discharged": lambda e: f"Sortie de maternité le {_d(e.get('discharged_on'))}",
    # sas
    "AdministrativeSituationAssessed": lambda e: (
        f"Situation administrative : {ADMIN_FR.get(e.get('status'), e.get('status'))}"),
    "ClatScreeningDone": lambda e: f"Dépistage CLAT réalisé le {_d(e.get('screened_on'))}",
    "OrientationDecided": lambda e: f"Orientation décidée : {e.get('destination')}",
    "SasLeft": lambda e: f"Départ du SAS le {_d(e.get('left_on'))} vers {e.get('destination')}",
    # pass -> gp
    "GpSearchStarted": lambda e: f"Recherche d'un médecin traitant ({e.get('commune')})",
    "OrientedToGp": lambda e: f"Orientation vers le médecin {e.get('gp_ref')} ({e.get('gp_commune')})",
    "FollowUpCallMade": lambda e: "Appel de suivi : personne jointe" if e.get("reached") else "Appel de suivi : sans réponse",
    "GpVisitOutcomeRecorded": lambda e: (
        "Consultation chez le médecin traitant effectuée" if e.get("outcome") == "went"
        else f"Pas allé chez le médecin : {NOT_WENT_FR.get(e.get('reason'), e.get('reason') or 'raison inconnue')}"),
}


def label(event: PathwayEvent) -> str:
    """The French one-line label of an event (UnknownEventType if the catalogue does not know it)."""
    make = LABELS.get(event.name)
    return make(event) if make is not None else catalogue.event_label(event.name, event.data)


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
        Table(
            "timeline_subjects",
            "pathway_id TEXT NOT NULL, subject_id TEXT NOT NULL, category TEXT NOT NULL",
            ("pathway_id", "subject_id"),
        ),
    )

    def _category(self, event: PathwayEvent) -> tuple[str, tuple[Any, ...]]:
        """SQL for the row's category, and its parameters: catalogue.event_category, with the
        subjects read from ``timeline_subjects`` instead of memory."""
        own = catalogue.own_category(event.name, event.data)
        about = catalogue.subject_about(event.name, event.data)
        higher = catalogue.more_sensitive_than(own)
        if about is None or not higher:
            return "%s", (own.value,)
        unknown = catalogue.most_sensitive(own, catalogue.UNKNOWN_SUBJECT)
        wins = ", ".join(["%s"] * len(higher))
        return (f"COALESCE((SELECT CASE WHEN s.category IN ({wins}) THEN s.category ELSE %s END "
                f"FROM {self.t['timeline_subjects']} s WHERE s.pathway_id = %s AND s.subject_id = %s), %s)",
                (*(c.value for c in higher), own.value, event.pathway_id, about, unknown.value))

    def apply(self, event: PathwayEvent) -> list[Statement]:
        try:
            category_sql, category_params = self._category(event)
            recorded = catalogue.subject_recorded(event.name, event.data)
            text = label(event)
        except NotInCatalogue as unknown:
            raise NotAPathwayEvent(f"timeline: {unknown.reason}") from None
        statements = [
            Statement(
                f"INSERT INTO {self.t['timeline']} (event_id, pathway_id, seq, event_type, event_version, "
                "occurred_at, recorded_at, agency, professional, role, category, label) "
                f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, {category_sql}, %s) ON CONFLICT (event_id) DO NOTHING",
                (event.id, event.pathway_id, event.seq, event.name, event.version, event.occurred_at,
                 event.recorded_at, event.agency, event.professional, event.role, *category_params, text),
            )
        ]
        if recorded is not None:
            # The subject's category is the row's, as just computed (first recording wins).
            statements.append(Statement(
                f"INSERT INTO {self.t['timeline_subjects']} (pathway_id, subject_id, category) "
                f"SELECT pathway_id, %s, category FROM {self.t['timeline']} WHERE event_id = %s "
                "ON CONFLICT (pathway_id, subject_id) DO NOTHING",
                (recorded, event.id),
            ))
        return statements
