"""For any generated history of agency commands and clock moves (with sweeps), the engine
never holds two open alerts for one (rule, subject), and after every sweep each open alert
is a risk the rules still find (and each finding has its alert) at that moment."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from uuid import uuid4

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from domain.rules import RULES, evaluate
from tests.unit.risk.world import CARDIO, CASO, CPAM, PASS, ROUEN, SIAO, Rejected, World

AGENCIES = (CARDIO, PASS, CASO)

_advance = st.tuples(st.just("advance"), st.integers(1, 24 * 10))
_attempt = st.tuples(st.just("attempt"), st.booleans())
ops = st.one_of(
    _advance, _advance, _advance, _advance,  # time moving is what makes deadlines pass
    _attempt, _attempt,
    st.tuples(st.just("phone"), st.sampled_from(["valid", "changed", "lost"])),
    st.tuples(st.just("book"), st.integers(0, 2), st.integers(1, 24 * 20), st.booleans()),
    st.tuples(st.just("conclude"), st.integers(0, 9), st.sampled_from(["missed", "seen", "cancel", "refuse", "interp"])),
    st.tuples(st.just("coverage"), st.sampled_from(["apply", "open", "renew", "end"]), st.integers(5, 60)),
    st.tuples(st.just("referral"), st.integers(0, 2)),
    st.tuples(st.just("referral_end"), st.integers(0, 5), st.sampled_from(["honoured", "rejected", "accepted"])),
    st.tuples(st.just("need"), st.booleans()),
    st.tuples(st.just("siao"), st.sampled_from(["join", "consent", "withdraw"])),
    st.tuples(st.just("ack"), st.integers(0, 5)),
    st.tuples(st.just("housing"), st.sampled_from(["request", "offer", "confirm", "decline"])),
    st.tuples(st.just("treatment"), st.sampled_from(["record", "follow_up"])),
    st.tuples(st.just("newborn"), st.sampled_from(["register", "pmi"])),
    st.tuples(st.just("sas"), st.sampled_from(["screened", "orientation"])),
)

KINDS = {
    "PassGp": lambda today: {},
    "Detention": lambda today: {"prison": "Maison d'arrêt de Rouen", "release_date": today + timedelta(days=20)},
    "Maternity": lambda today: {"maternity_ward": "Maternité CHU Rouen", "discharge_date": today + timedelta(days=12)},
    "Sas": lambda today: {"arrived_on": today, "from_high_tb_endemicity": True},
}


def apply(world: World, pid, op, state: dict) -> None:
    now = world.clock.now()
    kind = op[0]
    if kind == "advance":
        world.at(now + timedelta(hours=op[1]))
        return
    if kind == "attempt":
        world.send("RecordContactAttempt", pid, CASO, reached=op[1])
    elif kind == "phone":
        world.send("RecordPhoneStatus", pid, CASO, status=op[1])
    elif kind == "book":
        appointment = uuid4()
        state["appointments"].append(appointment)
        world.send("BookAppointment", pid, CASO, appointment_id=appointment, with_agency=AGENCIES[op[1]].agency,
                   service="consultation", scheduled_at=now + timedelta(hours=op[2]), interpreter_needed=op[3],
                   language="arabe" if op[3] else None)
    elif kind == "conclude" and state["appointments"]:
        appointment = state["appointments"][op[1] % len(state["appointments"])]
        verb = op[2]
        if verb == "missed":
            world.send("MarkAppointmentMissed", pid, PASS, appointment_id=appointment)
        elif verb == "seen":
            world.send("MarkAppointmentSeen", pid, PASS, appointment_id=appointment)
        elif verb == "cancel":
            world.send("CancelAppointment", pid, PASS, appointment_id=appointment, reason="report du service")
        elif verb == "refuse":
            world.send("CancelAppointment", pid, PASS, appointment_id=appointment, reason="la personne refuse")
        else:
            world.send("BookInterpreter", pid, PASS, appointment_id=appointment)
    elif kind == "coverage":
        day = now.date()
        if op[1] == "apply":
            world.send("ApplyForCoverage", pid, CASO, scheme="ame", applied_on=day)
        elif op[1] == "open":
            world.send("OpenCoverage", pid, CPAM, scheme="ame", opened_on=day, expires_on=day + timedelta(days=op[2]))
        elif op[1] == "renew":
            world.send("FileCoverageRenewal", pid, CASO, scheme="ame", filed_on=day)
        else:
            world.send("EndCoverage", pid, CPAM, scheme="ame", reason="fin de droits")
    elif kind == "referral":
        referral = uuid4()
        state["referrals"].append(referral)
        world.send("MakeReferral", pid, PASS, referral_id=referral, to_agency=AGENCIES[op[1]].agency,
                   service="orientation")
    elif kind == "referral_end" and state["referrals"]:
        referral = state["referrals"][op[1] % len(state["referrals"])]
        if op[2] == "honoured":
            world.send("RecordReferralOutcome", pid, PASS, referral_id=referral, outcome="honoured")
        else:
            world.send("UpdateReferralStatus", pid, PASS, referral_id=referral, status=op[2],
                       reason="plus de place" if op[2] == "rejected" else None)
    elif kind == "need":
        if op[1] or not state["needs"]:
            need = uuid4()
            state["needs"].append(need)
            world.send("RecordNeed", pid, CASO, need_id=need, category="care", description="suivi")
        else:
            world.send("MarkNeedMet", pid, CASO, need_id=state["needs"][0])
    elif kind == "siao":
        if op[1] == "join":
            world.send("AddAgency", pid, CASO, agency=SIAO.agency, role="housing")
        elif op[1] == "consent":
            world.send("GrantConsent", pid, CASO, agency=SIAO.agency, categories=["social"], collected_by="p-recueil", informed_by="oral")
        else:
            world.send("WithdrawConsent", pid, CASO, agency=SIAO.agency, categories=["social"], collected_by="p-recueil", informed_by="oral")
    elif kind == "housing":
        if op[1] == "request":
            request = uuid4()
            state["housing"].append(request)
            world.send("RequestHousing", pid, CASO, request_id=request, via_agency=SIAO.agency)
        elif state["housing"]:
            request = state["housing"][-1]
            if op[1] == "offer":
                world.send("OfferHousing", pid, CASO, request_id=request, place="CHRS", available_on=now.date())
            elif op[1] == "confirm":
                world.send("ConfirmHousing", pid, CASO, request_id=request)
            else:
                world.send("DeclineHousing", pid, CASO, request_id=request, reason="trop loin")
    elif kind == "treatment":
        if op[1] == "record":
            treatment = uuid4()
            state["treatments"].append(treatment)
            world.send("RecordTreatmentToContinue", pid, CASO, treatment_id=treatment, kind="substitution",
                       name="méthadone", prescribed_by=PASS.agency)
        elif state["treatments"] and state["appointments"]:
            world.send("PlanTreatmentFollowUp", pid, CASO, treatment_id=state["treatments"][-1],
                       appointment_id=state["appointments"][-1])
    elif kind == "newborn":
        if op[1] == "register":
            world.send("RegisterNewborn", pid, CASO, newborn_ref="NN-1", born_on=now.date())
        else:
            world.send("LinkPmi", pid, CASO, pmi_agency="pmi-76")
    elif kind == "sas":
        if op[1] == "screened":
            world.send("RecordClatScreening", pid, CASO, screened_on=now.date())
        else:
            world.send("DecideOrientation", pid, CASO, destination="CADA", decided_on=now.date())
    elif kind == "ack":
        open_alerts = world.open_alerts(pid)
        if open_alerts:
            world.send("AcknowledgeAlert", pid, CASO, alert_id=open_alerts[op[1] % len(open_alerts)].alert_id)


def no_duplicate_open_alerts(world: World, pid) -> None:
    keys = [(a.rule_id, a.subject) for a in world.open_alerts(pid)]
    assert len(keys) == len(set(keys)), keys


def open_alerts_match_findings(world: World, pid) -> None:
    pathway = world.pathway(pid)
    found = {f.key for f in evaluate(pathway, world.clock.now(), ROUEN)}
    open_keys = {(a.rule_id, a.subject) for a in pathway.open_alerts if a.rule_id in RULES}
    assert open_keys <= found, f"open alerts no rule finds any more: {open_keys - found}"
    assert found <= open_keys, f"findings without an open alert: {found - open_keys}"


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(KINDS)), history=st.lists(ops, min_size=1, max_size=30))
def test_for_any_history_one_open_alert_per_risk_and_after_each_sweep_open_alerts_are_exactly_the_findings(
    kind, history,
) -> None:
    world = World(Path(tempfile.mkdtemp()))
    try:
        pid = world.open(kind, CASO, PASS, CARDIO, CPAM, **KINDS[kind](world.clock.now().date()))
        state: dict = {"appointments": [], "referrals": [], "needs": [], "housing": [], "treatments": []}
        for op in history:
            try:
                apply(world, pid, op, state)
            except Rejected:
                pass  # the domain refused it (e.g. an appointment marked missed before its time)
            no_duplicate_open_alerts(world, pid)
            if op[0] == "advance":
                open_alerts_match_findings(world, pid)
        world.at(world.clock.now() + timedelta(minutes=1))
        open_alerts_match_findings(world, pid)
        alerts = world.alerts(pid)
        event(f"{kind}: {'no alert' if not alerts else 'alerts raised'}"
              f"{', some resolved' if any(a.status.value == 'resolved' for a in alerts) else ''}")
    finally:
        world.close()
