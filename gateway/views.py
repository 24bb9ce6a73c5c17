"""From a pathway as the read models hold it to what one caller may see of it.

`pathway_view(record, principal, ...)` builds the whole GraphQL object from a
gateway.readside.PathwayRecord, then hands it to gateway.permissions (the one place deciding)
to null what the caller may not see. The timeline is read on demand (its own resolver) from
the `timeline` read model, through the same decision and redaction.
`agency_alert_view` is "this alert as agency X may see it", for the alerting worker.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from typing import Any
from uuid import UUID

import strawberry

from domain import disclosure as catalogue
from domain import texts
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
from gateway.readside import PathwayRecord, ReadSide

I, S, A, M = (InformationCategory.IDENTITY, InformationCategory.SOCIAL, InformationCategory.ADMINISTRATIVE,
              InformationCategory.MEDICAL)

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


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_text(x) for x in value)
    return str(getattr(value, "value", value))


def _at(text: Any) -> datetime | None:
    """An instant of the read models (fixed-width UTC ISO text) as a datetime."""
    if text is None:
        return None
    if isinstance(text, datetime):
        return _aware(text)
    return _aware(datetime.fromisoformat(str(text).replace("Z", "+00:00")))


def _day(text: Any) -> date | None:
    if text is None:
        return None
    return text if isinstance(text, date) else date.fromisoformat(str(text)[:10])


def _uuid(text: Any) -> UUID | None:
    return None if text is None else UUID(str(text))


# --------------------------------------------------------------------------- alerts
def alert_view(row: dict[str, Any], disclosure: p.Disclosure,
               returned: set[InformationCategory] | None = None) -> t.Alert:
    """An `alerts` read-model row, redacted for `disclosure`."""
    status = AlertStatus(row["status"])
    category = alert_category(row["rule_id"], row.get("subject"))
    view = t.Alert(
        alert_id=UUID(str(row["alert_id"])), pathway_id=UUID(str(row["pathway_id"])),
        info_category=category,
        rule_id=row["rule_id"], rule_label=_catalogued(catalogue.rule_label, row["rule_id"]),
        severity=AlertSeverity(row["severity"]), status=status, owner_agency=row["owner_agency"],
        raised_at=_at(row["raised_at"]), subject=row.get("subject"), suggested_action=row.get("suggested_action"),
        escalated_to=row.get("escalated_to"), escalation_reason=row.get("escalation_reason"),
        resolution_reason=row.get("resolution_reason"),
        # The read model stamps the raising too; the pathway says "changed" only after it.
        status_changed_at=None if status is AlertStatus.RAISED else _at(row.get("status_changed_at")),
        # ReadSide attaches (event id, timeline row) pairs to every alert row it reads.
        triggering_events=[triggering_event(event_id, event, category)
                           for event_id, event in row.get("triggering_events", ())],
        redactions=[], consent_version=disclosure.consent_version)
    hidden = p.redact(view, disclosure, t.CATEGORIES, returned)
    category = view.info_category
    why = disclosure.hidden.get(category, p.Reason.ROLE)
    if category not in disclosure.visible:
        # The rule's id and title say what the risk is about: a neutral label instead.
        view.rule_id, view.rule_label = None, catalogue.NEUTRAL_RULE_LABEL
        hidden.append(p.Redaction("rule_id", category, why))
    elif returned is not None:
        returned.add(category)
    for name in ("suggested_action", "resolution_reason"):
        stored = getattr(view, name)
        setattr(view, name, texts.render(stored, disclosure.visible, category, returned))
        for left_out in sorted(texts.categories_of(stored, category) - disclosure.visible):
            hidden.append(p.Redaction(name, left_out, disclosure.hidden.get(left_out, p.Reason.ROLE)))
    view.redactions = t.as_redactions(hidden)
    return view


def triggering_event(event_id: str, row: dict[str, Any] | None, alert: InformationCategory) -> t.TriggeringEvent:
    """One triggering event from its `timeline` row; without a row yet, only its id, in the
    alert's category."""
    if row is None:
        return t.TriggeringEvent(event_id=event_id, position=None, info_category=alert, type=None, label=None,
                                 occurred_at=None)
    return t.TriggeringEvent(event_id=event_id, position=int(row["seq"]), info_category=InformationCategory(row["category"]),
                             type=row["event_type"], label=row["label"], occurred_at=_at(row["occurred_at"]))


