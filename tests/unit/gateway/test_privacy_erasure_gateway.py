"""Erasure through GraphQL in the embedded mode (issue 11): the DPO's `erasePerson`, audited with
its legal basis; afterwards no SQLite file of the state directory holds the person's
identifiers or medical texts, another person's data stay, the indicators are unchanged."""

from __future__ import annotations

import sqlite3
import time
import uuid
from pathlib import Path

from tests.unit.gateway.conftest import token

MEDICAL = "cardiopathie hypertensive ; traitement amlodipine"
ERASE = ("mutation($ref: String!, $basis: ErasureBasis!) { erasePerson(personRef: $ref, legalBasis: $basis) "
         "{ pathways legalBasis legalBasisLabel } }")
PATHWAY = "query($id: UUID!) { pathway(id: $id) { personRef } }"


def _open(api, usmp: str, tag: str) -> str:
    pid = str(uuid.uuid4())
    api.send("OpenDetentionPathway", {"pathwayId": pid, "personRef": f"P-SYNTH-{tag}", "territory": "76",
                                      "leadAgency": "usmp", "prison": f"CP Synthèse {tag}"}, as_=usmp)
    api.send("RecordNeed", {"pathwayId": pid, "needId": str(uuid.uuid4()), "category": "CARE",
                            "description": f"{MEDICAL} {tag}"}, as_=usmp)
    return pid


def _files(state_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(state_dir.rglob("*")) if p.is_file())


def _indicators(state_dir: Path) -> list[tuple]:
    with sqlite3.connect(state_dir / "read_models.sqlite3") as conn:
        return conn.execute("SELECT metric, territory, month, COUNT(*) FROM territory_facts "
                            "GROUP BY metric, territory, month ORDER BY 1, 2, 3").fetchall()


def test_the_embedded_event_store_holds_no_personal_plaintext_while_the_read_models_show_it(api, tmp_path):
    usmp = token("usmp", "medecin")
    tag = uuid.uuid4().hex[:8]
    pid = _open(api, usmp, tag)
    assert (tmp_path / "events.sqlite3").exists()
    stored = (tmp_path / "events.sqlite3").read_bytes() + (tmp_path / "events.sqlite3-wal").read_bytes()
    assert f"P-SYNTH-{tag}".encode() not in stored and f"{MEDICAL} {tag}".encode() not in stored
    assert api(PATHWAY, {"id": pid}, as_=usmp)["pathway"]["personRef"] == f"P-SYNTH-{tag}"


def test_a_dpo_erases_a_person_and_no_sqlite_file_keeps_their_data_another_person_s_stays(api, tmp_path):
    usmp = token("usmp", "medecin")
    erased, kept = uuid.uuid4().hex[:8], uuid.uuid4().hex[:8]
    erased_pid, kept_pid = _open(api, usmp, erased), _open(api, usmp, kept)
    before = _indicators(tmp_path)

    out = api(ERASE, {"ref": f"P-SYNTH-{erased}", "basis": "OBJECTION"}, as_=token("usmp", "dpo"))["erasePerson"]
    assert out == {"pathways": 1, "legalBasis": "OBJECTION",
                   "legalBasisLabel": "opposition de la personne (RGPD art. 17.1.c et 21)"}
    api.settle(erased_pid, 3)

    # The purge commits, then the write-ahead log that held the old pages is checkpointed and
    # emptied: wait (deadline) for that, then nothing may be left.
    needles = [n.encode() for n in (f"P-SYNTH-{erased}", f"CP Synthèse {erased}", f"{MEDICAL} {erased}")]
    deadline = time.monotonic() + 10
    while any(n in _files(tmp_path) for n in needles) and time.monotonic() < deadline:
        time.sleep(0.05)
    files = _files(tmp_path)
    assert [n for n in needles if n in files] == []
    assert api(PATHWAY, {"id": kept_pid}, as_=usmp)["pathway"]["personRef"] == f"P-SYNTH-{kept}"
    assert _indicators(tmp_path) == before
    with sqlite3.connect(tmp_path / "audit.sqlite3") as conn:
        audited = conn.execute("SELECT role, pathway_id, outcome FROM gateway_audit_events "
                               "WHERE operation = 'mutation.erasePerson'").fetchall()
    assert audited == [("dpo", erased_pid, "0")]


def test_only_the_dpo_of_an_agency_of_the_person_s_pathways_may_erase_and_others_learn_nothing(api):
    usmp = token("usmp", "medecin")
    pid = _open(api, usmp, "x1")
    refused = api.post(ERASE, {"ref": "P-SYNTH-x1", "basis": "OBJECTION"}, as_=usmp).json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    unknown = api.post(ERASE, {"ref": "P-NOBODY", "basis": "OBJECTION"}, as_=token("usmp", "dpo")).json()
    # The SIAO's DPO: its agency never took part, it is told what it is told of nobody.
    stranger = api.post(ERASE, {"ref": "P-SYNTH-x1", "basis": "OBJECTION"}, as_=token("siao", "dpo")).json()
    assert unknown["errors"][0]["extensions"]["code"] == stranger["errors"][0]["extensions"]["code"] == "UNKNOWN_PERSON"
    assert unknown["errors"][0]["message"] == stranger["errors"][0]["message"]
    assert api(PATHWAY, {"id": pid}, as_=usmp)["pathway"]["personRef"] == "P-SYNTH-x1"  # not erased
