"""Crypto-shredding on the real broker and PostgreSQL (issue 11): the raw bytes of the pathway
events carry no personal or medical plaintext; erasing a person leaves none of their
identifiers or medical texts in the event store, on any topic, in any read model, nor in a
pg_dump, while another person's data stay readable and the indicators unchanged."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import uuid
from datetime import datetime, timezone

import pytest
from eventsourcing.cipher import AESCipher

from services.settings import Settings

MEDICAL = "cardiopathie hypertensive ; traitement amlodipine"


def _person() -> dict[str, str]:
    tag = uuid.uuid4().hex[:8]
    return {"person_ref": f"P-SYNTH-{tag}", "prison": f"CP Synthèse {tag}", "professional": f"dr-synth-{tag}",
            "medical": f"{MEDICAL} {tag}"}


@pytest.fixture
def settings(pg_url, pg_schema, kafka_bootstrap, kafka_admin, tmp_path):
    prefix = f"t{uuid.uuid4().hex[:10]}"
    names = [f"{prefix}.pathway-events", f"{prefix}.deadletter"]
    kafka_admin.create_topics({n: {"num_partitions": 3, "replication_factor": 1} for n in names},
                              wait_for_metadata=True)
    yield Settings(mode="distributed", database_url=pg_url, database_schema=pg_schema, kafka_bootstrap=kafka_bootstrap,
                   topic_prefix=prefix, state_dir=tmp_path, cipher_key=AESCipher.create_key(num_bytes=32),
                   environment="development")
    kafka_admin.delete_topics(names, raise_errors=False)


@pytest.fixture
def running(settings):
    """The relay (sealing) and every projection runner, as `relais relay` and `relais projections run`."""
    from projections.registry import PROJECTIONS
    from services.bootstrap import bootstrap

    relais = bootstrap(settings)
    relais.add(relais.relay(), *(relais.projection(cls) for cls in PROJECTIONS.values()))
    relais.start()
    try:
        yield relais
    finally:
        relais.close()


def _open(relais, person: dict[str, str]) -> str:
    pid = str(uuid.uuid4())
    actor = {"agency": "usmp", "professional": person["professional"], "role": "medecin"}
    now = datetime.now(timezone.utc).isoformat()
    for name, fields in (
        ("OpenDetentionPathway", {"person_ref": person["person_ref"], "territory": "76", "lead_agency": "usmp",
                                  "prison": person["prison"]}),
        ("RecordNeed", {"need_id": str(uuid.uuid4()), "category": "care", "description": person["medical"]}),
    ):
        result = relais.pathways.handle_payload(name, {"command_id": str(uuid.uuid4()), "pathway_id": pid,
                                                       "actor": actor, "occurred_at": now, **fields})
        assert result.accepted, result.rejection
    return pid


def _wait(condition, what: str, seconds: float = 60.0) -> None:  # noqa: ANN001
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"délai dépassé : {what}"
        time.sleep(0.1)


def _read(relais, sql: str, *params: object) -> list[tuple]:
    with relais.readmodels() as conn:
        return conn.execute(sql, params).fetchall()


def _applied(relais, pid: str, seq: int) -> bool:
    import psycopg

    try:
        return _applied_now(relais, pid, seq)
    except psycopg.errors.UndefinedTable:  # the runners have not created their tables yet
        return False


def _applied_now(relais, pid: str, seq: int) -> bool:
    rows = _read(relais, "SELECT seq FROM timeline_applied WHERE pathway_id = %s", pid)
    rows2 = _read(relais, "SELECT seq FROM pathway_summary_applied WHERE pathway_id = %s", pid)
    return bool(rows and rows2 and rows[0][0] >= seq and rows2[0][0] >= seq)


def _raw_topic_bytes(settings, topics: list[str]) -> bytes:
    """Every record of `topics`, key, headers and value, as a plain consumer gets them."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None, enable_auto_commit=False)
    try:
        parts = [TopicPartition(t, p) for t in topics for p in (consumer.partitions_for_topic(t) or ())]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        end = consumer.end_offsets(parts)
        out = bytearray()
        deadline = time.monotonic() + 30
        while any(consumer.position(tp) < end[tp] for tp in parts):
            assert time.monotonic() < deadline, "lecture du topic trop longue"
            for records in consumer.poll(timeout_ms=500).values():
                for r in records:
                    out += (r.key or b"") + b"".join(k.encode() + (v or b"") for k, v in r.headers) + (r.value or b"")
        return bytes(out)
    finally:
        consumer.close()


def _relais_topics(settings, kafka_admin) -> list[str]:
    return [t for t in kafka_admin.list_topics() if t.startswith(settings.topic_prefix + ".")]


def _needles(person: dict[str, str]) -> list[bytes]:
    return [person[k].encode() for k in ("person_ref", "prison", "professional", "medical")]