def agency_alert_view(read: ReadSide, pathway_id: UUID, alert_id: UUID, agency: str,
                      returned: set[InformationCategory] | None = None) -> t.Alert | None:
    """This alert as `agency` (a receiving system, no role) may see it, from the read models:
    None when the agency does not take part in the pathway or the alert is unknown there.
    Membership and consent are the read models' current ones (gateway.permissions
    `decide_for_agency`); the alert's personal fields are redacted as for a query, and the
    categories left in are added to `returned` (what a push really carries: its audit)."""
    access = read.access([pathway_id]).get(pathway_id)
    if access is None:
        return None
    disclosure = p.decide_for_agency(agency, access)
    if not disclosure.can_see_pathway:
        return None
    row = read.alert(pathway_id, alert_id)
    return None if row is None else alert_view(row, disclosure, returned)


# --------------------------------------------------------------------------- timeline
def timeline_entry(row: dict[str, Any], disclosure: p.Disclosure,
                   returned: set[InformationCategory] | None) -> t.TimelineEntry:
    """A `timeline` read-model row (its label and category), redacted for `disclosure`."""
    entry = t.TimelineEntry(event_id=str(row["event_id"]), position=int(row["seq"]), info_category=InformationCategory(row["category"]),
                            type=row["event_type"], label=row["label"], occurred_at=_at(row["occurred_at"]),
                            recorded_at=_at(row["recorded_at"]), agency=row["agency"] or "", role=row["role"] or "",
                            redactions=[])
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
    _read: strawberry.Private[ReadSide]
    _disclosure: strawberry.Private[p.Disclosure]
    _returned: strawberry.Private[set]

    @strawberry.field(description="Besoins encore ouverts.")
    def open_needs(self) -> list[t.Need]:
        return [n for n in self.needs if n.status is NeedStatus.OPEN]

    @strawberry.field(description="Alertes ouvertes (déclenchées, prises en compte ou escaladées).")
    def open_alerts(self) -> list[t.Alert]:
        return [a for a in self.alerts if a.status in OPEN_ALERT_STATUSES]

    @strawberry.field(description="Chronologie inter-structures (vue de lecture « timeline »), plus récent en "
                                  "dernier ; pagination par position.")
    async def timeline(self, info: strawberry.Info, first: int = 50, after: int | None = None) -> t.TimelineConnection:
        from gateway.hardening import check_page_size

        first = check_page_size(first, "first")
        context = info.context
        if self._read is context.services.read:  # the present: batched with the page's other pathways
            rows, total = await context.timeline_loader.load((self.id, first, after))
        else:  # a past state (asOf): its own replayed read models
            rows, total = await self._read.call(self._read.timeline, self.id, first=first, after=after)
        page = rows[:first]
        entries = [timeline_entry(r, self._disclosure, self._returned) for r in page]
        return t.TimelineConnection(
            entries=entries, total_count=total,
            page_info=t.PageInfo(has_next_page=len(rows) > first,
                                 end_cursor=str(page[-1]["seq"]) if page else None))


PATHWAY_CATEGORIES = {"person_ref": I, "interpreter_language": S, "exit_date": A, "exited_on": A,
                      "closure_outcome": S, "closure_reason": S, "consents": A}
t.CATEGORIES[Pathway] = PATHWAY_CATEGORIES


