"""Each read model, fed with REAL pathway events: commands through the pathways handler on an
in-memory event store, relayed on the in-process bus into the SQLite projections."""

from __future__ import annotations

import re
from uuid import uuid4

import pytest

import domain
from domain import disclosure as catalogue
from projections import queries as q
from projections.base import PathwayEvent, Projection
from projections.registry import PROJECTIONS
from projections.timeline import LABELS
from tests.unit.projections.conftest import T0, World, open_pass_gp

NEED, NEED2, ORIENT, REF, ALERT, APPT, HOUSING = (str(uuid4()) for _ in range(7))


def _open_detention(world: World, release: str = "2026-03-20") -> str:
    pid = str(uuid4())
    world.send("OpenDetentionPathway", pid, "usmp", 0, person_ref="P-0002", territory="76", lead_agency="usmp",
               prison="MA Rouen", release_date=release)
    return pid


def test_a_pathway_summary_shows_kind_territory_lead_open_needs_and_last_activity(world: World) -> None:
    pid = open_pass_gp(world)
    world.send("RecordNeed", pid, "pass", 1, need_id=NEED, category="housing", description="à la rue")
    world.send("RecordNeed", pid, "pass", 2, need_id=NEED2, category="care", description="suivi diabète")
    world.send("MarkNeedMet", pid, "pass", 3, need_id=NEED)
    row = q.pathway_summary(world.conn, pid)
    assert row is not None
    assert (row["kind"], row["territory"], row["lead_agency"], row["state"]) == ("pass_gp", "76", "pass", "open")
    assert row["open_needs_count"] == 1
    assert [n["need_id"] for n in q.needs(world.conn, [pid])[pid]] == [NEED2]
    assert row["last_activity_at"] == "2026-03-05T09:00:00.000000Z"
    assert (row["last_agency"], row["last_event"], row["last_seq"]) == ("pass", "NeedMet", 4)


def test_a_late_entry_does_not_move_the_last_activity_back(world: World) -> None:
    pid = open_pass_gp(world)
    world.send("RecordNeed", pid, "pass", 5, need_id=NEED, category="housing", description="x")
    world.send("RecordContactAttempt", pid, "pass", 2, reached=False, channel="phone")
    row = q.pathway_summary(world.conn, pid)
    assert row["last_activity_at"] == "2026-03-07T09:00:00.000000Z"
    assert row["last_event"] == "ContactAttempted"


def test_the_next_milestone_is_the_exit_date_until_the_exit_is_recorded(world: World) -> None:
    pid = _open_detention(world)
    row = q.pathway_summary(world.conn, pid)
    assert (row["next_milestone"], row["next_milestone_on"]) == ("release", "2026-03-20")
    world.send("ScheduleRelease", pid, "usmp", 1, release_date="2026-03-25")
    assert q.pathway_summary(world.conn, pid)["next_milestone_on"] == "2026-03-25"
    world.send("RecordRelease", pid, "usmp", 23, released_on="2026-03-25")
    row = q.pathway_summary(world.conn, pid)
    assert (row["next_milestone"], row["next_milestone_on"], row["exited_on"]) == (None, None, "2026-03-25")


def test_the_sas_milestone_is_day_21_after_arrival(world: World) -> None:
    pid = str(uuid4())
    world.send("OpenSasPathway", pid, "sas", 0, person_ref="P-3", territory="14", lead_agency="sas",
               arrived_on="2026-03-02", from_high_tb_endemicity=True)
    row = q.pathway_summary(world.conn, pid)
    assert (row["next_milestone"], row["next_milestone_on"]) == ("sas_day_21", "2026-03-23")


def test_the_next_appointment_is_the_earliest_one_still_booked(world: World) -> None:
    pid = open_pass_gp(world)
    other = str(uuid4())
    world.send("BookAppointment", pid, "pass", 1, appointment_id=APPT, with_agency="pass", service="cardiologie",
               scheduled_at="2026-03-10T14:30:00+01:00", interpreter_needed=False, language=None)
    world.send("BookAppointment", pid, "pass", 1, appointment_id=other, with_agency="pass", service="bilan",
               scheduled_at="2026-03-20T09:00:00+01:00", interpreter_needed=False, language=None)
    assert q.pathway_summary(world.conn, pid)["next_appointment_at"] == "2026-03-10T13:30:00.000000Z"
    world.send("CancelAppointment", pid, "pass", 2, appointment_id=APPT, reason="report")
    assert q.pathway_summary(world.conn, pid)["next_appointment_at"] == "2026-03-20T08:00:00.000000Z"


