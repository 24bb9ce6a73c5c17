"""The pathways service on the real PostgreSQL (started by infra/scripts/up.sh)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from uuid import UUID, uuid4

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql
from pydantic import SecretStr

from eventsourcing.cipher import AESCipher
from services.bootstrap import build_pathways_application
from services.pathways import PathwaysApplication, PathwaysHandler
from services.pathways import commands as c
from services.settings import Settings
from tests.unit.pathways.strategies import BASE_TIME, KINDS, actor, command_sequences, open_command, play, rebuild


@pytest.fixture
def pg_settings(pg_url: str, pg_schema: str) -> Settings:
    return Settings(
        mode="distributed", database_url=pg_url, database_schema=pg_schema,
        cipher_key=SecretStr(AESCipher.create_key(32)),
    )


@pytest.fixture
def pg_app(pg_settings: Settings) -> Iterator[PathwaysApplication]:
    app = build_pathways_application(pg_settings)
    yield app
    app.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), kind=st.sampled_from(KINDS))
def test_any_sequence_of_commands_gives_the_aggregate_rebuilt_from_stored_events_on_postgres(
    pg_app: PathwaysApplication, data: st.DataObject, kind: str
) -> None:
    pathway_id = uuid4()
    live, _ = play(pg_app, kind, pathway_id, data.draw(command_sequences(kind, pathway_id)))
    assert rebuild(pg_app, pathway_id) == live


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), kind=st.sampled_from(KINDS), batch=st.integers(min_value=1, max_value=6))
def test_commands_through_the_handler_on_postgres_give_the_rebuilt_aggregate_and_resending_changes_nothing(
    pg_app: PathwaysApplication, data: st.DataObject, kind: str, batch: int
) -> None:
    handler = PathwaysHandler(pg_app)
    pathway_id = uuid4()
    sequence = [open_command(kind, pathway_id), *data.draw(command_sequences(kind, pathway_id, max_size=15))]
    answers = [r for i in range(0, len(sequence), batch) for r in handler.handle_batch(sequence[i:i + batch])]
    assert pg_app.get_pathway_to_command(pathway_id) == rebuild(pg_app, pathway_id)
    stored = list(pg_app.events.get(pathway_id))
    assert [handler.handle(command) for command in sequence] == answers
    assert list(pg_app.events.get(pathway_id)) == stored


def test_stored_payloads_on_postgres_do_not_contain_plaintext(pg_app: PathwaysApplication, pg_url: str, pg_schema: str) -> None:
    marker = "MARQUEUR-EN-CLAIR-4b1d"
    pathway_id = uuid4()
    handler = PathwaysHandler(pg_app)
    assert handler.handle(open_command("pass_gp", pathway_id)).accepted
    need = c.RecordNeed(command_id=uuid4(), pathway_id=pathway_id, actor=actor(), occurred_at=BASE_TIME,
                        need_id=uuid4(), category="care", description=marker)
    assert handler.handle(need).accepted
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            sql.SQL("SELECT state FROM {}.{}").format(
                sql.Identifier(pg_schema), sql.Identifier(pg_app.recorder.events_table_name)
            )
        ).fetchall()
    assert len(rows) >= 4  # two pathway events, two processed-command records
    assert all(marker.encode() not in bytes(row[0]) for row in rows)
    assert all(b"pass-chu-rouen" not in bytes(row[0]) for row in rows)
    assert pg_app.get_pathway(pathway_id).open_needs[0].description == marker


def test_the_binary_recorder_stores_what_the_library_reads_back_in_notification_order(
    pg_app: PathwaysApplication,
) -> None:
    from services.pathways.recorder import PathwaysPostgresRecorder

    assert isinstance(pg_app.recorder, PathwaysPostgresRecorder)
    handler = PathwaysHandler(pg_app)
    pathway_id = uuid4()
    assert handler.handle(open_command("pass_gp", pathway_id)).accepted
    first = pg_app.recorder.max_notification_id()
    commands = [c.RecordContactAttempt(command_id=uuid4(), pathway_id=pathway_id, actor=actor(),
                                       occurred_at=BASE_TIME, reached=False, channel="téléphone")
                for _ in range(5)]
    assert all(r.accepted for r in handler.handle_batch(commands))

    stored = pg_app.recorder.select_events(pathway_id)
    notifications = pg_app.recorder.select_notifications(first, 100, inclusive_of_start=False)
    mine = [n for n in notifications if n.originator_id == pathway_id]
    assert [(n.originator_version, n.state) for n in mine] == [(e.originator_version, e.state) for e in stored[1:]]
    assert [n.id for n in notifications] == sorted(n.id for n in notifications)
    assert pg_app.repository.get(pathway_id).contact.failed_attempts == 5


@pytest.mark.parametrize("processes", ["one application per agency", "one shared application"])
def test_four_agencies_writing_to_one_pathway_concurrently_lose_no_update(
    pg_app: PathwaysApplication, pg_settings: Settings, processes: str
) -> None:
    """Four agencies, four threads, each command delivered twice. With one application per
    agency (as four processes: own cache, own pool) the writes race and collide on the
    version; with a shared one they queue on the pathway's lock. Either way every accepted
    command is in the stream exactly once."""
    agencies = ["pass-chu-rouen", "siao-76", "dac-rouen", "cpam-76"]
    pathway_id = uuid4()
    setup = PathwaysHandler(pg_app)
    assert setup.handle(open_command("pass_gp", pathway_id)).accepted
    for agency in agencies[1:]:
        assert setup.handle(c.AddAgency(command_id=uuid4(), pathway_id=pathway_id, actor=actor(), occurred_at=BASE_TIME,
                                        agency=agency, role="coordination")).accepted
    own_apps = processes == "one application per agency"
    apps = {agency: build_pathways_application(pg_settings) if own_apps else pg_app for agency in agencies}
    per_agency = 15
    commands = {
        agency: [
            c.RecordNeed(command_id=uuid4(), pathway_id=pathway_id, actor=actor(agency), occurred_at=BASE_TIME,
                         need_id=uuid4(), category="care", description=f"{agency} #{i}")
            for i in range(per_agency)
        ]
        for agency in agencies
    }
    results: dict[UUID, list] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(agencies))

    def write(agency: str) -> None:
        handler = PathwaysHandler(apps[agency], max_attempts=60)
        try:
            start.wait()
            for command in commands[agency]:
                # Each command is delivered twice, as an at-least-once transport would.
                results[command.command_id] = [handler.handle(command), handler.handle(command)]
        except BaseException as error:  # noqa: BLE001 - surfaced below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(agency,)) for agency in agencies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if own_apps:
        for app in apps.values():
            app.close()
    assert not errors, errors
    sent = [command for batch in commands.values() for command in batch]
    assert all(results[command.command_id][0].accepted for command in sent)
    assert all(first == second and second.duplicate for first, second in results.values())

    stream = list(pg_app.events.get(pathway_id))
    assert [e.originator_version for e in stream] == list(range(1, len(stream) + 1))
    recorded = Counter(e.need_id for e in stream if type(e).__name__ == "NeedRecorded")
    assert recorded == Counter(command.need_id for command in sent)  # every accepted one exactly once
    versions = sorted(results[command.command_id][0].version for command in sent)
    assert len(set(versions)) == len(versions)  # each answer names its own place in the stream
    pathway = pg_app.get_pathway(pathway_id)
    assert len(pathway.needs) == len(sent)
    assert {n.recorded_by for n in pathway.needs.values()} == set(agencies)


def test_services_starting_at_once_on_a_fresh_database_all_create_or_find_the_event_store(
    pg_settings: Settings,
) -> None:
    """A région starts its services together on an empty database: each process's event store
    creates the library's tables, types and functions at once. None fails ("tuple concurrently
    updated" killed one of ten processes of bench/soak.py before the recorder took turns)."""
    count = 8
    start = threading.Barrier(count)
    apps: list[PathwaysApplication] = []
    errors: list[BaseException] = []

    def boot() -> None:
        try:
            start.wait()
            apps.append(build_pathways_application(pg_settings))
        except BaseException as error:  # noqa: BLE001 - surfaced below
            errors.append(error)

    threads = [threading.Thread(target=boot) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert errors == []
        pathway_id = uuid4()
        assert PathwaysHandler(apps[0]).handle(open_command("pass_gp", pathway_id)).accepted
        assert apps[-1].get_pathway(pathway_id).id == pathway_id
    finally:
        for app in apps:
            app.close()
