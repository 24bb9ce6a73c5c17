"""From a pathway read in the event store to what one caller may see of it.

`pathway_view(history, principal, ...)` builds the whole GraphQL object, then hands it to
gateway.permissions (the one place deciding) to null what the caller may not see. The
timeline is built on demand (its own resolver), through the same decision and redaction.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any
from uuid import UUID

import strawberry

from domain.values import (
    OPEN_ALERT_STATUSES,
    AlertSeverity,
    AlertStatus,
    InformationCategory,
    NeedCategory,
    NeedStatus,
    ParticipantRole,
)
from gateway import permissions as p
from gateway import types as t
from gateway.store import History

I, S, A, M = (InformationCategory.IDENTITY, InformationCategory.SOCIAL, InformationCategory.ADMINISTRATIVE,
              InformationCategory.MEDICAL)

NEED_CATEGORY = {
    NeedCategory.HOUSING: S, NeedCategory.HEALTH_COVERAGE: A, NeedCategory.CARE: M, NeedCategory.INTERPRETING: S,
    NeedCategory.ADDICTION: M, NeedCategory.MENTAL_HEALTH: M, NeedCategory.SCREENING: M,
    NeedCategory.MATERNAL_CHILD: M, NeedCategory.ADMINISTRATIVE: A, NeedCategory.OTHER: S,
}

RULES: dict[str, tuple[str, InformationCategory]] = {
    "exit-without-housing": ("Sortie sans hébergement confirmé", S),
    "rights-not-open": ("Droits santé non ouverts", A),
    "interpreter-missing": ("Interprète non réservé", M),
    "referral-unverified": ("Orientation sans retour", S),
    "missed-appointment-unfollowed": ("Rendez-vous manqué sans suite", M),
    "contact-lost": ("Contact perdu", I),
    "referral-declined": ("Orientation refusée", S),
    "treatment-continuity": ("Continuité du traitement", M),
    "newborn-without-follow-up": ("Nouveau-né sans suivi", M),
    "screening-overdue": ("Dépistage en retard", M),
    "stalled": ("Parcours à l'arrêt", S),
    "consent-missing": ("Consentement manquant", A),
    "care-refused": ("Soin refusé", M),
}

#: Event type -> (French label, category). Unknown types are treated as medical (the safest).
EVENTS: dict[str, tuple[str, InformationCategory]] = {
    "DetentionPathwayOpened": ("Parcours sortie de détention ouvert", I),
    "MaternityPathwayOpened": ("Parcours sortie de maternité ouvert", I),
    "SasPathwayOpened": ("Parcours arrivée en SAS ouvert", I),
    "PassGpPathwayOpened": ("Parcours relais PASS → médecin de ville ouvert", I),
    "AgencyJoined": ("Structure ajoutée au parcours", A), "AgencyLeft": ("Structure retirée du parcours", A),
    "ConsentGranted": ("Consentement au partage donné", A), "ConsentWithdrawn": ("Consentement retiré", A),
    "NeedRecorded": ("Besoin identifié", S), "NeedMet": ("Besoin couvert", S),
    "ReferralMade": ("Orientation", S), "ReferralStatusChanged": ("Statut d'orientation modifié", S),
    "ReferralOutcomeRecorded": ("Retour d'orientation", S),
    "InterpreterNeedRecorded": ("Besoin d'interprète", S),
    "AppointmentBooked": ("Rendez-vous pris", M), "InterpreterBooked": ("Interprète réservé", M),
    "AppointmentSeen": ("Rendez-vous honoré", M), "AppointmentMissed": ("Rendez-vous manqué", M),
    "AppointmentExcused": ("Rendez-vous excusé", M), "AppointmentCancelled": ("Rendez-vous annulé", M),
    "CoverageApplied": ("Demande de droits déposée", A), "CoverageOpened": ("Droits ouverts", A),
    "CoverageRenewalFiled": ("Renouvellement déposé", A), "CoverageEnded": ("Droits fermés", A),
    "HousingRequested": ("Demande d'hébergement", S), "HousingOffered": ("Proposition d'hébergement", S),
    "HousingConfirmed": ("Hébergement confirmé", S), "HousingDeclined": ("Hébergement refusé", S),
    "PhoneStatusRecorded": ("Téléphone", I), "ContactAttempted": ("Tentative de contact", I),
    "CaseConferenceHeld": ("Synthèse tenue", S), "ActionAssigned": ("Action assignée", S),
    "ActionCompleted": ("Action réalisée", S),
    "AlertAcknowledged": ("Alerte prise en compte", S), "AlertEscalated": ("Alerte escaladée", S),
    "AlertResolved": ("Alerte levée", S),
    "CareRefused": ("Refus de soin", M),
    "PathwayClosed": ("Parcours clôturé", S), "PathwayReopened": ("Parcours rouvert", S),
    "ReleaseDateSet": ("Date de libération fixée", A), "TreatmentToContinueRecorded": ("Traitement à poursuivre", M),
    "TreatmentFollowUpPlanned": ("Suivi du traitement planifié", M),
    "TreatmentHandedOver": ("Traitement transmis", M), "Released": ("Libération", A),
    "DischargeDateSet": ("Date de sortie de maternité fixée", A), "NewbornRegistered": ("Naissance", M),
    "PmiLinked": ("Lien PMI", M), "Discharged": ("Sortie de maternité", A),
    "AdministrativeSituationAssessed": ("Situation administrative évaluée", A),
    "TbScreeningNeedFlagged": ("Dépistage tuberculose à prévoir", M), "ClatScreeningDone": ("Dépistage CLAT", M),
    "OrientationDecided": ("Orientation de sortie décidée", S), "SasLeft": ("Sortie du SAS", S),
    "GpSearchStarted": ("Recherche de médecin traitant", M), "OrientedToGp": ("Orientation vers un médecin", M),
    "FollowUpCallMade": ("Appel de suivi", M), "GpVisitOutcomeRecorded": ("Retour de consultation", M),
}
LIBRARY_FIELDS = {"originator_id", "originator_version", "timestamp", "actor", "occurred_at", "originator_topic"}


#: Alerts whose subject, not their rule, says what they reveal: a newborn's missing housing is a
#: social fact the SIAO must read to act on it, its missing PMI link a medical one.
SUBJECT_CATEGORY: dict[str, InformationCategory] = {"newborn:housing": S}


def alert_category(rule_id: str, subject: str | None = None) -> InformationCategory:
    if subject is not None and subject in SUBJECT_CATEGORY:
        return SUBJECT_CATEGORY[subject]
    return RULES.get(rule_id, ("", M))[1]


def event_label(name: str, rule_id: str | None = None) -> tuple[str, InformationCategory]:
    if name == "AlertRaised":
        label, category = RULES.get(rule_id or "", (rule_id or "Alerte", M))
        return f"Alerte levée : {label}", category
    return EVENTS.get(name, (name, M))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_text(x) for x in value)
    return str(getattr(value, "value", value))


def access_of(pathway: Any) -> p.PathwayAccess:
    return p.PathwayAccess(participants=dict(pathway.participants), consents=dict(pathway.consents))


# --------------------------------------------------------------------------- alerts
def alert_view(alert: Any, pathway_id: UUID, disclosure: p.Disclosure,
               returned: set[InformationCategory] | None = None) -> t.Alert:
    view = t.Alert(
        alert_id=alert.alert_id, pathway_id=pathway_id, info_category=alert_category(alert.rule_id, alert.subject),
        rule_id=alert.rule_id, rule_label=RULES.get(alert.rule_id, (alert.rule_id, M))[0],
        severity=AlertSeverity(alert.severity), status=AlertStatus(alert.status), owner_agency=alert.owner_agency,
        raised_at=_aware(alert.raised_at), subject=alert.subject, suggested_action=alert.suggested_action,
        escalated_to=alert.escalated_to, escalation_reason=alert.escalation_reason,
        resolution_reason=alert.resolution_reason,
        status_changed_at=_aware(alert.status_changed_at) if alert.status_changed_at else None, redactions=[])
    view.redactions = t.as_redactions(p.redact(view, disclosure, t.CATEGORIES, returned))
    return view


# --------------------------------------------------------------------------- timeline
def event_category(event: Any, need_categories: dict[UUID, InformationCategory]) -> tuple[str, InformationCategory]:
    """Label and category of one event; about a need, the need's own category (a need about
    addiction is medical even though needs in general are social)."""
    name = type(event).__name__
    label, category = event_label(name, getattr(event, "rule_id", None))
    if name == "NeedRecorded":
        category = NEED_CATEGORY.get(NeedCategory(event.category), M)
    elif getattr(event, "need_id", None) is not None:
        category = max(category, need_categories.get(event.need_id, category), key=_SENSITIVITY.index)
    return label, category


_SENSITIVITY = [I, A, S, M]


def timeline_entry(event: Any, disclosure: p.Disclosure, returned: set[InformationCategory] | None,
                   need_categories: dict[UUID, InformationCategory] | None = None) -> t.TimelineEntry:
    name = type(event).__name__
    label, category = event_category(event, need_categories or {})
    details = "; ".join(f"{k} : {_text(val)}" for k, val in vars(event).items()
                        if not k.startswith("_") and k not in LIBRARY_FIELDS and val is not None)
    entry = t.TimelineEntry(position=event.originator_version, info_category=category, type=name, label=label,
                            occurred_at=_aware(event.occurred_at), recorded_at=_aware(event.timestamp),
                            agency=event.actor.agency, role=event.actor.role, details=details or None, redactions=[])
    entry.redactions = t.as_redactions(p.redact(entry, disclosure, t.CATEGORIES, returned))
    return entry


# --------------------------------------------------------------------------- the pathway
@strawberry.type(description="Un parcours, tel que votre structure et votre rôle peuvent le voir.")
class Pathway:
    id: UUID
    kind: t.PathwayKind
    territory: str
    lead_agency: str
    state: t.PathwayState
    version: int
    opened_at: datetime
    last_activity_at: datetime
    as_of: datetime | None = strawberry.field(description="Date de l'état montré, si passée (asOf).")
    person_ref: str | None = strawberry.field(description="Référence pseudonyme de la personne [identité].")
    interpreter_language: str | None = strawberry.field(description="Langue d'interprétariat [social].")
    exit_date: date | None = strawberry.field(description="Date de sortie prévue [administratif].")
    exited_on: date | None = strawberry.field(description="Date de sortie effective [administratif].")
    closure_outcome: t.ClosureOutcome | None = strawberry.field(description="Issue de la clôture [social].")
    closure_reason: str | None = strawberry.field(description="Motif de clôture [social].")
    access: t.Access
    participants: list[t.Participant]
    consents: list[t.Consent] | None = strawberry.field(description="Consentements de la personne [administratif].")
    needs: list[t.Need]
    referrals: list[t.Referral]
    appointments: list[t.Appointment]
    coverage: list[t.Coverage]
    housing_requests: list[t.HousingRequest]
    contact: t.Contact
    case_conferences: list[t.CaseConference]
    actions: list[t.Action]
    alerts: list[t.Alert]
    facts: list[t.Fact]
    redactions: list[t.Redaction] = strawberry.field(description="Champs masqués de cet objet, et pourquoi.")
    _history: strawberry.Private[History]
    _disclosure: strawberry.Private[p.Disclosure]
    _returned: strawberry.Private[set]

    @strawberry.field(description="Besoins encore ouverts.")
    def open_needs(self) -> list[t.Need]:
        return [n for n in self.needs if n.status is NeedStatus.OPEN]

    @strawberry.field(description="Alertes ouvertes (levées, prises en compte ou escaladées).")
    def open_alerts(self) -> list[t.Alert]:
        return [a for a in self.alerts if a.status in OPEN_ALERT_STATUSES]

    @strawberry.field(description="Chronologie inter-structures, plus récent en dernier ; pagination par position.")
    def timeline(self, first: int = 50, after: int | None = None) -> t.TimelineConnection:
        from gateway.hardening import check_page_size

        first = check_page_size(first, "first")
        events = [e for e in self._history.events if after is None or e.originator_version > after]
        page = events[:first]
        needs = {n.need_id: NEED_CATEGORY.get(n.category, S) for n in self._history.pathway.needs.values()}
        entries = [timeline_entry(e, self._disclosure, self._returned, needs) for e in page]
        return t.TimelineConnection(
            entries=entries, total_count=len(self._history.events),
            page_info=t.PageInfo(has_next_page=len(events) > first,
                                 end_cursor=str(page[-1].originator_version) if page else None))


PATHWAY_CATEGORIES = {"person_ref": I, "interpreter_language": S, "exit_date": A, "exited_on": A,
                      "closure_outcome": S, "closure_reason": S, "consents": A}
t.CATEGORIES[Pathway] = PATHWAY_CATEGORIES


def _facts(pathway: Any) -> list[t.Fact]:
    def fact(name: str, label: str, category: InformationCategory, value: Any) -> t.Fact:
        return t.Fact(name=name, label=label, info_category=category,
                      value=None if value is None else _text(value))

    kind = pathway.kind.value
    facts: list[t.Fact] = []
    if kind == "detention":
        facts += [fact("prison", "Établissement pénitentiaire", A, pathway.prison),
                  fact("release_date", "Date de libération", A, pathway.release_date)]
        for tr in pathway.treatments.values():
            facts.append(fact("treatment", "Traitement à poursuivre", M,
                              f"{tr.name} ({_text(tr.kind)}), prescrit par {tr.prescribed_by}"
                              + (f", transmis à {tr.handed_over_to}" if tr.handed_over_to else "")
                              + (", suivi planifié" if tr.follow_up_appointment_id else ", aucun suivi planifié")))
    elif kind == "maternity":
        facts += [fact("maternity_ward", "Maternité", A, pathway.maternity_ward),
                  fact("discharge_date", "Date de sortie", A, pathway.discharge_date),
                  fact("newborn", "Nouveau-né", M, pathway.newborn_ref and f"{pathway.newborn_ref}, né le {pathway.born_on}"),
                  fact("pmi", "PMI", M, pathway.pmi_agency)]
    elif kind == "sas":
        facts += [fact("arrived_on", "Arrivée au SAS", A, pathway.arrived_on),
                  fact("administrative_status", "Situation administrative", A, pathway.administrative_status),
                  fact("tb_screening_needed", "Dépistage tuberculose nécessaire", M, pathway.tb_screening_needed),
                  fact("clat_screened_on", "Dépistage CLAT", M, pathway.clat_screened_on),
                  fact("orientation", "Orientation de sortie", S, pathway.orientation)]
    elif kind == "pass_gp":
        search = pathway.gp_search
        facts.append(fact("gp_search", "Recherche de médecin traitant", M,
                          search and f"{search.commune} ; langues : {', '.join(search.languages) or '—'}"))
        for o in pathway.orientations.values():
            outcome = _text(o.outcome) if o.outcome else "en attente"
            reason = f" ({_text(o.not_went_reason)})" if o.not_went_reason else ""
            facts.append(fact("gp_orientation", "Orientation médecin", M,
                              f"{o.gp_ref} à {o.gp_commune} ; appels : {len(o.calls)} ; issue : {outcome}{reason}"))
    return facts


def pathway_view(history: History, principal: p.Principal, as_of: datetime | None = None,
                 current: Any = None) -> Pathway | None:
    """None when the caller's agency does not take part in the pathway (it does not exist for it).

    For a past state (`as_of`), `current` is the pathway as it is now: membership and consent
    are decided on it, so a withdrawn consent or a departed agency also hides the past."""
    pw = history.pathway
    disclosure = p.decide(principal, access_of(current if current is not None else pw))
    if not disclosure.can_see_pathway:
        return None
    returned: set[InformationCategory] = set()
    need_cat = {n.need_id: NEED_CATEGORY.get(n.category, S) for n in pw.needs.values()}
    view = Pathway(
        id=pw.id, kind=pw.kind, territory=pw.territory, lead_agency=pw.lead_agency,
        state=t.PathwayState.CLOSED if pw.is_closed else t.PathwayState.OPEN, version=pw.version,
        opened_at=_aware(pw.opened_at), last_activity_at=_aware(pw.last_activity_at), as_of=as_of,
        person_ref=pw.person_ref, interpreter_language=pw.interpreter_language, exit_date=pw.exit_date,
        exited_on=pw.exited_on, closure_outcome=pw.closure_outcome, closure_reason=pw.closure_reason,
        access=t.Access(membership=disclosure.membership, visible_categories=sorted(disclosure.visible),
                        hidden_categories=sorted(disclosure.hidden)),
        participants=[t.Participant(agency=a, role=ParticipantRole(r), in_care_team=ParticipantRole(r) in p.CARE_TEAM_ROLES)
                      for a, r in sorted(pw.participants.items())],
        consents=[t.Consent(agency=a, categories=list(c)) for a, c in sorted(pw.consents.items())],
        needs=[t.Need(need_id=n.need_id, info_category=NEED_CATEGORY.get(n.category, S), category=n.category,
                      description=n.description, status=n.status, recorded_at=_aware(n.recorded_at),
                      recorded_by=n.recorded_by, met_at=n.met_at and _aware(n.met_at)) for n in pw.needs.values()],
        referrals=[t.Referral(referral_id=r.referral_id, info_category=need_cat.get(r.need_id, S), to_agency=r.to_agency,
                              service=r.service, status=r.status, status_reason=r.status_reason,
                              made_at=_aware(r.made_at), made_by=r.made_by, need_id=r.need_id, outcome=r.outcome,
                              outcome_reason=r.outcome_reason, outcome_at=r.outcome_at and _aware(r.outcome_at))
                   for r in pw.referrals.values()],
        appointments=[t.Appointment(appointment_id=ap.appointment_id, info_category=M, with_agency=ap.with_agency,
                                    service=ap.service, scheduled_at=_aware(ap.scheduled_at), status=ap.status,
                                    interpreter_needed=ap.interpreter_needed, language=ap.language,
                                    interpreter_booked=ap.interpreter_booked, status_reason=ap.status_reason)
                      for ap in pw.appointments.values()],
        coverage=[t.Coverage(scheme=c.scheme, status=c.status, applied_on=c.applied_on, opened_on=c.opened_on,
                             expires_on=c.expires_on, renewal_filed_on=c.renewal_filed_on) for c in pw.coverage.values()],
        housing_requests=[t.HousingRequest(request_id=h.request_id, via_agency=h.via_agency, status=h.status,
                                           needed_from=h.needed_from, place=h.offer_place,
                                           available_on=h.offer_available_on, decline_reason=h.decline_reason)
                          for h in pw.housing_requests.values()],
        contact=t.Contact(phone=pw.contact.phone, failed_attempts=pw.contact.failed_attempts,
                          last_attempt_at=pw.contact.last_attempt_at and _aware(pw.contact.last_attempt_at),
                          last_reached_at=pw.contact.last_reached_at and _aware(pw.contact.last_reached_at)),
        case_conferences=[t.CaseConference(conference_id=c.conference_id, held_at=_aware(c.held_at),
                                           agencies=list(c.agencies), decisions=list(c.decisions))
                          for c in pw.case_conferences.values()],
        actions=[t.Action(action_id=a.action_id, conference_id=a.conference_id, owner_agency=a.owner_agency,
                          description=a.description, due_on=a.due_on, done=a.done, done_at=a.done_at and _aware(a.done_at))
                 for a in pw.actions.values()],
        alerts=[], facts=_facts(pw), redactions=[],
        _history=history, _disclosure=disclosure, _returned=returned,
    )
    hidden = p.redact(view, disclosure, t.CATEGORIES, returned)
    view.alerts = [alert_view(a, pw.id, disclosure, returned) for a in pw.alerts.values()]
    view.redactions = t.as_redactions(hidden)
    return view

