"""`relais keys rotate` under a running load (issue 11): while commands keep coming and the relay
and a projection keep running, every data key is re-wrapped under the new master key; no
command fails, no event is lost, and afterwards the new master key alone opens everything."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timezone

import pytest
from eventsourcing.cipher import AESCipher
from pydantic import SecretStr

from infra.keystore import new_master_key
from services.settings import Settings

OLD, NEW = f"old:{new_master_key()}", f"new:{new_master_key()}"


@pytest.fixture
def base(pg_url, pg_schema, kafka_bootstrap, kafka_admin, tmp_path):
    prefix = f"t{uuid.uuid4().hex[:10]}"
    names = [f"{prefix}.pathway-events", f"{prefix}.deadletter"]
    kafka_admin.create_topics({n: {"num_partitions": 3, "replication_factor": 1} for n in names},
                              wait_for_metadata=True)
    yield {"mode": "distributed", "database_url": pg_url, "database_schema": pg_schema,
           "kafka_bootstrap": kafka_bootstrap, "topic_prefix": prefix, "state_dir": tmp_path,
           "cipher_key": AESCipher.create_key(num_bytes=32), "environment": "development"}
    kafka_admin.delete_topics(names, raise_errors=False)


def _open(relais, person: str) -> str:
    pid = str(uuid.uuid4())
    result = relais.pathways.handle_payload("OpenDetentionPathway", {
        "command_id": str(uuid.uuid4()), "pathway_id": pid, "person_ref": person, "territory": "76",
        "lead_agency": "usmp", "prison": f"CP {person}",
        "actor": {"agency": "usmp", "professional": "p", "role": "medecin"},
        "occurred_at": datetime.now(timezone.utc).isoformat()})
    assert result.accepted, result.rejection
    return pid


def test_rotating_the_master_key_under_load_loses_no_event_and_leaves_the_new_key_alone_needed(base):
    from projections.summary import PathwaySummary
    from services.bootstrap import bootstrap, build_key_store

    opened: dict[str, str] = {}
    # Before: every process wraps with the old key; some persons already have their key.
    before = bootstrap(Settings(**base, master_keys=SecretStr(OLD)))
    for i in range(20):
        opened[_open(before, f"P-ROT-A{i}")] = f"P-ROT-A{i}"
    before.close()

    # The rolling restart: every process now wraps with the new key and still unwraps the old.
    relais = bootstrap(Settings(**base, master_keys=SecretStr(f"{NEW},{OLD}")))
    relais.add(relais.relay(), relais.projection(PathwaySummary))
    relais.start()
    stop, failures = threading.Event(), []

    def load() -> None:
        i = 0
        while not stop.is_set():
            try:
                person = f"P-ROT-B{i % 15}"  # new persons, and persons seen again (their key reused)
                opened[_open(relais, person)] = person
            except Exception as exc:  # noqa: BLE001 - any failure fails the test below
                failures.append(exc)
            i += 1

    writer = threading.Thread(target=load)
    writer.start()
    try:
        rotating = build_key_store(Settings(**base, master_keys=SecretStr(f"{NEW},{OLD}")))
        assert rotating is not None and rotating.count_to_rewrap() > 0
        deadline = time.monotonic() + 60
        while len(opened) < 60:  # the rotation runs in the middle of the load
            assert time.monotonic() < deadline
            time.sleep(0.05)
        rewrapped = rotating.rewrap(batch=3)
        while len(opened) < 90:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        stop.set()
        writer.join(timeout=30)
    assert failures == [] and rewrapped >= 1
    assert rotating.count_to_rewrap() == 0  # nothing left under the old master key
    rotating.close()

    def applied() -> set[str]:
        with relais.readmodels() as conn:
            return {r[0] for r in conn.execute("SELECT pathway_id FROM pathway_summary_applied").fetchall()}

    deadline = time.monotonic() + 60
    while not set(opened) <= applied():
        assert time.monotonic() < deadline, f"{len(set(opened) - applied())} événements jamais appliqués"
        time.sleep(0.1)
    with relais.readmodels() as conn:
        seen = dict(conn.execute("SELECT pathway_id, person_ref FROM pathway_summary").fetchall())
    assert {pid: seen.get(pid) for pid in opened} == opened  # every event, opened with its key
    relais.close()

    # After: the old master key is withdrawn; the new one alone opens every stored event.
    after = bootstrap(Settings(**base, master_keys=SecretStr(NEW)))
    try:
        for pid, person in list(opened.items())[::7]:
            assert after.pathways.app.get_pathway(uuid.UUID(pid)).person_ref == person
    finally:
        after.close()
