"""A small embedded world: pathways on an in-memory SQLite event store, the relay publishing
their events on an in-process bus, every projection on an in-memory SQLite database."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from infra.bus import InProcessBus
from projections.embedded import EmbeddedProjections, connect
from services.bootstrap import build_pathways_application, is_pathway_event
from services.pathways import PathwaysHandler
from services.relay.positions import MemoryPositionStore
from services.relay.relay import Relay
from services.settings import Settings

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


class World:
    def __init__(self, tmp_path: Path, read_models: str | Path = ":memory:") -> None:
        settings = Settings(mode="embedded", state_dir=tmp_path / "state")
        self.app = build_pathways_application(settings, SQLITE_DBNAME=":memory:")
        self.handler = PathwaysHandler(self.app)
        self.bus = InProcessBus()
        self.relay = Relay(self.app, self.bus, MemoryPositionStore(), is_published=is_pathway_event)
        self.conn = connect(read_models)
        self.projections = EmbeddedProjections(self.conn)
        self.projections.attach(self.bus)

    def send(self, command: str, pathway_id: UUID | str, by: str = "pass", at: datetime | float = 0,
             **fields: Any) -> None:
        """Send a command (`at`: a datetime, or days after T0) and relay what it stored."""
        when = at if isinstance(at, datetime) else T0 + timedelta(days=at)
        payload = {"command_id": str(uuid4()), "pathway_id": str(pathway_id),
                   "actor": {"agency": by, "professional": f"{by}-pro-1", "role": "medecin"},
                   "occurred_at": when.isoformat(), **fields}
        result = self.handler.handle_payload(command, payload)
        assert result.accepted, f"{command} refused: {result.rejection}"
        self.flush()

    def flush(self) -> None:
        while self.relay.run_once():
            pass

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        self.conn.row_factory = sqlite3.Row
        try:
            return list(self.conn.execute(sql, params).fetchall())
        finally:
            self.conn.row_factory = None

    def one(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row:
        rows = self.rows(sql, params)
        assert len(rows) == 1, rows
        return rows[0]

    def close(self) -> None:
        self.app.close()
        self.projections.close()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.close()


def open_pass_gp(world: World, by: str = "pass", territory: str = "76") -> str:
    pid = uuid4()
    world.send("OpenPassGpPathway", pid, by, 0, person_ref="P-0001", territory=territory, lead_agency=by)
    return str(pid)
