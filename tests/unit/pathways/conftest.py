from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services.bootstrap import build_pathways_application
from services.pathways import PathwaysApplication, PathwaysHandler
from services.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(mode="embedded", state_dir=tmp_path / "state")


@pytest.fixture
def app(settings: Settings) -> Iterator[PathwaysApplication]:
    application = build_pathways_application(settings, SQLITE_DBNAME=":memory:")
    yield application
    application.close()


@pytest.fixture
def handler(app: PathwaysApplication) -> PathwaysHandler:
    return PathwaysHandler(app)
