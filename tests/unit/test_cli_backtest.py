"""`relais rules backtest`: the report, the plot and the CSV of a candidate rule set, with
progress on stderr; a refused settings file names the field and the reason."""

from __future__ import annotations

import json

import pytest

from services.cli import main


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    import os

    for key in list(os.environ):
        if key.startswith("RELAIS_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("RELAIS_STATE_DIR", str(tmp_path / "state"))


def test_a_synthetic_back_test_writes_its_report_plot_and_csv_with_progress(tmp_path, capsys) -> None:
    candidate = tmp_path / "stricter.json"
    candidate.write_text(json.dumps({"referral_unverified_days": 7}), encoding="utf-8")
    assert main(["rules", "backtest", "--territory", "76", "--settings", str(candidate), "--synthetic", "25",
                 "--to", "2026-11-23", "--report", "md", "--plot", "svg", "--csv", "--progress",
                 "--out", str(tmp_path / "out" / "bt")]) == 0
    err = capsys.readouterr().err
    assert "back-test 76 [" in err and "25/25 parcours" in err
    report = (tmp_path / "out" / "bt.md").read_text(encoding="utf-8")
    assert "territoire synthétique de 25 parcours" in report and "« candidat »" in report
    assert (tmp_path / "out" / "bt.svg").read_text().startswith("<svg")
    assert (tmp_path / "out" / "bt.csv").read_text().startswith("rule_set,rule_id,alerts")


def test_a_refused_settings_file_names_the_field_and_the_reason(tmp_path, capsys) -> None:
    candidate = tmp_path / "bad.toml"
    candidate.write_text("digest_hour = 30\nstaled_days = 3\n", encoding="utf-8")
    assert main(["rules", "backtest", "--territory", "76", "--settings", str(candidate), "--synthetic", "5"]) == 2
    err = capsys.readouterr().err
    assert "champ « staled_days » : réglage inconnu" in err
    assert "champ « digest_hour » : doit être inférieur ou égal à 23" in err
