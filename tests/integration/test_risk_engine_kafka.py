"""The risk engine on the real broker and PostgreSQL: pathway events relayed to the
pathway-events topic reach the engine through the ConsumerRunner, which raises the alert in the
event store; the clock sweep reads the PostgreSQL deadline index; two sweepers share it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.cipher import AESCipher
from psycopg_pool import ConnectionPool
from pydantic import SecretStr

from infra.kafka.consumer import ConsumerRunner, RunnerConfig
from infra.kafka.producer import EventProducer
from infra.kafka.publisher import KafkaPublisher
from services.bootstrap import build_pathways_application, build_risk_engine, is_pathway_event
from services.clock import TestClock
from services.pathways import PathwaysHandler
from services.relay.positions import PostgresPositionStore
from services.relay.relay import Relay
from services.relay.wire import event_id
from services.risk import PostgresDeadlineIndex
from services.risk.runner import RiskConsumerHandler
from services.settings import Settings

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
CASO = {"agency": "mdm-caso-rouen", "professional": "benevole-4", "role": "medecin"}


@pytest.fixture
def settings(pg_url: str, pg_schema: str, kafka_bootstrap: str) -> Settings:
    return Settings(mode="distributed", database_url=pg_url, database_schema=pg_schema,
                    kafka_bootstrap=kafka_bootstrap, cipher_key=SecretStr(AESCipher.create_key(32)))


@pytest.fixture
def system(settings: Settings, pg_url: str, pg_schema: str, kafka_bootstrap: str, new_topic) -> Iterator[dict]:
    topic, deadletter = new_topic(partitions=3), new_topic(partitions=1)
    app = build_pathways_application(settings)
    handler = PathwaysHandler(app)
    pool = ConnectionPool(pg_url, min_size=1, max_size=4, open=True, kwargs={"autocommit": True})
    producer = EventProducer(kafka_bootstrap, client_id="risk-test-relay")
    relay = Relay(app, KafkaPublisher(producer, topic), PostgresPositionStore(pool, pg_schema),
                  is_published=is_pathway_event)
    clock = TestClock(T0)
    engine = build_risk_engine(settings, handler, clock=clock,
                               deadlines=PostgresDeadlineIndex(pool, pg_schema))
    runner = ConsumerRunner(
        RiskConsumerHandler(engine),
        RunnerConfig(group_id=f"relais-risk-{uuid4().hex[:8]}", topics=[topic], bootstrap_servers=kafka_bootstrap,
                     schema=pg_schema, deadletter_topic=deadletter),
        conninfo=pg_url,
    )
    runner.start()
    yield {"app": app, "handler": handler, "relay": relay, "engine": engine, "runner": runner, "clock": clock,
           "pool": pool, "schema": pg_schema}
    runner.close()
    producer.close()
    pool.close()
    app.close()


def send(handler: PathwaysHandler, command_type: str, pathway_id: UUID, when: datetime, **fields) -> None:
    payload = {"command_id": str(uuid4()), "pathway_id": str(pathway_id), "actor": CASO,
               "occurred_at": when.isoformat(), **fields}
    result = handler.handle_payload(command_type, payload)
    assert result.accepted, result.rejection


def open_pass_gp(handler: PathwaysHandler) -> UUID:
    pid = uuid4()
    send(handler, "OpenPassGpPathway", pid, T0, person_ref="P-MDM-0042", territory="76", lead_agency=CASO["agency"])
    return pid


def events_named(app, pathway_id: UUID, name: str) -> list:
    return [e for e in app.events.get(pathway_id) if type(e).__name__ == name]


def run_until(system: dict, condition, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        system["relay"].run_once()
        system["runner"].run_once(timeout_ms=200)
        if condition():
            return
    raise AssertionError("condition not reached in time")


def test_a_third_failed_call_relayed_on_the_topic_leads_to_an_alert_raised_in_the_event_store(system: dict) -> None:
    app, handler, clock = system["app"], system["handler"], system["clock"]
    pid = open_pass_gp(handler)
    for day in (1, 2, 3):
        clock.set(T0 + timedelta(days=day))
        send(handler, "RecordContactAttempt", pid, clock.now(), reached=False)

    run_until(system, lambda: events_named(app, pid, "AlertRaised"))

    [raised] = events_named(app, pid, "AlertRaised")
    assert raised.rule_id == "contact-lost" and raised.owner_agency == CASO["agency"]
    assert raised.actor.agency == "relais" and str(raised.severity) == "high"
    last_attempt = events_named(app, pid, "ContactAttempted")[-1]
    assert event_id(pid, last_attempt.originator_version) in raised.triggering_event_ids
    assert raised.suggested_action.startswith("Personne injoignable")

    # Its own AlertRaised comes back through the topic: re-indexed (escalation in 72 h), no new command.
    run_until(system, lambda: _due(system, pid) == T0 + timedelta(days=3, hours=72))
    system["relay"].run_once()
    system["runner"].run_once(timeout_ms=500)
    assert len(events_named(app, pid, "AlertRaised")) == 1


def test_the_clock_sweep_on_postgres_raises_a_deadline_alert_and_reindexes_the_pathway(system: dict) -> None:
    app, handler, clock, engine = system["app"], system["handler"], system["clock"], system["engine"]
    pid = open_pass_gp(handler)
    send(handler, "GrantConsent", pid, T0, agency="csapa-rouen", categories=["medical"], collected_by="p-recueil", informed_by="oral")
    send(handler, "MakeReferral", pid, T0, referral_id=str(uuid4()), to_agency="csapa-rouen", service="addictologie")
    run_until(system, lambda: _due(system, pid) == T0 + timedelta(days=14))

    clock.set(T0 + timedelta(days=14) - timedelta(minutes=1))
    assert engine.sweep().due == 0
    clock.set(T0 + timedelta(days=14))
    result = engine.sweep()
    assert result.due == 1 and result.raised == 1
    [raised] = events_named(app, pid, "AlertRaised")
    assert raised.rule_id == "referral-unverified" and raised.occurred_at == clock.now()
    assert _due(system, pid) > clock.now()
    assert engine.sweep().due == 0


def test_two_sweepers_never_take_the_same_due_row(system: dict) -> None:
    pool, schema = system["pool"], system["schema"]
    index = PostgresDeadlineIndex(pool, schema)
    ids = [uuid4() for _ in range(10)]
    with index.transaction() as conn:
        for n, pid in enumerate(ids):
            index.set(conn, pid, "76", T0 + timedelta(minutes=n))
    now = T0 + timedelta(hours=1)
    with pool.connection() as first, first.transaction():
        taken_first = {d.pathway_id for d in index.due(first, now, 6)}
        with pool.connection() as second, second.transaction():
            taken_second = {d.pathway_id for d in index.due(second, now, 10)}
    assert len(taken_first) == 6 and len(taken_second) == 4
    assert not taken_first & taken_second and taken_first | taken_second == set(ids)


def test_the_due_query_on_postgres_reads_the_due_at_index(system: dict, pg_url: str) -> None:
    schema = system["schema"]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'INSERT INTO "{schema}".risk_deadlines SELECT gen_random_uuid(), \'76\', '
                     f"%s::timestamptz + (n || ' minutes')::interval FROM generate_series(1, 50000) n", (T0,))
        conn.execute(f'ANALYZE "{schema}".risk_deadlines')
        plan = PostgresDeadlineIndex(None, schema).explain_due(conn, T0 + timedelta(minutes=500), 200)
    assert "risk_deadlines_due_at" in plan and "Seq Scan" not in plan, plan


def _due(system: dict, pathway_id: UUID) -> datetime | None:
    index = system["engine"].deadlines
    with index.transaction() as conn:
        return index.get(conn, pathway_id)


def test_two_engines_sweeping_together_evaluate_each_due_pathway_once_and_raise_each_alert_once(
    system: dict, settings: Settings, pg_schema: str,
) -> None:
    import threading

    app, handler, clock, pool = system["app"], system["handler"], system["clock"], system["pool"]
    first = system["engine"]
    second = build_risk_engine(settings, PathwaysHandler(app), clock=clock,
                               deadlines=PostgresDeadlineIndex(pool, pg_schema))
    first.sweep_batch = second.sweep_batch = 5
    pathways = []
    for _ in range(40):
        pid = open_pass_gp(handler)
        send(handler, "GrantConsent", pid, T0, agency="csapa-rouen", categories=["medical"], collected_by="p-recueil", informed_by="oral")
        send(handler, "MakeReferral", pid, T0, referral_id=str(uuid4()), to_agency="csapa-rouen", service="addictologie")
        pathways.append(pid)
    with first.deadlines.transaction() as conn:
        first.deadlines.set_many(conn, [(pid, "76", T0 + timedelta(days=14)) for pid in pathways])

    clock.set(T0 + timedelta(days=14))
    first.loaded_ids, second.loaded_ids = [], []
    results = []
    threads = [threading.Thread(target=lambda e=e: results.append(e.sweep())) for e in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sum(r.due for r in results) == 40 and sum(r.raised for r in results) == 40
    assert sorted(first.loaded_ids + second.loaded_ids) == sorted(pathways)  # each read by one engine only
    for pid in pathways:
        assert [e.rule_id for e in events_named(app, pid, "AlertRaised")] == ["referral-unverified"]
