"""The embedded runner: SQLite file, position in the same transaction, rebuild and swap."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from uuid import uuid4

from projections import queries as q
from projections.embedded import EmbeddedProjections, connect
from infra.progress import Progress
from projections.registry import PROJECTIONS
from projections.schema import Db, table_rows
from tests.unit.projections.conftest import World, open_pass_gp


def _story(world: World, n: int = 3) -> list[str]:
    ids = []
    for i in range(n):
        pid = open_pass_gp(world)
        world.send("RecordNeed", pid, "pass", 1, need_id=str(uuid4()), category="housing", description="x")
        world.send("AddAgency", pid, "pass", 1, agency="siao", role="housing")
        world.send("GrantConsent", pid, "pass", 2, agency="siao", categories=["social"], collected_by="p-recueil", informed_by="oral")
        ids.append(pid)
    return ids


def _all_rows(projections: EmbeddedProjections) -> dict[str, object]:
    return {name: table_rows(projections.db, p) for name, p in projections.projections.items()}


def test_a_redelivered_event_and_a_restart_apply_each_event_exactly_once(world: World, tmp_path: Path) -> None:
    _story(world)
    path = tmp_path / "read_models.sqlite3"
    first = EmbeddedProjections(path)
    first.attach(world.bus)  # the whole log
    for event in world.bus.events()[:5]:
        first.handle(event)  # the relay re-published these after a restart
    expected = _all_rows(first)
    timeline = len(q.timeline(first.conn, world.bus.events()[0].subject))
    first.close()

    again = EmbeddedProjections(path)  # a restart: position read back from the file
    again.attach(world.bus)  # the bus replays its whole log to a new subscriber
    assert _all_rows(again) == expected
    assert len(q.timeline(again.conn, world.bus.events()[0].subject)) == timeline == 4
    assert again.position("timeline") == max(e.data["notification_id"] for e in world.bus.events())
    again.close()


def test_a_failing_statement_rolls_back_the_event_and_its_position(world: World, tmp_path: Path) -> None:
    import pytest

    _story(world, 1)
    projections = EmbeddedProjections(tmp_path / "rm.sqlite3")
    for event in world.bus.events():
        projections.handle(event)
    before = projections.position("pathway_summary")
    projections.conn.execute("DROP VIEW timeline")
    projections.conn.execute("ALTER TABLE timeline_v1 RENAME TO broken")
    pid = open_pass_gp(world)
    with pytest.raises(sqlite3.OperationalError):
        projections.handle(world.bus.events()[-1])
    assert projections.position("pathway_summary") == before
    assert q.pathway_summary(projections.conn, pid) is None  # nothing of the event was kept
    assert projections.position("pathway_summary") == Db(projections.conn, "sqlite").fetchall(
        "SELECT notification_id FROM projection_positions WHERE name = 'pathway_summary'")[0][0]
    projections.close()


def test_rebuild_builds_the_next_version_swaps_the_views_and_drops_the_old_tables(world: World, tmp_path: Path) -> None:
    _story(world)
    projections = world.projections
    before = _all_rows(projections)
    lines: list[str] = []

    class Out:
        def write(self, text: str) -> None:
            lines.append(text)

        def flush(self) -> None:
            pass

    new = projections.rebuild("pathway_summary", world.bus.events, progress=Progress("rebuild", Out()))  # type: ignore[arg-type]
    assert new.version == 2
    assert _all_rows(projections) == {**before, "pathway_summary": table_rows(projections.db, new)}
    assert table_rows(projections.db, new) == before["pathway_summary"]
    tables = {r[0] for r in projections.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "pathway_summary_v2" in tables and "pathway_summary_v1" not in tables
    assert Db(projections.conn, "sqlite").fetchall("SELECT version FROM projection_versions WHERE name = 'pathway_summary'") == [(2,)]
    assert any("év/s" in line and "reste" in line for line in lines)
    # live events go to the new version
    pid = open_pass_gp(world)
    assert q.pathway_summary(projections.conn, pid)["state"] == "open"


def test_a_reader_on_another_connection_never_sees_an_empty_view_during_a_rebuild(tmp_path: Path) -> None:
    path = tmp_path / "rm.sqlite3"
    world = World(tmp_path, read_models=path)
    ids = _story(world, 20)
    reader = connect(path)
    stop, seen, errors = threading.Event(), [], []

    def read() -> None:
        while not stop.is_set():
            try:
                seen.append(len(q.pathways(reader, first=200).items))
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    for _ in range(3):
        world.projections.rebuild("pathway_summary", world.bus.events, batch=7)
    stop.set()
    thread.join()
    world.close()
    reader.close()
    assert errors == []
    assert seen and min(seen) == len(ids) == 20


def test_every_projection_can_be_rebuilt_in_the_embedded_mode(world: World) -> None:
    _story(world)
    before = _all_rows(world.projections)
    for name in PROJECTIONS:
        world.projections.rebuild(name, world.bus.events())
    after = _all_rows(world.projections)
    assert after == before
    assert {p.version for p in world.projections.projections.values()} == {2}


def test_a_read_model_file_from_before_a_table_change_is_rebuilt_from_the_log_at_the_next_version(
        world: World, tmp_path: Path) -> None:
    _story(world)
    path = tmp_path / "read_models.sqlite3"
    first = EmbeddedProjections(path)
    first.attach(world.bus)
    expected = table_rows(first.db, first.projections["pathway_summary"])
    # What an older release left: the summary table without a column the code now declares.
    first.conn.execute("ALTER TABLE pathway_summary_v1 DROP COLUMN phone")
    first.close()

    again = EmbeddedProjections(path)
    assert again.projections["pathway_summary"].version == 2 and again.position("pathway_summary") == 0
    assert again.projections["timeline"].version == 1  # untouched: its tables did not change
    again.attach(world.bus)  # the embedded relay re-publishes the whole log after a restart
    assert table_rows(again.db, again.projections["pathway_summary"]) == expected
    assert len(q.pathway_summaries(again.conn, [world.bus.events()[0].subject])) == 1
    again.close()