def _facts(record: PathwayRecord) -> list[t.Fact]:
    def fact(name: str, label: str, category: InformationCategory, value: Any) -> t.Fact:
        return t.Fact(name=name, label=label, info_category=category,
                      value=None if value is None else _text(value))

    kind, f = record.summary["kind"], record.facts
    facts: list[t.Fact] = []
    if kind == "detention":
        facts += [fact("prison", "Établissement pénitentiaire", A, f.get("prison")),
                  fact("release_date", "Date de libération", A, f.get("release_date"))]
        for tr in record.treatments:
            facts.append(fact("treatment", "Traitement à poursuivre", M,
                              f"{tr['name']} ({tr['kind']}), prescrit par {tr['prescribed_by']}"
                              + (f", transmis à {tr['handed_over_to']}" if tr["handed_over_to"] else "")
                              + (", suivi planifié" if tr["follow_up_appointment_id"] else ", aucun suivi planifié")))
    elif kind == "maternity":
        newborn = f.get("newborn_ref")
        facts += [fact("maternity_ward", "Maternité", A, f.get("maternity_ward")),
                  fact("discharge_date", "Date de sortie", A, f.get("discharge_date")),
                  fact("newborn", "Nouveau-né", M, newborn and f"{newborn}, né le {f.get('born_on')}"),
                  fact("pmi", "PMI", M, f.get("pmi_agency"))]
    elif kind == "sas":
        facts += [fact("arrived_on", "Arrivée au SAS", A, f.get("arrived_on")),
                  fact("administrative_status", "Situation administrative", A, f.get("administrative_status")),
                  fact("tb_screening_needed", "Dépistage tuberculose nécessaire", M, f.get("tb_screening_needed")),
                  fact("clat_screened_on", "Dépistage CLAT", M, f.get("clat_screened_on")),
                  fact("orientation", "Orientation de sortie", S, f.get("orientation"))]
    elif kind == "pass_gp":
        commune = f.get("gp_commune")
        languages = json.loads(f.get("gp_languages") or "[]")
        facts.append(fact("gp_search", "Recherche de médecin traitant", M,
                          commune and f"{commune} ; langues : {', '.join(languages) or '—'}"))
        for o in record.referrals:
            if not o["is_gp_orientation"]:
                continue
            outcome = {"honoured": "went", "not_honoured": "did_not_go"}.get(o["outcome"] or "", "en attente")
            reason = f" ({o['outcome_reason']})" if o["outcome"] == "not_honoured" and o["outcome_reason"] else ""
            facts.append(fact("gp_orientation", "Orientation médecin", M,
                              f"{o['to_agency']} à {o['gp_commune']} ; appels : {o['follow_up_calls']} ; "
                              f"issue : {outcome}{reason}"))
    return facts


