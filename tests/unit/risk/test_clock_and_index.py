"""The test clock and the SQLite deadline index (the PostgreSQL one: tests/integration)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from services.clock import SystemClock, TestClock
from services.risk import SQLiteDeadlineIndex

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def test_the_test_clock_moves_only_when_told_and_never_back() -> None:
    clock = TestClock(T0)
    assert clock.now() == T0
    assert clock.advance(days=1, hours=2) == T0 + timedelta(days=1, hours=2)
    assert clock.set(T0 + timedelta(days=3)) == T0 + timedelta(days=3)
    with pytest.raises(ValueError):
        clock.set(T0)
    with pytest.raises(ValueError):
        clock.advance(timedelta(seconds=-1))
    assert clock.set(T0, allow_backwards=True) == T0


def test_a_naive_moment_given_to_the_test_clock_is_read_as_utc() -> None:
    clock = TestClock(datetime(2026, 3, 2, 9, 0))
    assert clock.now() == T0 and clock.now().tzinfo is not None


def test_the_system_clock_is_timezone_aware() -> None:
    assert SystemClock().now().tzinfo is not None


def test_due_returns_only_passed_deadlines_earliest_first_up_to_the_limit() -> None:
    index = SQLiteDeadlineIndex()
    ids = [uuid4() for _ in range(6)]
    with index.transaction() as conn:
        for n, pid in enumerate(ids):
            index.set(conn, pid, "76", T0 + timedelta(hours=n))
        due = index.due(conn, T0 + timedelta(hours=3, minutes=30), limit=10)
        assert [d.pathway_id for d in due] == ids[:4]
        assert [d.pathway_id for d in index.due(conn, T0 + timedelta(hours=9), limit=2)] == ids[:2]
        assert due[0].due_at == T0 and due[0].territory == "76"


def test_setting_a_pathway_again_moves_its_row_and_none_removes_it() -> None:
    index = SQLiteDeadlineIndex()
    pid = uuid4()
    with index.transaction() as conn:
        index.set(conn, pid, "76", T0)
        index.set(conn, pid, "27", T0 + timedelta(days=2))
        assert index.count(conn) == 1 and index.get(conn, pid) == T0 + timedelta(days=2)
        index.set(conn, pid, "27", None)
        assert index.count(conn) == 0 and index.get(conn, pid) is None


def test_the_due_query_reads_the_due_at_index_not_the_whole_table() -> None:
    index = SQLiteDeadlineIndex()
    with index.transaction() as conn:
        plan = index.explain_due(conn, T0, 100)
    assert "risk_deadlines_due_at" in plan and "SCAN risk_deadlines " not in plan + " "


def test_an_error_inside_a_transaction_rolls_the_index_back() -> None:
    index = SQLiteDeadlineIndex()
    pid = uuid4()
    with pytest.raises(RuntimeError), index.transaction() as conn:
        index.set(conn, pid, "76", T0)
        raise RuntimeError("boom")
    with index.transaction() as conn:
        assert index.get(conn, pid) is None
