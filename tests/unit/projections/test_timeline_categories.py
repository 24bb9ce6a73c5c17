"""The timeline read model gives every event of any generated history the category the
disclosure catalogue gives the domain event: the projection computes it from the wire event
(the relay's CloudEvent, on the in-process bus, into SQLite) and its `timeline_subjects`
table; the oracle from the domain event and what the pathway's earlier events recorded. The
gateway shows the read model's category (gateway.views.timeline_entry), so consent hides what
the catalogue says, whatever path the event took to the read model."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID, uuid4

from hypothesis import HealthCheck, given, settings

from domain import disclosure as catalogue
from projections import queries as q
from projections.base import PathwayEvent
from projections.timeline import Timeline
from services.pathways import commands as c
from tests.unit.projections.conftest import World, open_pass_gp
from tests.unit.projections.test_rebuild_property import histories


def gateway_categories(world: World, pathway_id: str) -> dict[int, str]:
    """Version -> category, as the catalogue categorises the pathway's domain events in order."""
    subjects = catalogue.Subjects()
    return {e.originator_version: subjects.categorise(type(e).__name__, catalogue.event_data(e)).value
            for e in world.app.events.get(UUID(pathway_id))}


def timeline_categories(world: World, pathway_id: str) -> dict[int, str]:
    return {row["seq"]: row["category"] for row in q.timeline(world.conn, pathway_id)}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=histories())
def test_the_timeline_gives_every_event_of_any_history_the_catalogues_category(
    tmp_path_factory, data: tuple[list[c.Command], list[int]]
) -> None:
    history, _ = data
    world = World(Path(tmp_path_factory.mktemp("w")))
    try:
        for command in history:
            world.handler.handle(command)
        world.flush()
        for pathway_id in {str(command.pathway_id) for command in history}:
            gateway = gateway_categories(world, pathway_id)
            assert timeline_categories(world, pathway_id) == gateway
    finally:
        world.close()


def test_events_about_a_medical_need_referral_or_alert_are_medical_in_both(world: World) -> None:
    """A guard on the property: the derived categories do occur (and differ from the type's)."""
    pid = open_pass_gp(world)
    need, referral, alert = str(uuid4()), str(uuid4()), str(uuid4())
    world.send("RecordNeed", pid, "pass", 1, need_id=need, category="addiction", description="TSO")
    world.send("MakeReferral", pid, "pass", 1, referral_id=referral, to_agency="csapa-rouen", service="addictologie",
               need_id=need)
    world.send("UpdateReferralStatus", pid, "pass", 2, referral_id=referral, status="accepted", reason=None)
    world.send("MarkNeedMet", pid, "pass", 3, need_id=need)
    world.send("RaiseAlert", pid, "relais", 3, alert_id=alert, rule_id="treatment-continuity", subject="treatment:t1",
               triggering_event_ids=[], owner_agency="pass", suggested_action="Suivi à programmer.", severity="high")
    world.send("ResolveAlert", pid, "relais", 4, alert_id=alert, reason="Suivi programmé.")
    rows = {r["event_type"]: r["category"] for r in q.timeline(world.conn, pid)}
    assert {name: rows[name] for name in ("NeedMet", "ReferralStatusChanged", "AlertResolved")} == {
        "NeedMet": "medical", "ReferralStatusChanged": "medical", "AlertResolved": "medical"}
    assert timeline_categories(world, pid) == gateway_categories(world, pid)
    social_view = q.timeline(world.conn, pid, categories={"identity", "social", "administrative"})
    assert [r["event_type"] for r in social_view] == ["PassGpPathwayOpened"]


def test_the_timeline_refuses_an_event_type_the_catalogue_does_not_know() -> None:
    import pytest

    from projections.base import NotAPathwayEvent

    event = PathwayEvent(id="e1", name="PathwayTeleported", version=1, pathway_id="p1", kind=None,
                         data={"originator_version": 2, "occurred_at": "2026-03-02T09:00:00+00:00"})
    with pytest.raises(NotAPathwayEvent, match="PathwayTeleported"):
        Timeline().apply(event)
