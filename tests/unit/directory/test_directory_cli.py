"""`relais directory import` then `export`: the same file back, and an invalid file refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.cli import main
from tests.unit.directory.test_directory_exchange import _rouen
from services.directory.exchange import export_records


@pytest.mark.parametrize("fmt", ["data-inclusion", "hsds"])
def test_importing_a_file_then_exporting_gives_the_same_file(fmt: str, tmp_path: Path, monkeypatch,
                                                             capsys) -> None:
    monkeypatch.setenv("RELAIS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("RELAIS_MODE", "embedded")
    source = tmp_path / "in.json"
    source.write_text(json.dumps(export_records(_rouen().index.services(), fmt), ensure_ascii=False), "utf-8")
    assert main(["directory", "import", "--format", fmt, str(source)]) == 0
    out = tmp_path / "out.json"
    assert main(["directory", "export", "--format", fmt, "--out", str(out)]) == 0
    assert json.loads(out.read_text("utf-8")) == json.loads(source.read_text("utf-8"))
    assert "3 service(s) au format" in capsys.readouterr().err


def test_an_invalid_file_is_refused_whole_with_each_fault_named(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("RELAIS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("RELAIS_MODE", "embedded")
    records = export_records(_rouen().index.services(), "data-inclusion")
    records[2]["date_maj"] = "1999-01-01"
    source = tmp_path / "in.json"
    source.write_text(json.dumps(records), "utf-8")
    assert main(["directory", "import", "--format", "data-inclusion", str(source)]) == 1
    assert f"invalide : {records[2]['id']}: date_maj" in capsys.readouterr().err
    assert main(["directory", "export", "--format", "data-inclusion"]) == 0
    assert json.loads(capsys.readouterr().out) == []  # nothing of the file was imported
