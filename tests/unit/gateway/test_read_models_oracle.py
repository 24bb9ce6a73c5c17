"""Property: for any history the aggregates accept, the gateway's `Pathway` built from the read
models (domain events -> the relay's wire codec -> every projection on SQLite -> the gateway's
read side) says what the aggregate says. The oracle (what the aggregate says, in the gateway's
terms) is written here only."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.values import ParticipantRole
from gateway import permissions as p
from gateway.readside import replay
from gateway.store import EventStoreReader
from gateway.views import pathway_view
from services.bootstrap import build_pathways_application
from services.settings import Settings
from tests.unit.pathways.strategies import AGENCIES, KINDS, LEAD, command_sequences, play

CARE = p.Principal(agency=LEAD, professional="pro-1", role=p.Role.MEDECIN)


def _at(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _v(value: Any) -> Any:
    return getattr(value, "value", value)


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_text(x) for x in value)
    return str(_v(value))


def expected_facts(pw: Any) -> list[tuple[str, str | None]]:
    """(name, value) of each kind-specific fact, read from the aggregate."""
    def fact(name: str, value: Any) -> tuple[str, str | None]:
        return name, None if value is None else _text(value)

    kind = pw.kind.value
    if kind == "detention":
        return [fact("prison", pw.prison), fact("release_date", pw.release_date)] + [
            fact("treatment", f"{tr.name} ({_text(tr.kind)}), prescrit par {tr.prescribed_by}"
                 + (f", transmis à {tr.handed_over_to}" if tr.handed_over_to else "")
                 + (", suivi planifié" if tr.follow_up_appointment_id else ", aucun suivi planifié"))
            for tr in pw.treatments.values()]
    if kind == "maternity":
        return [fact("maternity_ward", pw.maternity_ward), fact("discharge_date", pw.discharge_date),
                fact("newborn", pw.newborn_ref and f"{pw.newborn_ref}, né le {pw.born_on}"),
                fact("pmi", pw.pmi_agency)]
    if kind == "sas":
        return [fact("arrived_on", pw.arrived_on), fact("administrative_status", pw.administrative_status),
                fact("tb_screening_needed", pw.tb_screening_needed), fact("clat_screened_on", pw.clat_screened_on),
                fact("orientation", pw.orientation)]
    search = pw.gp_search
    out = [fact("gp_search", search and f"{search.commune} ; langues : {', '.join(search.languages) or '—'}")]
    for o in pw.orientations.values():
        outcome = _text(o.outcome) if o.outcome else "en attente"
        reason = f" ({_text(o.not_went_reason)})" if o.not_went_reason else ""
        out.append(fact("gp_orientation", f"{o.gp_ref} à {o.gp_commune} ; appels : {len(o.calls)} ; "
                                          f"issue : {outcome}{reason}"))
    return out


def oracle(pw: Any) -> dict[str, Any]:
    """The aggregate in the gateway's terms (lists sorted by id: their order is the read's)."""
    return {
        "version": pw.version, "kind": pw.kind.value, "territory": pw.territory, "lead": pw.lead_agency,
        "state": "closed" if pw.is_closed else "open", "opened_at": _at(pw.opened_at),
        "last_activity_at": _at(pw.last_activity_at), "person_ref": pw.person_ref,
        "interpreter_language": pw.interpreter_language, "exit_date": pw.exit_date, "exited_on": pw.exited_on,
        "closure": (_v(pw.closure_outcome), pw.closure_reason),
        "participants": {a: _v(r) for a, r in pw.participants.items()},
        "consents": {a: sorted(_v(c) for c in cs) for a, cs in pw.consents.items()},
        "needs": sorted((str(n.need_id), _v(n.category), n.description, _v(n.status), _at(n.recorded_at),
                         n.recorded_by, _at(n.met_at)) for n in pw.needs.values()),
        "referrals": sorted((str(r.referral_id), r.to_agency, r.service, _v(r.status), r.status_reason,
                             _at(r.made_at), r.made_by, r.need_id and str(r.need_id), _v(r.outcome),
                             r.outcome_reason, _at(r.outcome_at)) for r in pw.referrals.values()),
        "appointments": sorted((str(a.appointment_id), a.with_agency, a.service, _at(a.scheduled_at), _v(a.status),
                                a.interpreter_needed, a.language, a.interpreter_booked, a.status_reason)
                               for a in pw.appointments.values()),
        "coverage": sorted((_v(c.scheme), _v(c.status), c.applied_on, c.opened_on, c.expires_on, c.renewal_filed_on)
                           for c in pw.coverage.values()),
        "housing": sorted((str(h.request_id), h.via_agency, _v(h.status), h.needed_from, h.offer_place,
                           h.offer_available_on, h.decline_reason) for h in pw.housing_requests.values()),
        "contact": (_v(pw.contact.phone), pw.contact.failed_attempts, _at(pw.contact.last_attempt_at),
                    _at(pw.contact.last_reached_at)),
        "conferences": sorted((str(c.conference_id), _at(c.held_at), list(c.agencies), list(c.decisions))
                              for c in pw.case_conferences.values()),
        "actions": sorted((str(a.action_id), str(a.conference_id), a.owner_agency, a.description, a.due_on, a.done,
                           _at(a.done_at)) for a in pw.actions.values()),
        "alerts": sorted((str(a.alert_id), a.rule_id, _v(a.severity), _v(a.status), a.owner_agency, _at(a.raised_at),
                          a.subject, a.suggested_action, a.escalated_to, a.escalation_reason, a.resolution_reason,
                          _at(a.status_changed_at)) for a in pw.alerts.values()),
        # As every other list here, compared whatever the order of items recorded at the same moment.
        "facts": sorted(expected_facts(pw), key=repr),
    }


def shown(view: Any) -> dict[str, Any]:
    """The same keys, read off the gateway's Pathway."""
    return {
        "version": view.version, "kind": view.kind.value, "territory": view.territory, "lead": view.lead_agency,
        "state": view.state.value, "opened_at": view.opened_at, "last_activity_at": view.last_activity_at,
        "person_ref": view.person_ref, "interpreter_language": view.interpreter_language,
        "exit_date": view.exit_date, "exited_on": view.exited_on,
        "closure": (_v(view.closure_outcome), view.closure_reason),
        "participants": {x.agency: _v(x.role) for x in view.participants},
        "consents": {c.agency: sorted(_v(x) for x in c.categories) for c in view.consents},
        "needs": sorted((str(n.need_id), _v(n.category), n.description, _v(n.status), n.recorded_at, n.recorded_by,
                         n.met_at) for n in view.needs),
        "referrals": sorted((str(r.referral_id), r.to_agency, r.service, _v(r.status), r.status_reason, r.made_at,
                             r.made_by, r.need_id and str(r.need_id), _v(r.outcome), r.outcome_reason, r.outcome_at)
                            for r in view.referrals),
        "appointments": sorted((str(a.appointment_id), a.with_agency, a.service, a.scheduled_at, _v(a.status),
                                a.interpreter_needed, a.language, a.interpreter_booked, a.status_reason)
                               for a in view.appointments),
        "coverage": sorted((_v(c.scheme), _v(c.status), c.applied_on, c.opened_on, c.expires_on, c.renewal_filed_on)
                           for c in view.coverage),
        "housing": sorted((str(h.request_id), h.via_agency, _v(h.status), h.needed_from, h.place, h.available_on,
                           h.decline_reason) for h in view.housing_requests),
        "contact": (_v(view.contact.phone), view.contact.failed_attempts, view.contact.last_attempt_at,
                    view.contact.last_reached_at),
        "conferences": sorted((str(c.conference_id), c.held_at, c.agencies, c.decisions)
                              for c in view.case_conferences),
        "actions": sorted((str(a.action_id), str(a.conference_id), a.owner_agency, a.description, a.due_on, a.done,
                           a.done_at) for a in view.actions),
        "alerts": sorted((str(a.alert_id), a.rule_id, _v(a.severity), _v(a.status), a.owner_agency, a.raised_at,
                          a.subject, a.suggested_action, a.escalated_to, a.escalation_reason, a.resolution_reason,
                          a.status_changed_at) for a in view.alerts),
        "facts": sorted(((f.name, f.value) for f in view.facts), key=repr),
    }


