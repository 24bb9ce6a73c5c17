"""`relais retention run [--dry-run]` (issue 11): the persons whose pathways are all closed past
their territory's retention period are erased, each pathway named as it goes; the others stay."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import datetime, timedelta, timezone

from services.bootstrap import build_embedded
from services.cli import main
from services.settings import Settings


def _pathway(runtime, person: str, *, opened_days_ago: int, closed_days_ago: int | None) -> str:
    pid = str(uuid.uuid4())
    now = datetime.now(timezone.utc)
    actor = {"agency": "usmp", "professional": "p", "role": "medecin"}
    steps = [("OpenDetentionPathway", opened_days_ago, {"person_ref": person, "territory": "76", "lead_agency": "usmp",
                                                         "prison": "CP"})]
    if closed_days_ago is not None:
        steps.append(("ClosePathway", closed_days_ago, {"outcome": "handed_over", "reason": "relais effectué"}))
    for name, days, fields in steps:
        result = runtime.pathways.handle_payload(name, {
            "command_id": str(uuid.uuid4()), "pathway_id": pid, "actor": actor,
            "occurred_at": (now - timedelta(days=days)).isoformat(), **fields})
        assert result.accepted, result.rejection
    return pid


def _summary(state_dir) -> set[str]:  # noqa: ANN001
    with sqlite3.connect(state_dir / "read_models.sqlite3") as conn:
        return {r[0] for r in conn.execute("SELECT pathway_id FROM pathway_summary")}


def test_retention_erases_only_the_persons_whose_pathways_are_all_closed_past_the_territory_s_period(
        tmp_path, monkeypatch, capsys):
    settings = Settings(mode="embedded", state_dir=tmp_path, synthetic_pathways=0)
    runtime = build_embedded(settings, risk=False)
    old = _pathway(runtime, "P-SYNTH-OLD", opened_days_ago=40, closed_days_ago=30)
    recent = _pathway(runtime, "P-SYNTH-RECENT", opened_days_ago=40, closed_days_ago=2)
    # A person with one pathway closed long ago and another still open keeps both.
    mixed = [_pathway(runtime, "P-SYNTH-MIXED", opened_days_ago=40, closed_days_ago=30),
             _pathway(runtime, "P-SYNTH-MIXED", opened_days_ago=40, closed_days_ago=None)]
    while runtime.relay.run_once():
        pass
    runtime.close()
    monkeypatch.setenv("RELAIS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("RELAIS_SYNTHETIC_PATHWAYS", "0")
    monkeypatch.setenv("RELAIS_RETENTION_DAYS_BY_TERRITORY", '{"76": 10}')

    assert main(["retention", "run", "--dry-run"]) == 0
    said = capsys.readouterr().out
    assert f"parcours {old} (territoire 76" in said and "à effacer" in said and "rien n'a été effacé" in said
    assert recent not in said and not any(m in said for m in mixed)
    assert old in _summary(tmp_path)  # a dry run erases nothing

    assert main(["retention", "run"]) == 0
    said = capsys.readouterr().out
    assert f"parcours {old} (territoire 76" in said and "1 personne(s), 1 parcours effacé" in said
    assert _summary(tmp_path) == {recent, *mixed}