def pathway_view(record: PathwayRecord, principal: p.Principal, read: ReadSide, as_of: datetime | None = None,
                 access: p.PathwayAccess | None = None) -> Pathway | None:
    """None when the caller's agency does not take part in the pathway (it does not exist for it).

    For a past state (`as_of`), `access` is the pathway's CURRENT membership and consent
    (the current read models): a withdrawn consent or a departed agency also hides the past.
    `read` is where the timeline resolver reads (the replay's database for `as_of`)."""
    s = record.summary
    disclosure = p.decide(principal, access if access is not None else record.access)
    if not disclosure.can_see_pathway:
        return None
    returned: set[InformationCategory] = set()
    need_cat = {n["need_id"]: need_category(n["category"]) for n in record.needs}
    view = Pathway(
        id=record.pathway_id, kind=t.PathwayKind(s["kind"]), territory=s["territory"], lead_agency=s["lead_agency"],
        state=t.PathwayState(s["state"]), version=int(s["last_seq"]),
        opened_at=_at(s["opened_at"]), last_activity_at=_at(s["last_activity_at"]), as_of=as_of,
        person_ref=s["person_ref"], interpreter_language=s["interpreter_language"], exit_date=_day(s["exit_date"]),
        exited_on=_day(s["exited_on"]),
        closure_outcome=t.ClosureOutcome(s["closure_outcome"]) if s["closure_outcome"] else None,
        closure_reason=s["closure_reason"],
        access=t.Access(membership=disclosure.membership, visible_categories=sorted(disclosure.visible),
                        hidden_categories=sorted(disclosure.hidden)),
        participants=[t.Participant(agency=a, role=ParticipantRole(r), in_care_team=ParticipantRole(r) in p.CARE_TEAM_ROLES)
                      for a, r in sorted(record.participants.items())],
        consents=[t.Consent(agency=a, categories=sorted(InformationCategory(x) for x in c))
                  for a, c in sorted(record.consents.items())],
        needs=[t.Need(need_id=UUID(n["need_id"]), info_category=need_cat[n["need_id"]],
                      category=NeedCategory(n["category"]), description=n["description"], status=NeedStatus(n["status"]),
                      recorded_at=_at(n["recorded_at"]), recorded_by=n["recorded_by"], met_at=_at(n["met_at"]))
               for n in record.needs],
        referrals=[t.Referral(referral_id=UUID(r["referral_id"]),
                              info_category=catalogue.referral_category(r["to_agency"], r["service"],
                                                                        need_cat.get(r["need_id"])),
                              to_agency=r["to_agency"], service=r["service"], status=t.ReferralStatus(r["status"]),
                              status_reason=r["status_reason"], made_at=_at(r["made_at"]), made_by=r["made_by"],
                              need_id=_uuid(r["need_id"]),
                              outcome=t.ReferralOutcome(r["outcome"]) if r["outcome"] else None,
                              outcome_reason=r["outcome_reason"], outcome_at=_at(r["outcome_at"]))
                   for r in record.referrals],
        appointments=[t.Appointment(appointment_id=UUID(ap["appointment_id"]), info_category=M,
                                    with_agency=ap["with_agency"], service=ap["service"],
                                    scheduled_at=_at(ap["scheduled_at"]),
                                    status=t.AppointmentStatus(ap["status"]),
                                    interpreter_needed=bool(ap["interpreter_needed"]), language=ap["language"],
                                    interpreter_booked=bool(ap["interpreter_booked"]), status_reason=ap["status_reason"])
                      for ap in record.appointments],
        coverage=[t.Coverage(scheme=t.CoverageScheme(c["scheme"]), status=t.CoverageStatus(c["status"]),
                             applied_on=_day(c["applied_on"]), opened_on=_day(c["opened_on"]),
                             expires_on=_day(c["expires_on"]), renewal_filed_on=_day(c["renewal_filed_on"]))
                  for c in record.coverage],
        housing_requests=[t.HousingRequest(request_id=UUID(h["request_id"]), via_agency=h["via_agency"],
                                           status=t.HousingStatus(h["status"]), needed_from=_day(h["needed_from"]),
                                           place=h["place"], available_on=_day(h["available_on"]),
                                           decline_reason=h["decline_reason"])
                          for h in record.housing],
        contact=t.Contact(phone=t.PhoneStatus(s["phone"]) if s["phone"] else None,
                          failed_attempts=int(s["failed_attempts"] or 0),
                          last_attempt_at=_at(s["last_attempt_at"]), last_reached_at=_at(s["last_reached_at"])),
        case_conferences=[t.CaseConference(conference_id=UUID(c["conference_id"]), held_at=_at(c["held_at"]),
                                           agencies=json.loads(c["agencies"]), decisions=json.loads(c["decisions"]),
                                           present=[r["agency"] for r in record.presence
                                                    if r["conference_id"] == c["conference_id"]])
                          for c in record.conferences],
        actions=[t.Action(action_id=UUID(a["action_id"]), conference_id=UUID(a["conference_id"]),
                          owner_agency=a["owner_agency"], description=a["description"], due_on=_day(a["due_on"]),
                          done=bool(a["done"]), done_at=_at(a["done_at"]))
                 for a in record.actions],
        alerts=[], facts=_facts(record), redactions=[],
        _read=read, _disclosure=disclosure, _returned=returned,
    )
    hidden = p.redact(view, disclosure, t.CATEGORIES, returned)
    view.alerts = [alert_view(a, disclosure, returned) for a in record.alerts]
    view.redactions = t.as_redactions(hidden)
    return view
