"""The embedded files (issue 11): 0600 in a 0700 directory, and the generated key kept apart
from the data it protects unless the development setting RELAIS_KEYS_BESIDE_DATA says so."""

from __future__ import annotations

import stat
import uuid
from datetime import datetime, timezone

import pytest

from services.bootstrap import build_embedded, cipher_key
from services.checks import CheckFailed
from services.settings import Settings


def _mode(path) -> int:  # noqa: ANN001
    return stat.S_IMODE(path.stat().st_mode)


def test_every_file_of_the_state_directory_is_0600_in_a_0700_directory_and_the_key_is_elsewhere(tmp_path):
    state = tmp_path / "state"
    runtime = build_embedded(Settings(mode="embedded", state_dir=state, synthetic_pathways=0), risk=False)
    try:
        result = runtime.pathways.handle_payload("OpenDetentionPathway", {
            "command_id": str(uuid.uuid4()), "pathway_id": str(uuid.uuid4()), "person_ref": "P-SYNTH-F",
            "territory": "76", "lead_agency": "usmp", "prison": "CP",
            "actor": {"agency": "usmp", "professional": "p", "role": "medecin"},
            "occurred_at": datetime.now(timezone.utc).isoformat()})
        assert result.accepted, result.rejection
        while runtime.relay.run_once():
            pass
        files = sorted(p for p in state.rglob("*") if p.is_file())
        assert {p.name for p in files} >= {"events.sqlite3", "read_models.sqlite3", "audit.sqlite3", "keys.sqlite3",
                                           "webhooks.sqlite3"}
        assert _mode(state) == 0o700
        assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
        assert not (state / "cipher.key").exists()
        key = tmp_path / "state.keys" / "cipher.key"
        assert _mode(key) == 0o600 and _mode(key.parent) == 0o700
    finally:
        runtime.close()


def test_the_key_sits_beside_the_data_only_when_the_development_setting_says_so(tmp_path):
    beside = Settings(mode="embedded", state_dir=tmp_path / "dev", keys_beside_data=True)
    cipher_key(beside)
    assert (tmp_path / "dev" / "cipher.key").exists()
    with pytest.raises(CheckFailed, match="RELAIS_KEYS_BESIDE_DATA est réservé au développement"):
        cipher_key(Settings(mode="embedded", state_dir=tmp_path / "prod", keys_beside_data=True,
                            environment="production"))
    with pytest.raises(CheckFailed, match="RELAIS_KEY_DIR"):
        cipher_key(Settings(mode="embedded", state_dir=tmp_path / "s", key_dir=tmp_path / "s" / "keys"))


def test_a_key_left_inside_an_earlier_state_directory_is_moved_out_and_still_opens_its_events(tmp_path):
    state = tmp_path / "old"
    state.mkdir()
    (state / "cipher.key").write_text("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n")
    assert cipher_key(Settings(mode="embedded", state_dir=state)) == "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
    assert not (state / "cipher.key").exists() and (tmp_path / "old.keys" / "cipher.key").exists()
