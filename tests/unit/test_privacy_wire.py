"""What the relay puts on the stream for a synthetic territory (issue 11), with the catalogue as
the oracle: no event body carries a personal field (domain.disclosure.PERSONAL_FIELDS) or a
professional's id in clear, no body contains a person's reference or a free text the read
models show, and the projections, which open them, show the same read models as before."""

from __future__ import annotations

import json
import sqlite3

from domain.disclosure import PERSONAL_FIELDS
from services.bootstrap import build_embedded
from services.settings import Settings
from services.territory.load import load


def test_no_event_of_a_synthetic_territory_carries_a_personal_field_in_clear_on_the_stream(tmp_path):
    runtime = build_embedded(Settings(mode="embedded", state_dir=tmp_path, synthetic_pathways=0), risk=False)
    try:
        assert load(runtime.pathways, 25, seed=11, progress=None) > 0
        while runtime.relay.run_once():
            pass
        events = runtime.bus.events()
        with sqlite3.connect(tmp_path / "read_models.sqlite3") as conn:
            refs = {r[0] for r in conn.execute("SELECT person_ref FROM pathway_summary")}
            texts = {r[0] for sql in ("SELECT name FROM pathway_summary_treatments",
                                      "SELECT service FROM pathway_summary_appointments",
                                      "SELECT professional FROM timeline")
                     for r in conn.execute(sql) if r[0]}
    finally:
        runtime.close()
    assert len(refs) >= 20 and {"buprénorphine", "méthadone"} & texts  # the projections opened them
    wire = "".join(json.dumps(e.data, ensure_ascii=False) for e in events)
    for event in events:
        assert not PERSONAL_FIELDS & set(event.data), event.type
        assert "professional" not in event.data.get("actor", {}), event.type
    assert [r for r in refs if r in wire] == []
    assert [t for t in texts if t in wire] == []
