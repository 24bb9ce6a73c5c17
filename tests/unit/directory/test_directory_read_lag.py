"""The directory's read side asks the store for new changes at most once per `max_lag_s`
(what keeps a match close to a plain SQL filter), yet a change saved in this process is seen
at once; another process's change within the lag. The clock is a counter the test moves."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

from services.bootstrap import build_directory_application
from services.directory import DirectoryHandler, DirectoryIndex
from services.settings import Settings
from tests.unit.directory.helpers import register


def test_a_local_change_is_seen_at_once_and_another_process_s_within_the_lag(tmp_path: Path) -> None:
    settings = Settings(mode="embedded", state_dir=tmp_path)
    here, elsewhere = build_directory_application(settings), build_directory_application(settings)  # one store
    clock = [100.0]
    index = DirectoryIndex(here, max_lag_s=1.0, monotonic=lambda: clock[0])
    assert index.services() == []

    local = uuid4()
    assert DirectoryHandler(here).handle_payload("RegisterService", register(local, "mg-ivars")).accepted
    assert [s.id for s in index.services()] == [local]  # same instant: seen, it was saved here

    remote = uuid4()
    assert DirectoryHandler(elsewhere).handle_payload("RegisterService", register(remote, "mg-jouve")).accepted
    clock[0] += 0.5
    assert {s.id for s in index.services()} == {local}  # within the lag: not asked yet
    clock[0] += 0.5
    assert {s.id for s in index.services()} == {local, remote}  # the lag is over: asked, seen


def test_without_a_lag_every_read_asks_the_store(tmp_path: Path) -> None:
    settings = Settings(mode="embedded", state_dir=tmp_path)
    here, elsewhere = build_directory_application(settings), build_directory_application(settings)
    index = DirectoryIndex(here, monotonic=lambda: 0.0)
    index.services()
    remote = uuid4()
    assert DirectoryHandler(elsewhere).handle_payload("RegisterService", register(remote, "mg-jouve")).accepted
    assert [s.id for s in index.services()] == [remote]
