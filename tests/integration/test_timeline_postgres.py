"""The timeline on the real broker and the real PostgreSQL: events about a need, a referral or
an alert take its category there as in the embedded mode (the `timeline_subjects` lookup runs
on both databases), and an event type the disclosure catalogue does not know is dead-lettered
with the reason, never given a default category."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import uuid4

from infra.kafka.cloudevents import CloudEvent
from infra.kafka.deadletter import dlq_info
from projections import queries as q
from projections.postgres import LiveProjection
from projections.registry import PROJECTIONS
from projections.schema import Db, table_rows
from tests.integration.test_ingest_inbound import dead_letters
from tests.integration.test_projections_postgres import catch_up, embedded_rows, pg, producer, target  # noqa: F401
from tests.unit.projections.conftest import World, open_pass_gp


def test_the_timeline_on_postgresql_gives_linked_events_their_subject_category_and_refuses_unknown_types(
    tmp_path, target, producer  # noqa: F811 - pytest fixtures
) -> None:
    world = World(tmp_path)
    pid = open_pass_gp(world)
    need, referral, alert = str(uuid4()), str(uuid4()), str(uuid4())
    world.send("RecordNeed", pid, "pass", 1, need_id=need, category="housing", description="115")
    world.send("MakeReferral", pid, "pass", 1, referral_id=referral, to_agency="siao-76", service="hébergement d'urgence",
               need_id=need)
    world.send("UpdateReferralStatus", pid, "pass", 2, referral_id=referral, status="accepted", reason=None)
    world.send("MarkNeedMet", pid, "pass", 3, need_id=need)
    world.send("RaiseAlert", pid, "relais", 3, alert_id=alert, rule_id="contact-lost", subject="contact",
               triggering_event_ids=[], owner_agency="pass", suggested_action="Rappeler.", severity="medium")
    world.send("ResolveAlert", pid, "relais", 4, alert_id=alert, reason="Personne jointe.")
    events = world.bus.events()
    world.close()
    unknown = CloudEvent(id=str(uuid4()), source="/relais/pathways", type="fr.relais.pathway.PathwayTeleported.v1",
                         subject=pid, partitionkey=pid, time=datetime(2026, 3, 6, tzinfo=timezone.utc),
                         data={"originator_version": len(events) + 1, "occurred_at": "2026-03-06T09:00:00+00:00"})
    producer.send_all(target.topic, [*events, unknown])
    live = LiveProjection(target, PROJECTIONS["timeline"])
    try:
        catch_up(live, len(events) + 1)
        assert live.runner.totals.deadlettered == 1
        with pg(target) as conn:
            categories = {r["event_type"]: r["category"] for r in q.timeline(conn, pid)}
            # Each is its subject's, not the medical category of a subject never seen.
            assert (categories["NeedMet"], categories["ReferralStatusChanged"], categories["AlertResolved"]) == (
                "social", "social", "identity")
            assert "PathwayTeleported" not in categories
            assert table_rows(Db(conn, "postgres"), PROJECTIONS["timeline"](1)) == embedded_rows(events)["timeline"]
    finally:
        live.close()
    [record] = dead_letters(target.bootstrap, target.deadletter_topic, expected=1)
    reason = dlq_info(record.headers)["dlq_reason"]
    assert "PathwayTeleported" in reason and "inconnu" in reason