def test_closing_then_reopening_moves_the_state_in_the_summary_and_the_caseload(world: World) -> None:
    pid = open_pass_gp(world)
    world.send("ClosePathway", pid, "pass", 3, outcome="lost_to_follow_up", reason="injoignable")
    row = q.pathway_summary(world.conn, pid)
    assert (row["state"], row["closure_outcome"]) == ("closed", "lost_to_follow_up")
    assert q.caseload_by_agency(world.conn, "pass").items == []
    world.send("ReopenPathway", pid, "pass", 4, reason="a rappelé")
    assert q.pathway_summary(world.conn, pid)["state"] == "open"
    assert [r["pathway_id"] for r in q.caseload_by_agency(world.conn, "pass").items] == [pid]


def test_the_timeline_has_one_row_per_event_with_who_when_a_french_label_and_a_category(world: World) -> None:
    pid = open_pass_gp(world)
    world.send("AddAgency", pid, "pass", 0.5, agency="cpam", role="rights")
    world.send("ApplyForCoverage", pid, "pass", 1, scheme="ame", applied_on="2026-03-03")
    world.send("OpenCoverage", pid, "cpam", 4, scheme="ame", opened_on="2026-03-06", expires_on="2027-03-05")
    world.send("OrientToGp", pid, "pass", 5, orientation_id=ORIENT, gp_ref="MG-012", gp_commune="Rouen",
               accepts_phone_interpreting=True)
    rows = q.timeline(world.conn, pid)
    assert [r["event_type"] for r in rows] == ["PassGpPathwayOpened", "AgencyJoined", "CoverageApplied",
                                               "CoverageOpened", "OrientedToGp"]
    assert [r["category"] for r in rows] == ["identity", "administrative", "administrative", "administrative", "medical"]
    assert rows[3]["label"] == "Droits AME ouverts jusqu'au 05/03/2027"
    assert (rows[3]["agency"], rows[3]["professional"], rows[3]["occurred_at"]) == (
        "cpam", "cpam-pro-1", "2026-03-06T09:00:00.000000Z")
    assert rows[3]["recorded_at"] > rows[3]["occurred_at"]  # a late entry: recorded later than it happened
    medical_hidden = q.timeline(world.conn, pid, categories={"identity", "social", "administrative"})
    assert "OrientedToGp" not in [r["event_type"] for r in medical_hidden]


def test_every_event_of_the_four_pathways_has_a_french_label() -> None:
    names = set()
    for cls in domain.PATHWAY_CLASSES.values():
        for klass in cls.__mro__:
            for value in vars(klass).values():
                if isinstance(value, type) and issubclass(value, domain.Pathway.Event) and value is not domain.Pathway.Event:
                    names.add(value.__name__)
    names -= {"Created", "Event"}  # the library's generic bases, never stored as such
    assert len(names) > 50, sorted(names)
    # A sentence of its own, or the catalogue's plain label; never a sentence for a type the
    # catalogue does not categorise.
    assert sorted(names - set(catalogue.EVENTS)) == []
    assert set(LABELS) <= set(catalogue.EVENTS)


def test_caseload_lists_open_pathways_per_agency_with_its_role_and_per_professional_by_last_actor(world: World) -> None:
    a, b = open_pass_gp(world), open_pass_gp(world)
    world.send("AddAgency", a, "pass", 1, agency="siao", role="housing")
    world.send("AddAgency", b, "pass", 1, agency="siao", role="housing")
    world.send("RecordContactAttempt", b, "siao", 2, reached=True, channel="phone")
    world.send("RemoveAgency", a, "pass", 3, agency="siao", reason="plus concerné")
    siao = q.caseload_by_agency(world.conn, "siao").items
    assert [(r["pathway_id"], r["role"]) for r in siao] == [(b, "housing")]
    assert [r["pathway_id"] for r in q.caseload_by_professional(world.conn, "siao-pro-1").items] == [b]
    first = q.caseload_by_agency(world.conn, "pass", first=1)  # same opening instant: by id
    rest = q.caseload_by_agency(world.conn, "pass", first=1, after=first.end_cursor)
    assert first.has_next_page and not rest.has_next_page
    assert [r["pathway_id"] for r in first.items + rest.items] == sorted([a, b], reverse=True)
    counts = {(r["agency"], r["role"]): r["open_pathways"] for r in q.caseload_counts(world.conn, territory="76")}
    assert counts == {("pass", "lead"): 2, ("siao", "housing"): 1}