def test_the_raw_bytes_of_the_pathway_events_topic_carry_no_personal_or_medical_plaintext(running, settings):
    person = _person()
    pid = _open(running, person)
    _wait(lambda: _applied(running, pid, 2), "projections à jour")
    raw = _raw_topic_bytes(settings, [f"{settings.topic_prefix}.pathway-events"])
    assert pid.encode() in raw and b'"sealed"' in raw  # the events are there, sealed
    for needle in _needles(person):
        assert needle not in raw, needle
    # ...and the projections, which may read them, opened them through the key store.
    assert _read(running, "SELECT person_ref FROM pathway_summary WHERE pathway_id = %s", pid) == [
        (person["person_ref"],)]


def _dump(settings) -> bytes:
    pg_dump = shutil.which("pg_dump") or next(iter(sorted(__import__("glob").glob("/usr/lib/postgresql/*/bin/pg_dump"))),
                                               None)
    if pg_dump is None:
        pytest.fail("pg_dump introuvable (paquet postgresql-client)")
    return subprocess.run([pg_dump, "--schema", settings.database_schema, settings.database_url],
                          capture_output=True, check=True).stdout


def test_erasing_a_person_leaves_none_of_their_data_anywhere_and_another_person_s_intact(running, settings,
                                                                                          kafka_admin):
    from services.bootstrap import build_erasure

    erased, kept = _person(), _person()
    erased_pid, kept_pid = _open(running, erased), _open(running, kept)
    _wait(lambda: _applied(running, erased_pid, 2) and _applied(running, kept_pid, 2), "projections à jour")
    indicators = _read(running, "SELECT metric, territory, month, COUNT(*) FROM territory_facts "
                                "GROUP BY metric, territory, month ORDER BY 1, 2, 3")
    assert erased["person_ref"].encode() in _dump(settings)  # before: the read models hold it (opened)

    done = build_erasure(running.pathways).erase_person(erased["person_ref"], "objection",
                                                        now=datetime.now(timezone.utc))
    assert done.pathways == (erased_pid,)
    _wait(lambda: _applied(running, erased_pid, 3), "effacement appliqué par les projections")

    dump = _dump(settings)  # event store rows, key store, every read-model table of the schema
    raw = _raw_topic_bytes(settings, _relais_topics(settings, kafka_admin))
    for needle in _needles(erased):
        assert needle not in dump, needle
        assert needle not in raw, needle
    assert not _read(running, "SELECT 1 FROM pathway_summary WHERE pathway_id = %s", erased_pid)
    assert not _read(running, "SELECT 1 FROM timeline WHERE pathway_id = %s", erased_pid)
    # The other person: intact and readable, in the read models and from the event store.
    assert _read(running, "SELECT person_ref FROM pathway_summary WHERE pathway_id = %s", kept_pid) == [
        (kept["person_ref"],)]
    assert kept["medical"].encode() in dump
    assert running.pathways.app.get_pathway(uuid.UUID(kept_pid)).person_ref == kept["person_ref"]
    # The erased pathway replays without its data, and refuses anything new.
    assert running.pathways.app.get_pathway(uuid.UUID(erased_pid)).is_erased
    refused = running.pathways.handle_payload("RecordNeed", {
        "command_id": str(uuid.uuid4()), "pathway_id": erased_pid, "need_id": str(uuid.uuid4()), "category": "care",
        "description": "x", "actor": {"agency": "usmp", "professional": "p", "role": "medecin"},
        "occurred_at": datetime.now(timezone.utc).isoformat()})
    assert not refused.accepted and refused.rejection.code == "PATHWAY_ERASED"
    # The indicators count the same facts as before.
    assert _read(running, "SELECT metric, territory, month, COUNT(*) FROM territory_facts "
                          "GROUP BY metric, territory, month ORDER BY 1, 2, 3") == indicators


@pytest.mark.parametrize("workers", [1, 2], ids=["in_process", "two_workers"])
def test_a_rebuild_from_the_topic_opens_the_sealed_parts_and_leaves_an_erased_person_out(running, settings, workers):
    from projections.postgres import rebuild
    from projections.summary import PathwaySummary
    from services.bootstrap import build_erasure, projection_target

    erased, kept = _person(), _person()
    erased_pid, kept_pid = _open(running, erased), _open(running, kept)
    _wait(lambda: _applied(running, erased_pid, 2) and _applied(running, kept_pid, 2), "projections à jour")
    build_erasure(running.pathways).erase_person(erased["person_ref"], "objection", now=datetime.now(timezone.utc))
    _wait(lambda: _applied(running, erased_pid, 3), "effacement appliqué")

    rebuild(projection_target(settings), PathwaySummary, progress=None, batch=50, workers=workers)
    assert _read(running, "SELECT person_ref FROM pathway_summary WHERE pathway_id = %s", kept_pid) == [
        (kept["person_ref"],)]
    assert not _read(running, "SELECT 1 FROM pathway_summary WHERE pathway_id = %s", erased_pid)
