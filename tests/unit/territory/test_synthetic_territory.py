"""The synthetic territory: accepted whole by the domain, fictitious, and loadable twice."""

from __future__ import annotations

import io
import re
from pathlib import Path

from hypothesis import given, settings, strategies as st

from services.bootstrap import build_pathways_application
from services.pathways import PathwaysHandler
from services.settings import Settings
from services.territory.load import load
from services.territory.synthetic import generate


def _handler(state_dir: Path) -> PathwaysHandler:
    return PathwaysHandler(build_pathways_application(Settings(state_dir=state_dir), SQLITE_DBNAME=":memory:"))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_every_synthetic_command_is_accepted_by_the_domain(tmp_path_factory, seed: int) -> None:
    handler = _handler(tmp_path_factory.mktemp("t"))
    assert load(handler, 8, seed=seed, progress=None) > 8 * 5


def test_the_territory_mixes_the_four_pathways_and_only_pseudonymous_people() -> None:
    stories = list(generate(40, seed=3))
    assert {s.kind for s in stories} == {"detention", "maternity", "sas", "pass_gp"}
    refs = [payload["person_ref"] for s in stories for name, payload in s.commands if name.endswith("Pathway")]
    assert len(refs) == 40 and all(re.fullmatch(r"P-[0-9a-f]{6}", ref) for ref in refs)


def test_loading_the_same_territory_twice_adds_nothing(tmp_path: Path) -> None:
    handler = _handler(tmp_path)
    load(handler, 12, seed=5, progress=None)
    before = handler.app.recorder.max_notification_id()
    load(handler, 12, seed=5, progress=None)
    assert handler.app.recorder.max_notification_id() == before


def test_loading_shows_progress_with_a_rate(tmp_path: Path) -> None:
    out = io.StringIO()
    load(_handler(tmp_path), 4, progress=out)
    assert "4/4 parcours" in out.getvalue() and "parcours/s" in out.getvalue()