def test_an_alert_goes_from_raised_to_resolved_with_its_history_and_leaves_the_open_count(world: World) -> None:
    pid = _open_detention(world)
    world.send("RaiseAlert", pid, "relais", 1, alert_id=ALERT, rule_id="exit-without-housing", subject="pathway",
               triggering_event_ids=["e-1", "e-2"], owner_agency="usmp",
               suggested_action="Appeler le SIAO pour une place avant la sortie.", severity="high")
    assert q.pathway_summary(world.conn, pid)["open_alerts_count"] == 1
    assert [r["pathway_id"] for r in q.pathways(world.conn, has_open_alert=True).items] == [pid]
    world.send("AcknowledgeAlert", pid, "usmp", 1.5, alert_id=ALERT)
    world.send("EscalateAlert", pid, "relais", 2, alert_id=ALERT, to_agency="dac", reason="pas de place")
    world.send("ResolveAlert", pid, "relais", 3, alert_id=ALERT, reason="hébergement confirmé")
    page = q.alerts(world.conn, owner_agency="usmp")
    (alert,) = page.items
    assert (alert["rule_id"], alert["severity"], alert["status"], alert["is_open"]) == (
        "exit-without-housing", "high", "resolved", 0)
    assert (alert["territory"], alert["kind"], alert["escalated_to"], alert["acknowledged_by"]) == (
        "76", "detention", "dac", "usmp")
    assert alert["triggering_event_ids"] == '["e-1","e-2"]'
    assert alert["suggested_action"].startswith("Appeler le SIAO")
    assert [h["status"] for h in q.alert_history(world.conn, ALERT)] == ["raised", "acknowledged", "escalated", "resolved"]
    assert q.pathway_summary(world.conn, pid)["open_alerts_count"] == 0
    assert q.alerts(world.conn, is_open=True).items == []


def test_a_gp_orientation_closes_the_loop_with_its_calls_delays_and_the_reason_it_failed(world: World) -> None:
    pid = open_pass_gp(world)
    world.send("OpenCoverage", pid, "pass", 0.5, scheme="ame", opened_on="2026-03-02", expires_on=None)
    world.send("OrientToGp", pid, "pass", 1, orientation_id=ORIENT, gp_ref="MG-012", gp_commune="Rouen",
               accepts_phone_interpreting=False)
    world.send("RecordFollowUpCall", pid, "pass", 5, orientation_id=ORIENT, reached=False)
    world.send("RecordFollowUpCall", pid, "pass", 8, orientation_id=ORIENT, reached=True)
    world.send("RecordGpVisitOutcome", pid, "pass", 11, orientation_id=ORIENT, outcome="did_not_go",
               reason="afraid_paper_certificate", detail="attestation papier")
    (ref,) = q.referrals(world.conn, pathway_ids=[pid])
    assert (ref["is_gp_orientation"], ref["to_agency"], ref["status"], ref["outcome"]) == (1, "MG-012", "failed", "not_honoured")
    assert (ref["outcome_reason"], ref["outcome_detail"]) == ("afraid_paper_certificate", "attestation papier")
    assert (ref["follow_up_calls"], ref["calls_reached"], ref["days_to_first_contact"], ref["days_to_outcome"]) == (2, 1, 7.0, 10.0)
    assert [s["step"] for s in q.referral_steps(world.conn, ORIENT)] == [
        "made", "call_unanswered", "call_reached", "not_honoured"]


