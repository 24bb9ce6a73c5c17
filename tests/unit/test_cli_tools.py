"""`relais token` and `relais territory`: what a newcomer types to try the API on the embedded default."""

from __future__ import annotations

import pytest

from gateway.auth import principal_from_token
from services.cli import main

KEY = "unit-test-key-unit-test-key-unit-test"


def test_relais_token_prints_a_token_the_gateway_accepts_for_that_agency_and_role(monkeypatch, capsys) -> None:
    monkeypatch.setenv("RELAIS_JWT_KEY", KEY)
    assert main(["token", "--agency", "siao", "--professional", "siao-coord-2", "--role", "coordinateur"]) == 0
    principal = principal_from_token(capsys.readouterr().out.strip(), KEY)
    assert (principal.agency, principal.professional, principal.role.value) == ("siao", "siao-coord-2", "coordinateur")


def test_relais_token_refuses_an_unknown_role_naming_the_known_ones(capsys) -> None:
    assert main(["token", "--agency", "siao", "--professional", "p", "--role", "chef"]) == 2
    err = capsys.readouterr().err
    assert "rôle inconnu « chef »" in err and "coordinateur" in err


def test_relais_territory_loads_synthetic_pathways_once_whatever_the_number_of_runs(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("RELAIS_STATE_DIR", str(tmp_path))
    assert main(["territory", "--pathways", "4", "--seed", "9"]) == 0
    first = capsys.readouterr()
    assert "4/4 parcours" in first.err and "commandes acceptées (4 parcours synthétiques, graine 9)" in first.out
    from services.bootstrap import build_pathways_application
    from services.settings import Settings

    app = build_pathways_application(Settings(state_dir=tmp_path))
    before = app.recorder.max_notification_id()
    assert main(["territory", "--pathways", "4", "--seed", "9"]) == 0
    assert app.recorder.max_notification_id() == before


@pytest.mark.parametrize("command", ["token", "territory"])
def test_each_tool_explains_itself_with_help(command: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0 and len(capsys.readouterr().out) > 200
