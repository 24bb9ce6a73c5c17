"""The checksum projection's batch entry point on the real PostgreSQL: a batch folded per
pathway writes exactly the rows the per-event upsert writes, and a batch that fails half-way
leaves nothing of itself behind (the runner's transaction)."""

from __future__ import annotations

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.checksum import TABLE, ChecksumProjection
from tests.unit.kafka.test_batch_handlers import message

COLUMNS = "pathway_id, events, last_version, chain, out_of_order, first_disorder"


def rows(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute(f"SELECT {COLUMNS} FROM {TABLE} ORDER BY pathway_id").fetchall()


def connect(pg_url: str, schema: str) -> psycopg.Connection:
    conn = psycopg.connect(pg_url)
    conn.execute(f'SET search_path TO "{schema}", public')
    return conn


# Records of three pathways, versions possibly repeated, missing or out of order (what a
# faulty upstream would send), cut into batches anywhere; an earlier batch leaves rows behind.
records = st.lists(st.tuples(st.sampled_from(["p1", "p2", "p3"]), st.integers(min_value=1, max_value=5)),
                   min_size=1, max_size=25)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=records, cut=st.integers(min_value=0, max_value=25))
def test_a_batch_folded_per_pathway_writes_the_rows_the_per_event_upsert_writes(pg_url, pg_schema, records, cut):
    messages = [message(p, v, offset) for offset, (p, v) in enumerate(records)]
    projection = ChecksumProjection()
    with connect(pg_url, pg_schema) as conn:
        conn.execute(f"TRUNCATE {TABLE}")
        for m in messages:
            projection.handle(conn, m)
        one_by_one = rows(conn)
        conn.execute(f"TRUNCATE {TABLE}")
        projection.handle_batch(conn, messages[:cut])
        projection.handle_batch(conn, messages[cut:])
        assert rows(conn) == one_by_one
        conn.rollback()


def test_a_batch_that_fails_after_its_write_leaves_the_rows_as_they_were(pg_url, pg_schema):
    projection = ChecksumProjection()
    with connect(pg_url, pg_schema) as conn:
        projection.handle_batch(conn, [message("p1", 1, 0), message("p2", 1, 1)])
        conn.commit()
        before = rows(conn)
        with pytest.raises(RuntimeError), conn.transaction():
            projection.handle_batch(conn, [message("p1", 2, 2), message("p2", 2, 3), message("p3", 1, 4)])
            raise RuntimeError("crash after the write, before the commit")
        assert rows(conn) == before
        projection.handle_batch(conn, [message("p1", 2, 2), message("p2", 2, 3), message("p3", 1, 4)])
        conn.commit()
        assert [(r[0], r[1], r[4]) for r in rows(conn)] == [("p1", 2, 0), ("p2", 2, 0), ("p3", 1, 0)]