def test_a_referral_records_each_status_change_then_its_outcome(world: World) -> None:
    pid = open_pass_gp(world)
    world.send("MakeReferral", pid, "pass", 1, referral_id=REF, to_agency="csapa", service="addictologie", need_id=None)
    world.send("UpdateReferralStatus", pid, "pass", 2, referral_id=REF, status="accepted", reason=None)
    world.send("RecordReferralOutcome", pid, "pass", 4.5, referral_id=REF, outcome="honoured", reason=None)
    (ref,) = q.referrals(world.conn, to_agency="csapa")
    assert (ref["status"], ref["outcome"], ref["days_to_outcome"], ref["territory"]) == ("completed", "honoured", 3.5, "76")
    assert [s["step"] for s in q.referral_steps(world.conn, REF)] == ["made", "accepted", "honoured"]


def test_consent_per_agency_and_category_is_granted_then_withdrawn(world: World) -> None:
    pid = open_pass_gp(world)
    world.send("GrantConsent", pid, "pass", 1, agency="siao", categories=["social", "identity", "medical"], collected_by="p-recueil", informed_by="oral")
    assert q.consented_categories(world.conn, pid, "siao") == {"identity", "social", "medical"}
    world.send("WithdrawConsent", pid, "pass", 2, agency="siao", categories=["medical"], collected_by="p-recueil", informed_by="oral")
    assert q.consented_categories(world.conn, pid, "siao") == {"identity", "social"}
    assert q.consents(world.conn, [pid]) == {pid: {"siao": {"identity", "social"}}}
    assert q.consented_categories(world.conn, pid, "cpam") == set()


def test_pathway_lists_filter_by_kind_territory_agency_state_and_page_with_a_cursor(world: World) -> None:
    ids = []
    for i in range(7):
        pid = str(uuid4())
        world.send("OpenPassGpPathway", pid, "pass", i, person_ref=f"P-{i}", territory="76" if i % 2 else "27",
                   lead_agency="pass")
        ids.append(pid)
    world.send("AddAgency", ids[3], "pass", 8, agency="siao", role="housing")
    world.send("ClosePathway", ids[5], "pass", 8, outcome="other", reason="déménagement")
    d = _open_detention(world)
    seen, after = [], None
    while True:
        page = q.pathways(world.conn, kind="pass_gp", first=3, after=after)
        seen += [r["pathway_id"] for r in page.items]
        if not page.has_next_page:
            break
        after = page.end_cursor
    assert seen == list(reversed(ids))  # newest opened first, each once
    assert d not in seen
    assert [r["pathway_id"] for r in q.pathways(world.conn, kind="pass_gp", territory="76", state="open").items] == [ids[3], ids[1]]
    assert [r["pathway_id"] for r in q.pathways(world.conn, agency="siao").items] == [ids[3]]
    assert [r["pathway_id"] for r in q.pathways(world.conn, agency="usmp").items] == [d]
    with pytest.raises(ValueError):
        q.pathways(world.conn, after="pas-un-curseur")


def test_territory_indicators_count_per_month_and_suppress_counts_below_five(world: World) -> None:
    for i in range(7):
        pid = open_pass_gp(world)
        world.send("OpenCoverage", pid, "pass", 1, scheme="ame", opened_on="2026-03-03", expires_on=None)
        orientation = str(uuid4())
        world.send("OrientToGp", pid, "pass", 2, orientation_id=orientation, gp_ref="MG-1", gp_commune="Rouen",
                   accepts_phone_interpreting=True)
        went = i < 5
        world.send("RecordGpVisitOutcome", pid, "pass", 10 + i, orientation_id=orientation,
                   outcome="went" if went else "did_not_go", reason=None if went else "no_interpreter", detail=None)
        world.send("RaiseAlert", pid, "relais", 3, alert_id=str(uuid4()),
                   rule_id="referral-unverified" if i < 5 else "contact-lost", subject="pathway",
                   triggering_event_ids=[], owner_agency="pass", suggested_action="Rappeler.", severity="medium")
    other = open_pass_gp(world, territory="27")
    assert other
    found = q.territory_indicators(world.conn, "76")
    rows = {(r["month"], r["indicator"], r["detail"]): r for r in found["monthly"]}
    assert rows[("2026-03", "pathway_opened", None)]["count"] == 7
    assert rows[("2026-03", "orientation_made", None)]["count"] == 7
    assert rows[("2026-03", "orientation_reached", None)]["count"] == 7
    assert rows[("2026-03", "orientation_honoured", None)]["count"] == 5
    gp = rows[("2026-03", "delay_gp_days", None)]
    assert (gp["count"], gp["median_days"], gp["suppressed"]) == (5, 12.0, False)
    small = rows[("2026-03", "orientation_not_honoured", None)]
    assert (small["count"], small["suppressed"]) == (None, True)
    assert rows[("2026-03", "alert_raised", None)]["count"] == 7
    # one small cell in a breakdown hides the next smallest too (else total - shown = hidden)
    assert rows[("2026-03", "alert_raised", "contact-lost")]["suppressed"]
    assert rows[("2026-03", "alert_raised", "referral-unverified")]["suppressed"]
    # ... and so does the all-time count of that rule (it is the month's count)
    assert {c["key"]: c["count"] for c in found["alerts"]["raised_by_rule"]} == {
        "contact-lost": None, "referral-unverified": None}
    assert all(r["territory"] == "76" for r in rows.values())
    assert not any("pathway_id" in r or "agency" in r for r in rows.values())


