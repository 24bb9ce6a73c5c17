"""The read models on the real broker and the real PostgreSQL: fed through the consumer
runner from a topic, rebuilt while a reader keeps querying, territory indicators suppressed."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from infra.bus import InProcessBus
from infra.kafka.cloudevents import CloudEvent
from infra.kafka.producer import EventProducer
from projections import queries as q
from projections.embedded import EmbeddedProjections, connect
from projections.postgres import LiveProjection, Target, read_version, rebuild
from projections.registry import PROJECTIONS
from projections.schema import Db, table_rows
from services.bootstrap import build_pathways_application, is_pathway_event
from services.pathways import PathwaysHandler
from services.relay.positions import MemoryPositionStore
from services.relay.relay import Relay
from services.settings import Settings
from services.territory.load import load
from services.territory.synthetic import PASS
from tests.unit.projections.test_territory_suppression import recoverable


def territory_events(tmp_path: Path, count: int, territory: str = "76", seed: int = 1) -> list[CloudEvent]:
    """The CloudEvents of `count` synthetic pathways, as the relay publishes them."""
    app = build_pathways_application(Settings(mode="embedded", state_dir=tmp_path / f"s{seed}"), SQLITE_DBNAME=":memory:")
    load(PathwaysHandler(app), count, seed=seed, territory=territory, progress=None)
    bus = InProcessBus()
    relay = Relay(app, bus, MemoryPositionStore(), is_published=is_pathway_event, batch_size=1000)
    while relay.run_once():
        pass
    app.close()
    return bus.events()


@pytest.fixture
def producer(kafka_bootstrap):
    p = EventProducer(kafka_bootstrap, client_id="test-projections")
    yield p
    p.close()


@pytest.fixture
def target(pg_url, pg_schema, kafka_bootstrap, new_topic) -> Target:
    return Target(conninfo=pg_url, schema=pg_schema, bootstrap=kafka_bootstrap, topic=new_topic(3),
                  deadletter_topic=new_topic(1, "dlq"), group_prefix=f"t{uuid.uuid4().hex[:10]}",
                  runner_options={"session_timeout_ms": 6000, "heartbeat_interval_ms": 500})


def pg(target: Target) -> psycopg.Connection:
    conn = psycopg.connect(target.conninfo, autocommit=True)
    conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(target.schema)))
    return conn


def catch_up(live: LiveProjection, events: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while live.runner is None or live.runner.totals.polled < events:
        assert time.monotonic() < deadline, f"{live.projection_class.name} did not catch up"
        live.run_once(timeout_ms=300)


def embedded_rows(events: Sequence[CloudEvent]) -> dict[str, Any]:
    projections = EmbeddedProjections(connect(":memory:"))
    for event in events:
        projections.handle(event)
    rows = {name: table_rows(projections.db, p) for name, p in projections.projections.items()}
    projections.close()
    return rows


def test_every_projection_fed_through_the_consumer_runner_has_the_rows_of_the_embedded_one(
    tmp_path, target, producer
) -> None:
    events = territory_events(tmp_path, 24)
    producer.send_all(target.topic, events)
    producer.send_all(target.topic, events[10:40])  # a relay restarted: duplicates on the wire
    expected = embedded_rows(events)
    lives = [LiveProjection(target, cls) for cls in PROJECTIONS.values()]
    try:
        for live in lives:
            catch_up(live, len(events) + 30)
            assert live.runner.totals.skipped_duplicate == 30
        with pg(target) as conn:
            db = Db(conn, "postgres")
            for live in lives:
                assert table_rows(db, live.projection_class(1)) == expected[live.projection_class.name]
            page = q.pathways(conn, kind="pass_gp", first=4)
            assert len(page.items) == 4 and page.has_next_page
            assert all(r["kind"] == "pass_gp" for r in page.items)
            pid = page.items[0]["pathway_id"]
            assert [r["seq"] for r in q.timeline(conn, pid, order="recorded")] == list(
                range(1, len(q.timeline(conn, pid)) + 1))
            assert q.caseload_by_agency(conn, PASS).items
    finally:
        for live in lives:
            live.close()


def test_a_rebuild_swaps_in_a_new_version_while_a_reader_keeps_querying_the_view(
    tmp_path, target, producer
) -> None:
    events = territory_events(tmp_path, 40)
    producer.send_all(target.topic, events)
    cls = PROJECTIONS["pathway_summary"]
    live = LiveProjection(target, cls)
    try:
        catch_up(live, len(events))
        with pg(target) as conn:
            pathways = len({e.subject for e in events})
            assert len(q.pathways(conn, first=200).items) == pathways
        stop, counts, errors = threading.Event(), [], []

        def reader() -> None:
            with pg(target) as conn:
                while not stop.is_set():
                    try:
                        counts.append(len(q.pathways(conn, first=200).items))
                        q.pathway_summary(conn, events[0].subject)
                    except Exception as exc:  # noqa: BLE001 - what the test looks for
                        errors.append(repr(exc))

        thread = threading.Thread(target=reader)
        thread.start()
        try:
            first = rebuild(target, cls, progress=None, batch=50)
            second = rebuild(target, cls, progress=None, batch=50, workers=2)  # two worker processes
        finally:
            stop.set()
            thread.join()
        assert errors == []
        assert len(counts) > 10 and min(counts) == pathways
        assert (first.old_version, first.new_version, second.new_version) == (1, 2, 3)
        assert first.events == len(events)
        assert read_version(target, cls.name) == 3
        with pg(target) as conn:
            tables = {r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", (target.schema,))}
            assert {"pathway_summary_v3", "pathway_summary_needs_v3"} <= tables
            assert not any(t.endswith(("_v1", "_v2")) and t.startswith("pathway_summary") for t in tables)
            before = table_rows(Db(conn, "postgres"), cls(3))
        assert before == embedded_rows(events)["pathway_summary"]

        # the live runner moves to v3 by itself and resumes where the rebuild stopped
        more = territory_events(tmp_path, 3, seed=7)
        producer.send_all(target.topic, more)
        assert live.switch_if_swapped() and live.version == 3
        catch_up(live, len(more))
        with pg(target) as conn:
            assert len(q.pathways(conn, first=200).items) == pathways + 3
            # (two separate event stores: their notification ids overlap, so compare per store)
            a, b = embedded_rows(events)["pathway_summary"], embedded_rows(more)["pathway_summary"]
            assert table_rows(Db(conn, "postgres"), cls(3)) == {t: sorted(a[t] + b[t], key=repr) for t in a}
    finally:
        live.close()


def test_territory_indicators_on_postgresql_suppress_counts_below_five(tmp_path, target, producer) -> None:
    events = territory_events(tmp_path, 40, territory="27")
    producer.send_all(target.topic, events)
    live = LiveProjection(target, PROJECTIONS["territory_indicators"])
    try:
        catch_up(live, len(events))
    finally:
        live.close()
    with pg(target) as conn:
        found = q.territory_indicators(conn, "27")
        facts = conn.execute("SELECT metric, detail, count(*) FROM territory_facts GROUP BY 1, 2").fetchall()
    rows = found["monthly"]
    assert rows and all(r["territory"] == "27" for r in rows)
    assert found["pathways"]["opened"] in (40, None)
    assert recoverable(found) == []  # no hidden count worked out from the others
    opened = [r for r in rows if r["indicator"] == "pathway_opened"]
    assert sum(r["count"] or 0 for r in opened) >= 35  # the 40 pathways, in months of >= 5 (or hidden)
    for row in rows:
        if row["suppressed"]:
            assert row["count"] is None and row["median_days"] is None
        else:
            assert row["count"] >= 5
    raw = {(m, d): n for m, d, n in facts}
    small = [k for k, n in raw.items() if 0 < n < 5]
    assert small, "the synthetic territory has small cells to hide"
    assert any(r["suppressed"] for r in rows)


def test_a_second_rebuild_of_the_same_projection_is_refused_while_one_runs(target, producer) -> None:
    import zlib

    from projections.postgres import RebuildRunning

    lock = zlib.crc32(f"relais.rebuild.{target.schema}.timeline".encode())
    with psycopg.connect(target.conninfo, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (lock,))
        with pytest.raises(RebuildRunning, match="déjà en cours"):
            rebuild(target, PROJECTIONS["timeline"], progress=None)
    assert read_version(target, "timeline") is None  # nothing was touched


def test_a_rebuild_copies_text_with_tabs_newlines_and_backslashes_unchanged(tmp_path, target, producer) -> None:
    from uuid import uuid4

    from tests.unit.projections.conftest import World, open_pass_gp

    world = World(tmp_path)
    try:
        pid = open_pass_gp(world)
        for text in ("à la rue\tdepuis\nmars", "chemin C:\\dossier\\n", "fin\r\nde ligne", "\\N"):
            world.send("RecordNeed", pid, "pass", 1, need_id=str(uuid4()), category="housing", description=text)
        events = world.bus.events()
    finally:
        world.close()
    producer.send_all(target.topic, events)
    rebuild(target, PROJECTIONS["pathway_summary"], progress=None)
    with pg(target) as conn:
        assert table_rows(Db(conn, "postgres"), PROJECTIONS["pathway_summary"](2)) == embedded_rows(events)["pathway_summary"]
        descriptions = {n["description"] for n in q.needs(conn, [pid])[pid]}
    assert descriptions == {"à la rue\tdepuis\nmars", "chemin C:\\dossier\\n", "fin\r\nde ligne", "\\N"}


def test_a_runner_refuses_to_feed_tables_an_older_release_left_and_names_the_rebuild(target: Target) -> None:
    from projections.postgres import ProjectionHandler
    from projections.summary import PathwaySummary

    with pg(target) as conn:
        with conn.transaction():  # as the consumer runner calls it
            ProjectionHandler(PathwaySummary(1)).setup(conn)
        conn.execute("ALTER TABLE pathway_summary_v1 DROP COLUMN phone CASCADE")
        with pytest.raises(RuntimeError, match="relais projections rebuild pathway_summary"), conn.transaction():
            ProjectionHandler(PathwaySummary(1)).setup(conn)
