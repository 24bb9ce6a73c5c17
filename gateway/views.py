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

from domain import disclosure as catalogue
from domain.errors import NotInCatalogue
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

LIBRARY_FIELDS = {"originator_id", "originator_version", "timestamp", "actor", "occurred_at", "originator_topic"}

# Categories and labels are the disclosure catalogue's (domain.disclosure); these wrappers turn a
# name it does not know into a clear GraphQL error instead of a default.


def _catalogued(lookup: Any, *args: Any) -> Any:
    from gateway.hardening import PublicError

    try:
        return lookup(*args)
    except NotInCatalogue as unknown:
        raise PublicError(unknown.reason, "NOT_IN_CATALOGUE") from None


def need_category(category: NeedCategory | str) -> InformationCategory:
    return _catalogued(catalogue.need_category, category)


def alert_category(rule_id: str, subject: str | None = None) -> InformationCategory:
    return _catalogued(catalogue.alert_category, rule_id, subject)


def event_category(event: Any, subjects: catalogue.Subjects) -> tuple[str, InformationCategory]:
    """Label and category of one domain event; `subjects` holds what the pathway's earlier
    events recorded (a need about addiction makes its NeedMet medical), and learns this one."""
    name, data = type(event).__name__, catalogue.event_data(event)
    return _catalogued(catalogue.event_label, name, data), _catalogued(subjects.categorise, name, data)


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
        rule_id=alert.rule_id, rule_label=_catalogued(catalogue.rule_label, alert.rule_id),
        severity=AlertSeverity(alert.severity), status=AlertStatus(alert.status), owner_agency=alert.owner_agency,
        raised_at=_aware(alert.raised_at), subject=alert.subject, suggested_action=alert.suggested_action,
        escalated_to=alert.escalated_to, escalation_reason=alert.escalation_reason,
        resolution_reason=alert.resolution_reason,
        status_changed_at=_aware(alert.status_changed_at) if alert.status_changed_at else None, redactions=[])
    view.redactions = t.as_redactions(p.redact(view, disclosure, t.CATEGORIES, returned))
    return view


# --------------------------------------------------------------------------- timeline
def timeline_entry(event: Any, disclosure: p.Disclosure, returned: set[InformationCategory] | None,
                   subjects: catalogue.Subjects) -> t.TimelineEntry:
    name = type(event).__name__
    label, category = event_category(event, subjects)
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

    @strawberry.field(description="Alertes ouvertes (déclenchées, prises en compte ou escaladées).")
    def open_alerts(self) -> list[t.Alert]:
        return [a for a in self.alerts if a.status in OPEN_ALERT_STATUSES]

    @strawberry.field(description="Chronologie inter-structures, plus récent en dernier ; pagination par position.")
    def timeline(self, first: int = 50, after: int | None = None) -> t.TimelineConnection:
        from gateway.hardening import check_page_size

        first = check_page_size(first, "first")
        events = [e for e in self._history.events if after is None or e.originator_version > after]
        page = events[:first]
        subjects = catalogue.Subjects()
        for earlier in self._history.events[:len(self._history.events) - len(events)]:
            event_category(earlier, subjects)  # what the events before the page recorded
        entries = [timeline_entry(e, self._disclosure, self._returned, subjects) for e in page]
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
    need_cat = {n.need_id: need_category(n.category) for n in pw.needs.values()}
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
        needs=[t.Need(need_id=n.need_id, info_category=need_category(n.category), category=n.category,
                      description=n.description, status=n.status, recorded_at=_aware(n.recorded_at),
                      recorded_by=n.recorded_by, met_at=n.met_at and _aware(n.met_at)) for n in pw.needs.values()],
        referrals=[t.Referral(referral_id=r.referral_id, to_agency=r.to_agency,
                              info_category=catalogue.referral_category(r.to_agency, r.service, need_cat.get(r.need_id)),
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