def test_one_gp_orientation_not_honoured_out_of_six_hides_what_would_give_it_away(world: World) -> None:
    """reached 6 = honoured + not honoured (hidden, so >= 1): honoured 5 would pin it at 1."""
    for i in range(6):
        pid = open_pass_gp(world)
        world.send("OpenCoverage", pid, "pass", 1, scheme="ame", opened_on="2026-03-03", expires_on=None)
        orientation = str(uuid4())
        world.send("OrientToGp", pid, "pass", 2, orientation_id=orientation, gp_ref="MG-1", gp_commune="Rouen")
        world.send("RecordGpVisitOutcome", pid, "pass", 10 + i, orientation_id=orientation,
                   outcome="went" if i else "did_not_go", reason=None if i else "no_interpreter", detail=None)
    funnel = q.territory_indicators(world.conn, "76")["orientations"]
    assert funnel["made"] == 6
    assert funnel["not_honoured"] is None
    assert None in (funnel["reached"], funnel["honoured"])


class _NoReads:
    """A connection that fails on any use: apply must not read."""

    def __getattr__(self, name: str) -> None:
        raise AssertionError(f"apply used the database ({name})")


PG_ONLY = re.compile(r"\b(now|clock_timestamp|jsonb?_\w+|array_agg|unnest|greatest|least|::)\b|::", re.I)


@pytest.mark.parametrize("name", list(PROJECTIONS))
def test_apply_is_pure_deterministic_and_in_portable_sql(world: World, name: str) -> None:
    pid = _open_detention(world)
    world.send("RecordNeed", pid, "usmp", 1, need_id=NEED, category="housing", description="x")
    world.send("GrantConsent", pid, "usmp", 1, agency="siao", categories=["social"], collected_by="p-recueil", informed_by="oral")
    world.send("RaiseAlert", pid, "relais", 2, alert_id=ALERT, rule_id="stalled", subject="pathway",
               triggering_event_ids=[], owner_agency="usmp", suggested_action="Faire le point.", severity="low")
    projection: Projection = PROJECTIONS[name](3)
    events = [PathwayEvent.from_cloud_event(ce) for ce in world.bus.events()]
    for event in events:
        first, again = projection.apply(event), projection.apply(event)
        assert first == again
        for statement in first:
            assert statement.sql.count("%s") == len(statement.params)
            assert not PG_ONLY.search(statement.sql), statement.sql
            assert "_v3" in statement.sql and "_v1" not in statement.sql


