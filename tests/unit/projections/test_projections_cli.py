"""`relais projections`: list, and refusals that name the problem."""

from __future__ import annotations

import pytest

from projections.registry import PROJECTIONS
from services.cli import main


def test_projections_list_names_every_read_model_with_a_french_title(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["projections", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in out] == list(PROJECTIONS)
    assert all(len(line.split(maxsplit=1)[1]) > 10 for line in out)


def test_rebuilding_an_unknown_projection_is_refused_with_the_known_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["projections", "rebuild", "nope"]) == 2
    err = capsys.readouterr().err
    assert "projection inconnue : nope" in err and "pathway_summary" in err


def test_rebuild_takes_exactly_one_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["projections", "rebuild", "timeline", "alerts"]) == 2
    assert "UNE projection" in capsys.readouterr().err


def test_rebuild_embedded_rebuilds_the_sqlite_read_models_from_the_embedded_event_store(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from services.bootstrap import build_embedded_projections, build_pathways_application
    from services.pathways import PathwaysHandler
    from services.settings import Settings
    from services.territory.load import load

    monkeypatch.setenv("RELAIS_STATE_DIR", str(tmp_path))
    settings = Settings(mode="embedded")
    app = build_pathways_application(settings)
    load(PathwaysHandler(app), 4, progress=None)
    app.close()
    assert main(["projections", "rebuild", "pathway_summary", "--embedded"]) == 0
    assert "v1 -> v2" in capsys.readouterr().out
    read_models = build_embedded_projections(settings)
    rows = read_models.conn.execute("SELECT count(*) FROM pathway_summary").fetchone()
    read_models.close()
    assert rows == (4,)
