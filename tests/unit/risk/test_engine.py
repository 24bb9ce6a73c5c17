"""The risk engine's own behaviour: idempotence, no loop, escalation, the sweep reading only the
due pathways, deterministic ids, hand-resolved alerts, closed pathways."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from domain.values import AlertStatus
from services.risk import alert_id_for, command_id_for
from tests.unit.risk.world import CASO, CSAPA, DAC, EMPP, MINUTE, PASS, SIAO, SPIP, USMP, World, at, on, paris_midnight


def _contact_lost(world: World):
    pid = world.open("PassGp", CASO, PASS)
    for day in (1, 2, 3):
        world.send("RecordContactAttempt", pid, CASO, when=at(day), reached=False)
    return pid


def test_the_alert_id_is_derived_from_pathway_rule_subject_and_occurrence(world: World) -> None:
    pid = _contact_lost(world)
    [alert] = world.alerts(pid, "contact-lost")
    assert alert.alert_id == alert_id_for(pid, "contact-lost", "contact", 0)


def test_every_event_delivered_again_raises_nothing_twice_and_writes_nothing(world: World) -> None:
    pid = _contact_lost(world)
    stored = world.stored_event_count(pid)

    for event in world.bus.events():  # a consumer restarting from the beginning of the topic
        world.embedded(event)
    world.pump()

    assert world.stored_event_count(pid) == stored
    assert len(world.alerts(pid, "contact-lost")) == 1


def test_repeated_sweeps_raise_nothing_twice(world: World) -> None:
    pid = world.open("Detention", SPIP, USMP, SIAO, prison="Maison d'arrêt de Rouen", release_date=on(25))
    threshold = paris_midnight(on(10))
    world.at(threshold)
    stored = world.stored_event_count(pid)
    raised = {a.alert_id for a in world.alerts(pid)}
    assert raised

    for minutes in range(3):
        world.at(threshold + minutes * MINUTE)
    assert world.stored_event_count(pid) == stored
    assert {a.alert_id for a in world.alerts(pid)} == raised


def test_a_sweep_run_again_after_a_crash_before_its_index_commit_sends_the_same_command_ids_and_writes_nothing(
    world: World,
) -> None:
    pid = world.open("Detention", SPIP, USMP, SIAO, prison="Maison d'arrêt de Rouen", release_date=on(25))
    threshold = paris_midnight(on(10))
    world.clock.set(threshold)
    # The first sweep wrote its alert commands, then died before committing the index: the
    # row is still due. A second engine process sweeps it again, from a state that already
    # shows the alerts: nothing new; and the very same commands are answered from the store.
    world.engine.sweep()
    stored = world.stored_event_count(pid)
    with world.index.transaction() as conn:
        world.index.set(conn, pid, "76", threshold)
    result = world.engine.sweep()
    assert result.due == 1 and result.raised == 0
    assert world.stored_event_count(pid) == stored

    [alert] = world.alerts(pid, "exit-without-housing")
    again = world.handler.handle_payload("RaiseAlert", {
        "command_id": str(command_id_for(alert.alert_id, "raise")), "pathway_id": str(pid),
        "actor": {"agency": "relais", "professional": "risk-engine", "role": "moteur de règles"},
        "occurred_at": threshold.isoformat(), "alert_id": str(alert.alert_id), "rule_id": alert.rule_id,
        "subject": alert.subject, "triggering_event_ids": alert.triggering_event_ids,
        "owner_agency": alert.owner_agency, "suggested_action": alert.suggested_action,
        "severity": alert.severity.value,
    })
    assert again.accepted and again.duplicate
    assert world.stored_event_count(pid) == stored


def test_the_engines_own_alert_events_coming_back_send_no_command(world: World) -> None:
    pid = _contact_lost(world)
    sent = []
    world.engine.on_outcome = sent.append
    raised = [e for e in world.bus.events() if e.type.endswith(".AlertRaised.v1")]
    assert raised

    for event in raised * 3:
        outcome = world.engine.handle_cloud_event(None, event)
        assert outcome is not None and outcome.commands == 0
    assert world.pump() == 0
    assert sent == []


def test_a_critical_alert_nobody_acknowledged_is_escalated_to_the_dac_after_24_hours(world: World) -> None:
    pid = world.open("Detention", SPIP, USMP, SIAO, CSAPA, prison="Maison d'arrêt de Rouen", release_date=on(20))
    world.send("RecordTreatmentToContinue", pid, USMP, when=at(1), treatment_id=uuid4(), kind="substitution",
               name="méthadone", prescribed_by=USMP.agency)
    threshold = paris_midnight(on(10))
    world.at(threshold)
    [alert] = world.alerts(pid, "treatment-continuity")
    assert world.due_at(pid) <= threshold + timedelta(hours=24)

    world.at(threshold + timedelta(hours=24) - MINUTE)
    assert world.alerts(pid, "treatment-continuity")[0].status is AlertStatus.RAISED
    world.at(threshold + timedelta(hours=24))
    [alert] = world.alerts(pid, "treatment-continuity")
    assert alert.status is AlertStatus.ESCALATED
    assert alert.escalated_to == "dac-rouen"
    assert "sans prise en compte par usmp-rouen depuis 24 h" in alert.escalation_reason

    world.at(threshold + timedelta(days=3))  # later sweeps do not escalate it again
    escalations = [e for e in world.events(pid) if type(e).__name__ == "AlertEscalated" and e.alert_id == alert.alert_id]
    assert len(escalations) == 1


def test_an_acknowledged_alert_is_not_escalated(world: World) -> None:
    pid = _contact_lost(world)  # high: 72 h
    [alert] = world.alerts(pid, "contact-lost")
    world.send("AcknowledgeAlert", pid, CASO, when=at(3, 2), alert_id=alert.alert_id)
    world.at(at(10))
    [alert] = world.alerts(pid, "contact-lost")
    assert alert.status is AlertStatus.ACKNOWLEDGED
    assert not [e for e in world.events(pid) if type(e).__name__ == "AlertEscalated"]


def test_an_alert_the_dac_already_owns_is_escalated_to_the_lead_agency(world: World) -> None:
    pid = world.open("PassGp", CASO, PASS, EMPP, DAC)
    appointment = uuid4()
    world.send("BookAppointment", pid, EMPP, appointment_id=appointment, with_agency=EMPP.agency,
               service="hospitalisation", scheduled_at=at(3))
    world.send("CancelAppointment", pid, EMPP, when=at(2), appointment_id=appointment, reason="refus de la personne")
    [alert] = world.alerts(pid, "care-refused")
    assert alert.owner_agency == DAC.agency

    world.at(at(5) - MINUTE)
    assert world.alerts(pid, "care-refused")[0].status is AlertStatus.RAISED
    world.at(at(5))
    [alert] = world.alerts(pid, "care-refused")
    assert alert.status is AlertStatus.ESCALATED and alert.escalated_to == CASO.agency


def test_the_sweep_loads_only_the_pathways_whose_deadline_passed(world: World) -> None:
    pathways = []
    for hour in range(30):
        pid = world.open("PassGp", CASO, PASS, CSAPA)
        world.send("MakeReferral", pid, PASS, when=at(0, hour), referral_id=uuid4(), to_agency=CSAPA.agency,
                   service="addictologie")
        pathways.append(pid)
    quiet = [world.open("PassGp", CASO, PASS) for _ in range(20)]  # nothing will ever be due
    assert all(world.due_at(pid) is None for pid in quiet)

    world.engine.loads, world.engine.loaded_ids = 0, []
    result = world.at(at(14, 2.5))  # referrals of hours 0..2 are 14 days old; the others are not
    assert result.due == 3
    assert set(world.engine.loaded_ids) == set(pathways[:3])
    assert world.engine.loads == 3 + 3  # the three swept + their three AlertRaised coming back

    world.engine.loads = 0
    world.at(at(14, 2.75))
    assert world.engine.loads == 0


def test_an_alert_a_professional_resolved_is_not_raised_again_for_the_same_risk_but_is_for_a_new_one(
    world: World,
) -> None:
    pid = _contact_lost(world)
    [alert] = world.alerts(pid, "contact-lost")
    world.send("ResolveAlert", pid, CASO, when=at(4), alert_id=alert.alert_id,
               reason="Personne vue au local du CASO, numéro à venir")
    world.at(at(5))
    assert world.open_alerts(pid, "contact-lost") == []

    world.send("RecordContactAttempt", pid, CASO, when=at(8), reached=False)  # a new failure: a new risk
    [again] = world.open_alerts(pid, "contact-lost")
    assert again.alert_id == alert_id_for(pid, "contact-lost", "contact", 1)


def test_a_risk_that_comes_back_after_the_engine_resolved_it_is_raised_again_under_a_new_id(world: World) -> None:
    pid = world.open("PassGp", CASO, PASS)
    world.join(pid, CASO, SIAO, consent=False)
    world.send("GrantConsent", pid, CASO, when=at(1), agency=SIAO.agency, categories=["social"], collected_by="p-recueil", informed_by="oral")
    world.send("WithdrawConsent", pid, CASO, when=at(2), agency=SIAO.agency, categories=["social"], collected_by="p-recueil", informed_by="oral")
    alerts = sorted(world.alerts(pid, "consent-missing"), key=lambda a: a.raised_at)
    assert [a.status for a in alerts] == [AlertStatus.RESOLVED, AlertStatus.RAISED]
    assert alerts[1].alert_id == alert_id_for(pid, "consent-missing", "consent:siao-76", 1)


def test_closing_a_pathway_takes_it_out_of_the_deadline_index(world: World) -> None:
    pid = world.open("Detention", SPIP, USMP, SIAO, prison="Maison d'arrêt de Rouen", release_date=on(25))
    assert world.due_at(pid) is not None
    world.send("ClosePathway", pid, SPIP, when=at(2), outcome="transferred", reason="Transfert à Caen")
    assert world.due_at(pid) is None
    world.at(at(30))
    assert world.alerts(pid) == []


def test_every_open_alert_of_the_world_names_a_french_action_and_the_relais_actor(world: World) -> None:
    pid = _contact_lost(world)
    raised = [e for e in world.events(pid) if type(e).__name__ == "AlertRaised"]
    assert raised and all(e.actor.agency == "relais" and e.actor.is_system for e in raised)


def test_a_pathway_whose_evaluation_fails_does_not_block_the_sweep_of_the_others(world: World, monkeypatch) -> None:
    import services.risk.engine as engine_module

    pathways = []
    for hour in range(3):
        pid = world.open("PassGp", CASO, PASS, CSAPA)
        world.send("MakeReferral", pid, PASS, when=at(0, hour), referral_id=uuid4(), to_agency=CSAPA.agency,
                   service="addictologie")
        pathways.append(pid)
    broken = pathways[1]
    real = engine_module.evaluate

    def evaluate(pathway, now, settings):  # noqa: ANN001, ANN202
        if pathway.id == broken:
            raise ZeroDivisionError("bug in a rule")
        return real(pathway, now, settings)

    monkeypatch.setattr(engine_module, "evaluate", evaluate)
    result = world.at(at(14, 3))
    assert result.due == 3 and result.failed == 1 and result.raised == 2
    assert world.alerts(broken) == [] and all(world.alerts(p) for p in (pathways[0], pathways[2]))
    assert world.due_at(broken) == at(14, 3) + world.engine.retry_after

    monkeypatch.setattr(engine_module, "evaluate", real)
    world.at(at(14, 3) + world.engine.retry_after)
    assert [a.rule_id for a in world.alerts(broken)] == ["referral-unverified"]


def test_the_consumer_handler_dead_letters_an_event_a_rule_cannot_evaluate_but_retries_database_errors() -> None:
    import psycopg
    import pytest

    from infra.kafka.consumer import ConsumedMessage, RejectMessage
    from services.risk.runner import RiskConsumerHandler

    class Engine:
        def __init__(self, error: Exception) -> None:
            self.error = error

        def handle_cloud_event(self, conn, event):  # noqa: ANN001, ANN202
            raise self.error

    message = ConsumedMessage(topic="t", partition=0, offset=0, key=None, value=None, headers=(), timestamp_ms=0,
                              event=object())
    with pytest.raises(RejectMessage, match="KeyError"):
        RiskConsumerHandler(Engine(KeyError("x"))).handle(None, message)
    with pytest.raises(psycopg.OperationalError):
        RiskConsumerHandler(Engine(psycopg.OperationalError("down"))).handle(None, message)


def test_a_refused_raise_is_tried_again_by_a_later_sweep_even_after_the_engines_own_events_came_back(
    world: World, monkeypatch,
) -> None:
    from services.pathways import CommandRejected, CommandResult

    real = world.handler.handle
    refused = []

    def handle(command):  # noqa: ANN001, ANN202
        if type(command).__name__ == "RaiseAlert" and command.rule_id == "exit-without-housing" and not refused:
            refused.append(command)
            return CommandResult(command_id=command.command_id, pathway_id=command.pathway_id, accepted=False,
                                 rejection=CommandRejected(None, "base indisponible", "Unavailable"))
        return real(command)

    monkeypatch.setattr(world.handler, "handle", handle)
    pid = world.open("Detention", SPIP, USMP, SIAO, prison="Maison d'arrêt de Rouen", release_date=on(25))
    threshold = paris_midnight(on(10))
    # One evaluation raises two alerts: exit-without-housing (refused here) and rights-not-open,
    # whose AlertRaised comes back through the bus and re-indexes the pathway.
    world.at(threshold)
    assert refused and world.alerts(pid, "exit-without-housing") == []
    assert world.alerts(pid, "rights-not-open")
    assert world.due_at(pid) == threshold + world.engine.retry_after

    world.at(threshold + world.engine.retry_after)
    assert [a.rule_id for a in world.open_alerts(pid, "exit-without-housing")] == ["exit-without-housing"]