@pytest.fixture
def app(tmp_path):
    return build_pathways_application(Settings(state_dir=tmp_path))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), kind=st.sampled_from(KINDS))
def test_the_pathway_read_from_the_read_models_is_what_the_aggregate_says(app, data: st.DataObject,
                                                                          kind: str) -> None:
    pathway_id = uuid4()
    live, _ = play(app, kind, pathway_id, data.draw(command_sequences(kind, pathway_id)))
    history = EventStoreReader(app).history(pathway_id)
    read = replay(history)
    record = read.records([pathway_id])[pathway_id]
    view = pathway_view(record, CARE, read)
    assert view is not None
    assert shown(view) == oracle(live)
    # The timeline read model has one row per stored event, in the pathway's order.
    rows, total = read.timeline(pathway_id, first=500, after=None)
    assert [r["seq"] for r in rows] == [e.originator_version for _, e in history] and total == len(history)
    # Membership and consent: the same decision for every agency and role, on either side.
    truth = p.PathwayAccess(participants=dict(live.participants), consents=dict(live.consents),
                            objections=dict(live.objections), consent_version=live.consent_version)
    for agency in (*AGENCIES, "elsewhere"):
        for role in (p.Role.MEDECIN, p.Role.COORDINATEUR, p.Role.BENEVOLE):
            who = p.Principal(agency=agency, professional="x", role=role)
            assert p.decide(who, record.access) == p.decide(who, truth)
    assert {a: ParticipantRole(r) for a, r in record.participants.items()} == dict(live.participants)
