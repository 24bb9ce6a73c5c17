"""`python -m gateway.published --check` (run by infra/scripts/test.sh before the whole suite):
the published SDL, error list and inbound schemas are the code's, and an edited one fails it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway import published


def test_what_docs_publishes_is_what_the_code_generates() -> None:
    assert published.differences() == []
    assert published.main(["--check"]) == 0


def test_a_published_error_list_edited_by_hand_fails_the_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    edited = tmp_path / "errors.md"
    edited.write_text(published.ERRORS.read_text(encoding="utf-8").replace("`PAGE_SIZE`", "`PAGE_SIZE_X`"),
                      encoding="utf-8")
    monkeypatch.setattr(published, "ERRORS", edited)
    monkeypatch.setattr(published, "ROOT", tmp_path)
    assert published.main(["--check"]) == 1
    assert "errors.md diffère des codes d'erreur du code" in capsys.readouterr().err
