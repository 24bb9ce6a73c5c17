"""Hypothesis strategies: sequences of well-formed commands on one pathway of each kind.

Ids come from small pools so that commands often refer to things that exist (and sometimes
to things that do not, or twice): the aggregate refuses those, which is part of the property.
Shared by the SQLite (unit) and PostgreSQL (integration) round-trip tests.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

from hypothesis import strategies as st

from domain.values import (
    AdministrativeStatus,
    AlertSeverity,
    ClosureOutcome,
    CoverageScheme,
    DismissalReason,
    GpVisitOutcome,
    ConsentInformation,
    InformationCategory,
    NeedCategory,
    NotWentReason,
    ParticipantRole,
    PhoneStatus,
    ReferralOutcome,
    ReferralStatus,
    TreatmentKind,
)
from services.pathways import commands as c

BASE_TIME = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
AGENCIES = ["pass-chu-rouen", "siao-76", "dac-rouen", "cpam-76"]
LEAD = AGENCIES[0]


def _pool(n: int = 3) -> list[UUID]:
    return [uuid4() for _ in range(n)]


NEEDS, REFERRALS, APPOINTMENTS, HOUSING, CONFERENCES, ACTIONS, ALERTS, TREATMENTS, ORIENTATIONS, REFUSALS = (
    _pool() for _ in range(10)
)

ids = st.sampled_from
texts = st.sampled_from(["motif renseigné", "pas d'interprète", "numéro changé", "voir synthèse"])
days = st.integers(min_value=-5, max_value=60).map(lambda d: BASE_TIME.date() + timedelta(days=d))
moments = st.integers(min_value=0, max_value=60 * 24).map(lambda h: BASE_TIME + timedelta(hours=h))
agencies = st.sampled_from(AGENCIES)


def _step(cls: type[c.Command], **fields: Any) -> st.SearchStrategy[tuple[type[c.Command], dict[str, Any]]]:
    return st.fixed_dictionaries(fields).map(lambda drawn: (cls, drawn))


SHARED_STEPS = [
    _step(c.AddAgency, agency=agencies, role=st.sampled_from(list(ParticipantRole))),
    _step(c.RemoveAgency, agency=agencies, reason=texts),
    _step(c.GrantConsent, agency=agencies, categories=st.lists(st.sampled_from(list(InformationCategory)), min_size=1, max_size=4),
          collected_by=st.just("p-recueil"), informed_by=st.sampled_from(list(ConsentInformation))),
    _step(c.WithdrawConsent, agency=agencies, categories=st.lists(st.sampled_from(list(InformationCategory)), min_size=1, max_size=2),
          collected_by=st.just("p-recueil"), informed_by=st.sampled_from(list(ConsentInformation))),
    _step(c.RecordObjection, agency=agencies, categories=st.lists(st.sampled_from(list(InformationCategory)), min_size=1, max_size=2),
          collected_by=st.just("p-recueil"), informed_by=st.sampled_from(list(ConsentInformation))),
    _step(c.BreakGlass, reason=texts),
    _step(c.RecordNeed, need_id=ids(NEEDS), category=st.sampled_from(list(NeedCategory)), description=texts),
    _step(c.MarkNeedMet, need_id=ids(NEEDS)),
    _step(c.MakeReferral, referral_id=ids(REFERRALS), to_agency=agencies, service=texts, need_id=st.none() | ids(NEEDS)),
    _step(c.UpdateReferralStatus, referral_id=ids(REFERRALS), status=st.sampled_from(list(ReferralStatus)), reason=st.none() | texts),
    _step(c.RecordReferralOutcome, referral_id=ids(REFERRALS), outcome=st.sampled_from(list(ReferralOutcome)), reason=st.none() | texts),
    _step(c.RecordInterpreterNeed, language=st.none() | st.sampled_from(["sq", "ar", "en", "ps"])),
    _step(c.BookAppointment, appointment_id=ids(APPOINTMENTS), with_agency=agencies, service=texts, scheduled_at=moments,
          interpreter_needed=st.booleans(), language=st.none() | st.sampled_from(["sq", "ar"])),
    _step(c.BookInterpreter, appointment_id=ids(APPOINTMENTS), provider=st.just("ISM")),
    _step(c.MarkAppointmentSeen, appointment_id=ids(APPOINTMENTS)),
    _step(c.MarkAppointmentMissed, appointment_id=ids(APPOINTMENTS)),
    _step(c.ExcuseAppointment, appointment_id=ids(APPOINTMENTS), reason=texts),
    _step(c.CancelAppointment, appointment_id=ids(APPOINTMENTS), reason=texts),
    _step(c.RecordCareRefusal, refusal_id=ids(REFUSALS), care=st.sampled_from(["hospitalisation", "TSO"]),
          proposed_by=agencies, reason=texts, related_id=st.none() | ids(APPOINTMENTS) | ids(REFERRALS)),
    _step(c.ApplyForCoverage, scheme=st.sampled_from(list(CoverageScheme)), applied_on=days),
    _step(c.OpenCoverage, scheme=st.sampled_from(list(CoverageScheme)), opened_on=days, expires_on=st.none() | days),
    _step(c.FileCoverageRenewal, scheme=st.sampled_from(list(CoverageScheme)), filed_on=days),
    _step(c.EndCoverage, scheme=st.sampled_from(list(CoverageScheme)), reason=texts),
    _step(c.RequestHousing, request_id=ids(HOUSING), via_agency=st.just("siao-76"), needed_from=st.none() | days),
    _step(c.OfferHousing, request_id=ids(HOUSING), place=st.sampled_from(["CHRS Rouen", "HUDA Elbeuf"]), available_on=days),
    _step(c.ConfirmHousing, request_id=ids(HOUSING)),
    _step(c.DeclineHousing, request_id=ids(HOUSING), reason=texts),
    _step(c.RecordPhoneStatus, status=st.sampled_from(list(PhoneStatus))),
    _step(c.RecordContactAttempt, reached=st.booleans(), channel=st.just("phone")),
    _step(c.HoldCaseConference, conference_id=ids(CONFERENCES), agencies=st.lists(agencies, min_size=1, max_size=4), decisions=st.lists(texts, max_size=3)),
    _step(c.AssignAction, conference_id=ids(CONFERENCES), action_id=ids(ACTIONS), owner_agency=agencies, description=texts, due_on=days),
    _step(c.CompleteAction, action_id=ids(ACTIONS)),
    _step(c.RaiseAlert, alert_id=ids(ALERTS), rule_id=st.sampled_from(["exit-without-housing", "contact-lost"]),
          subject=st.sampled_from(["pathway", f"appointment:{APPOINTMENTS[0]}"]),
          triggering_event_ids=st.lists(st.sampled_from(["e1", "e2"]), max_size=2), owner_agency=agencies,
          suggested_action=st.just("Appeler le SIAO pour une place avant la sortie."), severity=st.sampled_from(list(AlertSeverity))),
    _step(c.AcknowledgeAlert, alert_id=ids(ALERTS)),
    _step(c.EscalateAlert, alert_id=ids(ALERTS), to_agency=agencies, reason=texts),
    _step(c.ResolveAlert, alert_id=ids(ALERTS), reason=texts),
    _step(c.UpdateAlert, alert_id=ids(ALERTS), owner_agency=agencies,
          suggested_action=st.just("Trouver une solution d'hébergement avant la sortie."),
          severity=st.sampled_from(list(AlertSeverity))),
    _step(c.DismissAlert, alert_id=ids(ALERTS), reason=st.sampled_from(list(DismissalReason)),
          detail=st.one_of(st.none(), texts)),
    _step(c.ClosePathway, outcome=st.sampled_from(list(ClosureOutcome)), reason=texts),
    _step(c.ReopenPathway, reason=texts),
]

KIND_STEPS = {
    "detention": [
        _step(c.ScheduleRelease, release_date=days),
        _step(c.RecordTreatmentToContinue, treatment_id=ids(TREATMENTS), kind=st.sampled_from(list(TreatmentKind)), name=st.just("buprénorphine"), prescribed_by=st.just("usmp-rouen")),
        _step(c.PlanTreatmentFollowUp, treatment_id=ids(TREATMENTS), appointment_id=ids(APPOINTMENTS)),
        _step(c.HandOverTreatment, treatment_id=ids(TREATMENTS), to_agency=st.just("csapa-rouen")),
        _step(c.RecordRelease, released_on=days),
    ],
    "maternity": [
        _step(c.ScheduleDischarge, discharge_date=days),
        _step(c.RegisterNewborn, newborn_ref=st.just("NN-1"), born_on=days),
        _step(c.LinkPmi, pmi_agency=st.just("pmi-76"), first_visit_on=st.none() | days),
        _step(c.RecordDischarge, discharged_on=days),
    ],
    "sas": [
        _step(c.AssessAdministrativeSituation, status=st.sampled_from(list(AdministrativeStatus)), assessed_on=days),
        _step(c.FlagTbScreeningNeed),
        _step(c.RecordClatScreening, screened_on=days, follow_up_needed=st.booleans()),
        _step(c.DecideOrientation, destination=st.just("CADA Évreux"), decided_on=days),
        _step(c.RecordSasExit, left_on=days, destination=st.just("CADA Évreux")),
    ],
    "pass_gp": [
        _step(c.StartGpSearch, commune=st.just("Rouen"), languages=st.lists(st.sampled_from(["fr", "en", "ar"]), max_size=2), needs_phone_interpreting=st.booleans()),
        _step(c.OrientToGp, orientation_id=ids(ORIENTATIONS), gp_ref=st.just("mg-rouen-12"), gp_commune=st.just("Rouen"), accepts_phone_interpreting=st.booleans()),
        _step(c.RecordFollowUpCall, orientation_id=ids(ORIENTATIONS), reached=st.booleans()),
        _step(c.RecordGpVisitOutcome, orientation_id=ids(ORIENTATIONS), outcome=st.sampled_from(list(GpVisitOutcome)),
              reason=st.none() | st.sampled_from(list(NotWentReason)), detail=st.none() | texts),
    ],
}

KINDS = list(KIND_STEPS)
CREATING_STEPS = [SHARED_STEPS[i] for i in (4, 6, 10, 20, 21, 26, 29)] + [KIND_STEPS["detention"][1], KIND_STEPS["pass_gp"][1]]


def actor(agency: str = LEAD, professional: str = "pro-1", role: str = "medecin") -> c.ActorModel:
    return c.ActorModel(agency=agency, professional=professional, role=role)


def open_command(kind: str, pathway_id: UUID) -> c.OpenPathway:
    envelope: dict[str, Any] = dict(
        command_id=uuid4(), pathway_id=pathway_id, actor=actor(), occurred_at=BASE_TIME,
        person_ref="P-0001", territory="76", lead_agency=LEAD,
    )
    if kind == "detention":
        return c.OpenDetentionPathway(**envelope, prison="MA Rouen", release_date=date(2026, 3, 20))
    if kind == "maternity":
        return c.OpenMaternityPathway(**envelope, maternity_ward="CHU Rouen", discharge_date=date(2026, 3, 6))
    if kind == "sas":
        return c.OpenSasPathway(**envelope, arrived_on=date(2026, 3, 2), from_high_tb_endemicity=True)
    return c.OpenPassGpPathway(**envelope)


@st.composite
def command_sequences(draw: st.DrawFn, kind: str, pathway_id: UUID, max_size: int = 30) -> list[c.Command]:
    # Steps that create things are drawn more often, so later steps find things to act on.
    creators = [step for step in (*SHARED_STEPS, *KIND_STEPS[kind]) if step in CREATING_STEPS]
    steps = draw(st.lists(st.one_of(*SHARED_STEPS, *KIND_STEPS[kind], *creators, *creators), max_size=max_size))
    sequence: list[c.Command] = []
    for cls, fields in steps:
        agency = draw(st.sampled_from([LEAD, LEAD, *AGENCIES[1:], "relais"]))
        sequence.append(
            cls(command_id=uuid4(), pathway_id=pathway_id, actor=actor(agency), occurred_at=draw(moments), **fields)
        )
    return sequence


def play(app: Any, kind: str, pathway_id: UUID, sequence: list[c.Command]) -> tuple[Any, int]:
    """Opens a pathway and applies the sequence on ONE live aggregate, saving after each
    accepted command; returns the live aggregate and how many commands were refused."""
    from domain.errors import DomainError

    pathway = app.open_pathway(open_command(kind, pathway_id))
    for agency in AGENCIES[1:]:  # the usual partners join first, as in the field
        pathway.add_agency(agency=agency, role=ParticipantRole.COORDINATION, actor=pathway.last_actor, occurred_at=BASE_TIME)
    app.save(pathway)
    refused = 0
    for command in sequence:
        try:
            app.call(pathway, command)
        except DomainError:
            refused += 1
            # A refusal is decided before any event: nothing may be left pending.
            assert pathway.pending_events == []
            continue
        app.save(pathway)
    return pathway, refused


def rebuild(app: Any, pathway_id: UUID) -> Any:
    """The aggregate replayed from its stored events (never from the repository's cache)."""
    from eventsourcing.application import project_aggregate

    return project_aggregate(None, app.events.get(pathway_id))
