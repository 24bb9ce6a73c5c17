"""Generated pathway histories for the property tests: any kind, any sequence of commands.

A history is played through the aggregates' command methods; a command the aggregate refuses
(a `DomainError`) is skipped, as the command handler would reject it. The risk engine's own
alert commands are part of the mix, so the rules are also exercised on pathways carrying alerts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from hypothesis import strategies as st

from domain import DetentionPathway, MaternityPathway, PassGpPathway, SasPathway
from domain.errors import DomainError
from domain.rules import TerritorySettings, evaluate
from domain.values import (
    Actor,
    AppointmentStatus,
    ClosureOutcome,
    CoverageScheme,
    GpVisitOutcome,
    InformationCategory,
    NeedCategory,
    NotWentReason,
    ParticipantRole,
    PhoneStatus,
    ReferralOutcome,
    ReferralStatus,
    TreatmentKind,
)
from tests.unit.rules.builders import (
    ADOMA, CARDIO, CASO, CLAT, CPAM, CSAPA, DAC, DAY0, EMPP, MATERNITY, PASS, PMI, RISK, ROLES, SIAO, SPIP, USMP,
)

AGENCIES = [SIAO, CPAM, PASS, CSAPA, CLAT, DAC, EMPP, PMI, CARDIO]
SERVICES = ["consultation de cardiologie", "consultation PASS", "médecin traitant", "hospitalisation", "CSAPA"]
REASONS = ["la personne refuse les soins", "file active saturée", "gp_not_taking_patients", "horaire ne convient pas"]

OPS = [
    "join", "consent", "withdraw", "need", "need_met", "refer", "referral_status", "referral_outcome",
    "book", "interpreter", "seen", "missed", "cancel", "excuse", "interpreter_need",
    "apply_cov", "open_cov", "renew", "end_cov",
    "housing_request", "offer", "confirm", "decline",
    "phone", "contact", "conference",
    "raise", "ack", "resolve", "close", "reopen",
    "exit_date", "exit", "treatment", "follow_up", "handover", "newborn", "pmi",
    "tb_flag", "clat", "orientation", "gp_orient", "gp_call", "gp_outcome",
]

op_strategy = st.tuples(
    st.sampled_from(OPS),
    st.integers(0, 50),  # which entity / agency / enum member
    st.integers(-10, 45),  # a day offset
    st.booleans(),
    st.integers(0, 120),  # hours since the previous command
)

settings_strategy = st.builds(
    TerritorySettings,
    territory=st.sampled_from(["76", "44", "69"]),
    timezone=st.sampled_from(["Europe/Paris", "America/Cayenne", "Indian/Reunion"]),
    exit_without_housing_days=st.integers(0, 30),
    rights_before_exit_days=st.integers(0, 30),
    rights_before_appointment_days=st.integers(0, 14),
    interpreter_hours=st.integers(1, 96),
    referral_unverified_days=st.integers(1, 30),
    missed_appointment_follow_up_days=st.integers(1, 14),
    contact_failed_attempts=st.integers(1, 5),
    treatment_continuity_days=st.integers(0, 20),
    newborn_pmi_days=st.integers(0, 14),
    tb_screening_days=st.integers(0, 21),
    stalled_days=st.integers(1, 40),
    sas_stalled_days=st.integers(1, 10),
)


@dataclass
class Played:
    pathway: Any
    end: datetime
    ids: dict[str, list[UUID]] = field(default_factory=dict)


_ENTITIES = {
    "need": "needs", "appointment": "appointments", "housing": "housing_requests",
    "treatment": "treatments", "orientation": "orientations",
}

LEADS = {"detention": SPIP, "maternity": MATERNITY, "sas": ADOMA, "pass_gp": CASO}


def open_pathway(kind: str, exit_in: int | None, flag: bool) -> Any:
    lead = LEADS[kind]
    common = dict(id=uuid4(), person_ref="P-GEN", territory="76", lead_agency=lead.agency, actor=lead, occurred_at=DAY0)
    exit_day = (DAY0 + timedelta(days=exit_in)).date() if exit_in is not None else None
    if kind == "detention":
        return DetentionPathway(prison="MA Rouen", release_date=exit_day, **common)
    if kind == "maternity":
        return MaternityPathway(maternity_ward="CHU", discharge_date=exit_day, **common)
    if kind == "sas":
        return SasPathway(arrived_on=DAY0.date(), from_high_tb_endemicity=flag, **common)
    return PassGpPathway(**common)


def _pick(items: list, i: int):
    return items[i % len(items)] if items else None


def apply(played: Played, op: tuple, t: datetime, settings: TerritorySettings) -> None:  # noqa: C901
    name, i, d, flag, _gap = op
    p = played.pathway
    ids = played.ids
    lead = Actor(p.lead_agency, "pro-lead", "référent")
    agency = AGENCIES[i % len(AGENCIES)]
    day = (t + timedelta(days=d)).date()

    def new(kind: str) -> UUID:
        value = uuid4()
        ids.setdefault(kind, []).append(value)
        return value

    def pick(kind: str):
        # From the state, not from the ids tried: a refused command created nothing.
        return _pick(list(getattr(p, _ENTITIES[kind], {})), i)

    def call(method: str, **kwargs):
        fn = getattr(p, method, None)
        if fn is not None:
            fn(**kwargs)

    if name == "join":
        call("add_agency", agency=agency.agency, role=ROLES.get(agency.agency, ParticipantRole.OTHER), actor=lead, occurred_at=t)
    elif name == "consent":
        call("grant_consent", agency=agency.agency, categories=[InformationCategory.SOCIAL], collected_by="p-recueil", informed_by="oral", actor=lead, occurred_at=t)
    elif name == "withdraw":
        call("withdraw_consent", agency=agency.agency, categories=list(p.consents.get(agency.agency, [])), collected_by="p-recueil", informed_by="oral", actor=lead, occurred_at=t)
    elif name == "need":
        call("record_need", need_id=new("need"), category=list(NeedCategory)[i % len(NeedCategory)],
             description="besoin", actor=lead, occurred_at=t)
    elif name == "need_met" and pick("need"):
        call("mark_need_met", need_id=pick("need"), actor=lead, occurred_at=t)
    elif name == "refer":
        call("make_referral", referral_id=new("referral"), to_agency=agency.agency, service=_pick(SERVICES, d),
             need_id=pick("need") if flag else None, actor=lead, occurred_at=t)
    elif name == "referral_status" and p.referrals:
        ref = _pick(list(p.referrals), i)
        call("update_referral_status", referral_id=ref, status=list(ReferralStatus)[d % len(ReferralStatus)],
             reason=_pick(REASONS, d), actor=lead, occurred_at=t)
    elif name == "referral_outcome" and p.referrals:
        call("record_referral_outcome", referral_id=_pick(list(p.referrals), i),
             outcome=ReferralOutcome.HONOURED if flag else ReferralOutcome.NOT_HONOURED, reason=_pick(REASONS, d),
             actor=lead, occurred_at=t)
    elif name == "book":
        call("book_appointment", appointment_id=new("appointment"), with_agency=agency.agency,
             service=_pick(SERVICES, d), scheduled_at=t + timedelta(days=d, hours=i), interpreter_needed=flag,
             language="arabe" if flag else None, actor=lead, occurred_at=t)
    elif name in ("interpreter", "seen", "missed", "cancel", "excuse") and pick("appointment"):
        appointment_id = pick("appointment")
        if name == "interpreter":
            call("book_interpreter", appointment_id=appointment_id, provider="ISM", actor=lead, occurred_at=t)
        elif name in ("seen", "missed"):
            scheduled = p.appointments[appointment_id].scheduled_at
            when = max(t, scheduled)
            call("mark_appointment_seen" if name == "seen" else "mark_appointment_missed",
                 appointment_id=appointment_id, actor=lead, occurred_at=when)
        else:
            call("cancel_appointment" if name == "cancel" else "excuse_appointment", appointment_id=appointment_id,
                 reason=_pick(REASONS, d), actor=lead, occurred_at=t)
    elif name == "interpreter_need":
        call("record_interpreter_need", language="arabe" if flag else None, actor=lead, occurred_at=t)
    elif name == "apply_cov":
        call("apply_for_coverage", scheme=list(CoverageScheme)[i % 4], applied_on=t.date(), actor=lead, occurred_at=t)
    elif name == "open_cov":
        call("open_coverage", scheme=list(CoverageScheme)[i % 4], opened_on=t.date(),
             expires_on=(t + timedelta(days=abs(d) * 3)).date() if flag else None, actor=lead, occurred_at=t)
    elif name == "renew":
        call("file_coverage_renewal", scheme=list(CoverageScheme)[i % 4], filed_on=t.date(), actor=lead, occurred_at=t)
    elif name == "end_cov":
        call("end_coverage", scheme=list(CoverageScheme)[i % 4], reason="fin de droits", actor=lead, occurred_at=t)
    elif name == "housing_request":
        call("request_housing", request_id=new("housing"), via_agency=SIAO.agency, needed_from=day, actor=lead, occurred_at=t)
    elif name in ("offer", "confirm", "decline") and pick("housing"):
        request = pick("housing")
        if name == "offer":
            call("offer_housing", request_id=request, place="CHRS", available_on=day, actor=lead, occurred_at=t)
        elif name == "confirm":
            call("confirm_housing", request_id=request, actor=lead, occurred_at=t)
        else:
            call("decline_housing", request_id=request, reason="trop loin", actor=lead, occurred_at=t)
    elif name == "phone":
        call("record_phone_status", status=list(PhoneStatus)[i % 3], actor=lead, occurred_at=t)
    elif name == "contact":
        call("record_contact_attempt", reached=flag, channel="téléphone", actor=lead, occurred_at=t)
    elif name == "conference":
        call("hold_case_conference", conference_id=new("conference"), agencies=[p.lead_agency], decisions=["point"],
             actor=lead, occurred_at=t)
    elif name == "raise":
        open_keys = {(a.rule_id, a.subject) for a in p.open_alerts}
        findings = [f for f in evaluate(p, t, settings) if f.key not in open_keys]
        finding = _pick(findings, i)
        if finding is not None:
            call("raise_alert", alert_id=new("alert"), rule_id=finding.rule_id, subject=finding.subject,
                 triggering_event_ids=finding.fact_refs, owner_agency=finding.owner_agency,
                 suggested_action=finding.suggested_action, severity=finding.severity, actor=RISK, occurred_at=t)
    elif name in ("ack", "resolve") and p.open_alerts:
        alert = _pick(p.open_alerts, i)
        if name == "ack":
            call("acknowledge_alert", alert_id=alert.alert_id, actor=lead, occurred_at=t)
        else:
            call("resolve_alert", alert_id=alert.alert_id, reason="vu", actor=RISK, occurred_at=t)
    elif name == "close" and d >= 40:  # rare: a closed pathway refuses everything after
        call("close", outcome=ClosureOutcome.OTHER, reason="clos", actor=lead, occurred_at=t)
    elif name == "reopen":
        call("reopen", reason="rouvert", actor=lead, occurred_at=t)
    elif name == "exit_date":
        call("schedule_release", release_date=day, actor=lead, occurred_at=t)
        call("schedule_discharge", discharge_date=day, actor=lead, occurred_at=t)
    elif name == "exit":
        call("record_release", released_on=t.date(), actor=lead, occurred_at=t)
        call("record_discharge", discharged_on=t.date(), actor=lead, occurred_at=t)
        call("record_sas_exit", left_on=t.date(), destination="CADA", actor=lead, occurred_at=t)
    elif name == "treatment":
        # A carer records a treatment (the write is medical): the USMP, joining first if need be.
        if USMP.agency not in p.participants:
            call("add_agency", agency=USMP.agency, role=ROLES[USMP.agency], actor=lead, occurred_at=t)
        call("record_treatment_to_continue", treatment_id=new("treatment"), kind=list(TreatmentKind)[i % 5],
             name="traitement", prescribed_by=_pick(["usmp-rouen", "smpr-rouen"], d), actor=USMP, occurred_at=t)
    elif name == "follow_up" and pick("treatment") and pick("appointment"):
        call("plan_treatment_follow_up", treatment_id=pick("treatment"), appointment_id=pick("appointment"),
             actor=lead, occurred_at=t)
    elif name == "handover" and pick("treatment"):
        call("hand_over_treatment", treatment_id=pick("treatment"), to_agency=CSAPA.agency, actor=lead, occurred_at=t)
    elif name == "newborn":
        call("register_newborn", newborn_ref="NN", born_on=t.date(), actor=lead, occurred_at=t)
    elif name == "pmi":
        call("link_pmi", pmi_agency=PMI.agency, first_visit_on=day if flag else None, actor=lead, occurred_at=t)
    elif name == "tb_flag":
        call("flag_tb_screening_need", actor=lead, occurred_at=t)
    elif name == "clat":
        call("record_clat_screening", screened_on=t.date(), follow_up_needed=flag, actor=lead, occurred_at=t)
    elif name == "orientation":
        call("decide_orientation", destination="CADA", decided_on=t.date(), actor=lead, occurred_at=t)
    elif name == "gp_orient":
        call("orient_to_gp", orientation_id=new("orientation"), gp_ref=f"mg-{i}", gp_commune="Rouen",
             accepts_phone_interpreting=flag, actor=lead, occurred_at=t)
    elif name == "gp_call" and pick("orientation"):
        call("record_follow_up_call", orientation_id=pick("orientation"), reached=flag, actor=lead, occurred_at=t)
    elif name == "gp_outcome" and pick("orientation"):
        call("record_gp_visit_outcome", orientation_id=pick("orientation"),
             outcome=GpVisitOutcome.WENT if flag else GpVisitOutcome.DID_NOT_GO,
             reason=None if flag else list(NotWentReason)[d % len(NotWentReason)], detail=None, actor=lead, occurred_at=t)


@st.composite
def histories(draw) -> Played:
    kind = draw(st.sampled_from(["detention", "maternity", "sas", "pass_gp"]))
    exit_in = draw(st.one_of(st.none(), st.integers(-5, 40)))
    settings = draw(settings_strategy)
    pathway = open_pathway(kind, exit_in, draw(st.booleans()))
    played = Played(pathway=pathway, end=DAY0)
    t = DAY0
    for op in draw(st.lists(op_strategy, min_size=5, max_size=40)):
        t = t + timedelta(hours=op[4])
        try:
            apply(played, op, t, settings)
        except DomainError:
            pass
    played.end = t
    played.settings = settings  # type: ignore[attr-defined]
    return played