def test_case_conference_actions_are_listed_with_their_owner_due_date_and_completion(world: World) -> None:
    pid = open_pass_gp(world)
    conference, action, other = str(uuid4()), str(uuid4()), str(uuid4())
    world.send("AddAgency", pid, "pass", 0.5, agency="dac", role="coordination")
    world.send("HoldCaseConference", pid, "dac", 1, conference_id=conference, agencies=["pass", "dac"],
               decisions=["chercher un hébergement"])
    world.send("AssignAction", pid, "dac", 1, conference_id=conference, action_id=action, owner_agency="pass",
               description="Appeler le 115", due_on="2026-03-05")
    world.send("AssignAction", pid, "dac", 1, conference_id=conference, action_id=other, owner_agency="dac",
               description="Relancer la CPAM", due_on="2026-03-04")
    world.send("CompleteAction", pid, "pass", 2, action_id=action)
    rows = q.actions(world.conn, [pid])[pid]
    assert [(r["owner_agency"], r["due_on"], r["done"]) for r in rows] == [("dac", "2026-03-04", 0), ("pass", "2026-03-05", 1)]
    assert [r["action_id"] for r in q.actions(world.conn, [pid], open_only=True)[pid]] == [other]
    assert q.pathway_summary(world.conn, pid)["person_ref"] == "P-0001"


def test_a_referral_is_medical_information_unless_it_goes_to_a_housing_or_administrative_service(world: World) -> None:
    pid = open_pass_gp(world)
    for to_agency, service in (("csapa-rouen", "addictologie"), ("siao-76", "hébergement d'urgence"),
                               ("cpam-76", "ouverture des droits")):
        world.send("MakeReferral", pid, "pass", 1, referral_id=str(uuid4()), to_agency=to_agency, service=service,
                   need_id=None)
    rows = [r for r in q.timeline(world.conn, pid) if r["event_type"] == "ReferralMade"]
    assert [(r["label"], r["category"]) for r in rows] == [
        ("Orientation vers CSAPA La Boussole (Rouen) (addictologie)", "medical"),
        ("Orientation vers SIAO 76 (hébergement d'urgence)", "social"),
        ("Orientation vers CPAM de Seine-Maritime (ouverture des droits)", "administrative"),
    ]
    social_view = q.timeline(world.conn, pid, categories={"social"})
    assert not any("CSAPA" in r["label"] for r in social_view)


@pytest.mark.parametrize("text", ["2026-03-02T09:00:00+00:00", "2026-03-02T09:00:00.123456+00:00",
                                  "2026-03-02T10:00:00+01:00", "2026-03-02T09:00:00.5+00:00",
                                  "2026-03-02T09:00:00Z", "2026-12-31T23:59:59.999999-02:00"])
def test_instants_are_stored_as_fixed_width_utc_text_whatever_their_offset(text: str) -> None:
    from datetime import datetime, timezone

    from projections.base import utc_iso

    expected = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)
    assert utc_iso(text) == expected.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert len(utc_iso(text)) == 27


def test_an_alert_updated_then_dismissed_by_its_owner_is_counted_per_rule_and_reason(world: World) -> None:
    pid = _open_detention(world)
    world.send("AddAgency", pid, "usmp", 0.5, agency="siao-76", role="housing")
    world.send("RaiseAlert", pid, "relais", 1, alert_id=ALERT, rule_id="exit-without-housing", subject="exit",
               triggering_event_ids=["e-1"], owner_agency="spip",
               suggested_action="Déposer une demande d'hébergement.", severity="medium")
    world.send("UpdateAlert", pid, "relais", 2, alert_id=ALERT, owner_agency="siao-76",
               suggested_action="Trouver une solution d'hébergement.", severity="high")
    (alert,) = q.alerts(world.conn, owner_agency="siao-76").items
    assert (alert["severity"], alert["status"], alert["suggested_action"]) == (
        "high", "raised", "Trouver une solution d'hébergement.")
    world.send("DismissAlert", pid, "siao-76", 3, alert_id=ALERT, reason="handled_elsewhere",
               detail="place trouvée par la famille")
    (alert,) = q.alerts(world.conn, owner_agency="siao-76").items
    assert (alert["status"], alert["is_open"], alert["dismissal_reason"], alert["dismissed_by"]) == (
        "dismissed", 0, "handled_elsewhere", "siao-76")
    assert [h["status"] for h in q.alert_history(world.conn, ALERT)] == ["raised", "updated", "dismissed"]
    assert q.alert_dismissals(world.conn, territory="76") == [
        {"territory": "76", "rule_id": "exit-without-housing", "reason": "handled_elsewhere", "dismissed": 1}]
    assert q.pathway_summary(world.conn, pid)["open_alerts_count"] == 0
