"""`relais token` and `relais territory`: what a newcomer types to try the API on the embedded default."""

from __future__ import annotations

import pytest

from services.cli import main


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    import os

    for key in list(os.environ):
        if key.startswith("RELAIS_"):
            monkeypatch.delenv(key)


def test_relais_token_prints_a_token_the_gateway_accepts_for_that_agency_and_role(monkeypatch, tmp_path,
                                                                                   capsys) -> None:
    from gateway.auth import build_token_verifier
    from infra.agencies import load_registry
    from services.settings import Settings

    monkeypatch.setenv("RELAIS_STATE_DIR", str(tmp_path))
    assert main(["token", "--agency", "siao", "--professional", "siao-coord-2", "--role", "coordinateur"]) == 0
    verifier = build_token_verifier(Settings(state_dir=tmp_path), load_registry())
    principal = verifier.verify(capsys.readouterr().out.strip())
    assert (principal.agency, principal.professional, principal.role.value) == ("siao", "siao-coord-2", "coordinateur")


def test_relais_token_keeps_its_development_private_key_readable_by_its_owner_only(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("RELAIS_STATE_DIR", str(tmp_path))
    assert main(["token", "--agency", "pass", "--professional", "p", "--role", "medecin"]) == 0
    assert (tmp_path / "dev-token-key.pem").stat().st_mode & 0o777 == 0o600
    assert "PRIVATE" not in (tmp_path / "dev-jwks.json").read_text()


def test_relais_token_refuses_to_sign_in_the_production_setting(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("RELAIS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("RELAIS_ENVIRONMENT", "production")
    assert main(["token", "--agency", "siao", "--professional", "p", "--role", "coordinateur"]) == 2
    assert "ne signe qu'en développement" in capsys.readouterr().err
    assert not (tmp_path / "dev-token-key.pem").exists()


@pytest.mark.parametrize("agency", ["relais", "inconnue"])
def test_relais_token_refuses_an_agency_absent_from_the_registry(monkeypatch, tmp_path, capsys, agency) -> None:
    monkeypatch.setenv("RELAIS_STATE_DIR", str(tmp_path))
    assert main(["token", "--agency", agency, "--professional", "p", "--role", "coordinateur"]) == 2
    assert f"structure « {agency} » absente du registre" in capsys.readouterr().err


def test_relais_token_refuses_a_validity_above_the_lifetime_cap(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("RELAIS_STATE_DIR", str(tmp_path))
    assert main(["token", "--agency", "siao", "--professional", "p", "--role", "coordinateur", "--hours", "13"]) == 2
    assert "entre 1 et 12 h" in capsys.readouterr().err


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
