"""The PostgreSQL recorder of the pathways application: the library's, with its insert done by
one prepared call of a server-side function that receives the rows in binary.

`eventsourcing.postgres.PostgresApplicationRecorder` inserts with five statements in a psycopg
pipeline and two round trips (BEGIN, `SET LOCAL lock_timeout`, `LOCK TABLE ... IN EXCLUSIVE
MODE`, `NOTIFY`, `INSERT ... SELECT ... FROM unnest(%s) RETURNING notification_id`, sync,
COMMIT), and passes the rows as an array of its composite type with `%s`, which psycopg dumps
in *text* (every encrypted payload hex-encoded, then escaped by regular expressions: ~50 µs a
row of ~400 bytes). Here the same statements run inside one PL/pgSQL function, called as a
single prepared statement in autocommit (its own transaction: the table lock is held until the
commit, so notification ids are still committed in order, which the relay's tailing relies
on), with the array passed in binary (`%b`). The library has such a function too
(POSTGRES_ENABLE_DB_FUNCTIONS) but without the table lock, so it is not used.

Stored rows are the same (same table, columns, bytes): readers are the library's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier


class PathwaysPostgresRecorder(PostgresApplicationRecorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.insert_function_name = f"relais_insert_events_{self.datastore.originator_id_type}"
        names = {
            "schema": Identifier(self.datastore.schema),
            "table": Identifier(self.events_table_name),
            "event": Identifier(self.stored_event_type_name),
            "function": Identifier(self.insert_function_name),
            "channel": Identifier(self.channel_name),
        }
        self.sql_create_insert_function = SQL(
            "CREATE OR REPLACE FUNCTION {schema}.{function}(events {schema}.{event}[]) "
            "RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$ "
            "BEGIN "
            "  SET LOCAL lock_timeout = '{lock_timeout}s'; "
            "  LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; "
            "  NOTIFY {channel}; "
            "  RETURN QUERY "
            "    INSERT INTO {schema}.{table} AS t (originator_id, originator_version, topic, state) "
            "    SELECT originator_id, originator_version, topic, state FROM unnest(events) "
            "    RETURNING notification_id; "
            "END; $BODY$"
        ).format(lock_timeout=self.datastore.lock_timeout, **names)
        self.sql_call_insert_function = SQL("SELECT * FROM {schema}.{function}(%b)").format(**names)

    def create_table(self) -> None:
        # Several processes start at once on a fresh database (a région starting its services):
        # the library's CREATE TABLE / TYPE / FUNCTION statements of two processes collide
        # ("tuple concurrently updated", seen by bench/soak.py). One session-level advisory lock,
        # held on a connection of its own while the library creates the tables on another,
        # makes them take turns; the second finds everything there.
        with self.datastore.get_connection() as lock:
            lock.execute("SELECT pg_advisory_lock(hashtext(%s))", (self.insert_function_name,))
            try:
                super().create_table()
                with self.datastore.transaction(commit=True) as curs:
                    curs.execute(self.sql_create_insert_function)
            finally:
                lock.execute("SELECT pg_advisory_unlock(hashtext(%s))", (self.insert_function_name,))

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not stored_events:
            return []
        make = self.datastore.psycopg_python_types[self.stored_event_type_name]
        rows = [make(e.originator_id, e.originator_version, e.topic, e.state) for e in stored_events]
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            assert conn.autocommit
            curs.execute(self.sql_call_insert_function, (rows,), prepare=True)
            return [row[self.insert_function_name] for row in curs.fetchall()]
