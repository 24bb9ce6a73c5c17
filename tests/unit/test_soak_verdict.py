"""The soak harness's verdict (bench/soak_verdict.py): a quiet, complete run passes; each kind of
fault the soak looks for (a lost command, a duplicated event, a read model behind, a missed or
stale alert, an unpublished alert, a partner message vanished, a fault never recovered) fails
its own check, and only that one."""

from __future__ import annotations

import dataclasses

from bench.soak_verdict import (
    Fault,
    Memory,
    Observed,
    Processed,
    SentCommand,
    SentInbound,
    decide,
    markdown,
)

P1, P2 = "p-1", "p-2"
PROJECTIONS = ("timeline", "alerts", "caseload")


def quiet_run() -> Observed:
    """Two pathways: P1 opened (2 events) then an alert raised by the engine (1 event), P2 opened
    (2 events) and a partner's housing offer (1 event); everything applied everywhere."""
    return Observed(
        sent=[SentCommand("c1", P1, "OpenDetentionPathway", "accepted", 2),
              SentCommand("c2", P2, "OpenPassGpPathway", "accepted", 2, attempts=3, duplicate=True),
              SentCommand("c3", P2, "AddAgency", "refused", code="AgencyAlreadyParticipating")],
        inbound=[SentInbound("ce-1", "siao", "c4", P2, "OfferHousing")],
        processed=[Processed("c1", P1, "OpenDetentionPathway", True, 2, 2),
                   Processed("c2", P2, "OpenPassGpPathway", True, 2, 2),
                   Processed("c3", P2, "AddAgency", False, None, 0),
                   Processed("c4", P2, "OfferHousing", True, 3, 1),
                   Processed("engine-raise", P1, "RaiseAlert", True, 3, 1)],
        store_versions={P1: [1, 2, 3], P2: [1, 2, 3]},
        applied={name: {P1: 3, P2: 3} for name in PROJECTIONS},
        timeline_rows={P1: 3, P2: 3},
        alerts_in_store=["a1"], alerts_in_read_model=["a1"],
        expected_alerts=[(P1, "exit-without-housing", "housing")],
        open_alerts=[(P1, "exit-without-housing", "housing", "a1")],
        alerts_topic_raised=["a1", "a1"], alerts_topic_ce_ids=["d1", "d2", "d2"],
        deadlettered={},
        faults=[Fault("kill -9", "relay", 25.0, 3.5), Fault("restart", "kafka", 40.0, 21.0)],
        memory=[Memory("relay", 80_000, 81_000, 1)],
        pathway_topic_records=7,
    )


def failing(observed: Observed) -> list[str]:
    return [c.name for c in decide(observed).checks if not c.ok]


def test_a_quiet_complete_run_passes_every_check_and_counts_what_was_sent():
    verdict = decide(quiet_run())
    assert failing(quiet_run()) == []
    assert verdict.figures["commands"]["accepted"] == 2
    assert verdict.figures["commands"]["answered_as_duplicate"] == 1
    assert verdict.figures["store"]["relay_republished"] == 1
    assert verdict.figures["alerts"]["republished_same_ce_id"] == 1


def test_an_accepted_command_missing_from_the_store_is_a_lost_command():
    run = quiet_run()
    run.processed = [p for p in run.processed if p.command_id != "c1"]
    assert "commandes acceptées présentes dans le journal" in failing(run)


def test_an_accepted_command_whose_version_is_not_in_the_store_is_lost_too():
    run = quiet_run()
    run.sent[0] = dataclasses.replace(run.sent[0], version=5)
    assert failing(run) == ["commandes acceptées présentes dans le journal"]


def test_an_event_written_twice_is_a_duplicate_in_the_store():
    run = quiet_run()
    run.store_versions[P1] = [1, 2, 3, 4]
    run.applied = {name: {P1: 4, P2: 3} for name in PROJECTIONS}
    run.timeline_rows[P1] = 4
    assert failing(run) == ["doublons dans le journal (événements au-delà de ce que les commandes ont écrit)"]


def test_a_read_model_behind_the_store_fails_for_that_read_model_only():
    run = quiet_run()
    run.applied["caseload"][P2] = 2
    assert failing(run) == ["lecture caseload : événements appliqués = événements du journal"]


def test_a_missing_timeline_row_is_found():
    run = quiet_run()
    run.timeline_rows[P2] = 2
    assert failing(run) == ["lignes de timeline = événements du journal"]


def test_an_alert_the_rules_find_but_nobody_raised_is_a_missed_alert():
    run = quiet_run()
    run.expected_alerts.append((P2, "housing-request-unanswered", "housing"))
    assert failing(run) == ["alertes attendues (rejeu des règles sur le journal) ouvertes"]


def test_an_open_alert_whose_risk_is_gone_is_reported_as_not_resolved():
    run = quiet_run()
    run.expected_alerts = []
    assert failing(run) == ["alertes ouvertes que les règles ne trouvent plus (non résolues)"]


def test_two_open_alerts_for_one_rule_and_subject_are_a_duplicate_alert():
    run = quiet_run()
    run.open_alerts.append((P1, "exit-without-housing", "housing", "a2"))
    run.alerts_in_store.append("a2")
    run.alerts_in_read_model.append("a2")
    run.alerts_topic_raised.append("a2")
    assert failing(run) == ["au plus une alerte ouverte par (parcours, règle, sujet)"]


def test_a_raised_alert_never_published_on_the_alerts_topic_fails():
    run = quiet_run()
    run.alerts_topic_raised = []
    assert failing(run) == ["alertes levées publiées sur le topic alerts"]


def test_a_partner_message_neither_handled_nor_dead_lettered_has_vanished():
    run = quiet_run()
    run.inbound.append(SentInbound("ce-2", "siao", "c9", P2, "ConfirmHousing"))
    assert failing(run) == ["messages partenaires traités (appliqués, refusés ou en lettre morte)"]
    run.deadlettered["ce-2"] = "duplicate ce_id"
    assert failing(run) == []


def test_a_fault_not_recovered_before_the_deadline_fails_and_the_markdown_says_so():
    run = quiet_run()
    run.faults.append(Fault("restart", "postgresql", 60.0, None))
    verdict = decide(run)
    assert [c.name for c in verdict.checks if not c.ok] == ["chaque panne rétablie"]
    text = markdown(run, verdict, "bench/soak.py --duration 60")
    assert "**ÉCHEC**" in text and "| restart postgresql | 60 | **non** |" in text
