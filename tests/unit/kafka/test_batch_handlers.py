"""The runner's batch entry point: the protocol, and the checksum projection's handle_batch
(its per-pathway fold; a record that is not a pathway event named in the rejection, before
any write). That the batch writes the same rows as handle is shown against PostgreSQL in
tests/integration/test_checksum_batch_postgres.py."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from infra.kafka.cloudevents import CloudEvent, MalformedMessage, decode, encode
from infra.kafka.consumer import BatchHandler, ConsumedMessage, FunctionHandler, Handler, RejectMessage
from projections.checksum import ChecksumProjection, ChecksumRow, expected_chain, fold
from services.relay.wire import SOURCE, TYPE_PREFIX, event_id


class FakeCursor:
    def __init__(self, log: list) -> None:
        self.log = log

    def __enter__(self) -> FakeCursor:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def executemany(self, statement, params_seq) -> None:  # noqa: ANN001
        self.log.append(("executemany", statement, list(params_seq)))


class FakeConn:
    def __init__(self) -> None:
        self.log: list = []

    def execute(self, statement, params=None) -> None:  # noqa: ANN001
        self.log.append(("execute", statement, params))

    def cursor(self) -> FakeCursor:
        return FakeCursor(self.log)


def message(pathway: str, version: int, offset: int, **override) -> ConsumedMessage:  # noqa: ANN003
    event = CloudEvent(
        id=event_id(pathway, version), source=SOURCE, type=override.pop("type", f"{TYPE_PREFIX}NeedRecorded.v1"),
        subject=pathway, partitionkey=pathway, time=datetime(2026, 3, 2, tzinfo=timezone.utc),
        data={"originator_id": override.pop("originator_id", pathway), "originator_version": version},
    )
    key, value, headers = encode(event)
    return ConsumedMessage(topic="t", partition=0, offset=offset, key=key, value=value,
                           headers=tuple(headers), timestamp_ms=0, event=decode(key, value, headers))


def test_the_checksum_projection_is_a_batch_handler_and_a_plain_function_handler_is_not():
    assert isinstance(ChecksumProjection(), BatchHandler)
    assert isinstance(FunctionHandler(lambda c, m: None), Handler)
    assert not isinstance(FunctionHandler(lambda c, m: None), BatchHandler)


def test_fold_of_a_pathway_seen_in_order_counts_every_event_and_chains_its_ids():
    row = None
    for version in (1, 2, 3):
        row = fold(row, version, event_id("p1", version))
    assert row == ChecksumRow(3, 3, expected_chain(event_id("p1", v) for v in (1, 2, 3)), 0, None)


@given(st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=12))
def test_fold_counts_each_event_that_is_not_the_next_version_and_names_the_first(versions):
    row = None
    for version in versions:
        row = fold(row, version, f"id-{version}")
    assert row is not None and row.events == len(versions) and row.last_version == versions[-1]
    expected_next = [1, *(v + 1 for v in versions[:-1])]
    disorders = [(i, v) for i, (v, want) in enumerate(zip(versions, expected_next)) if v != want]
    assert row.out_of_order == len(disorders)
    if not disorders:
        assert row.first_disorder is None
    elif disorders[0][0] == 0:
        assert row.first_disorder == f"v{versions[0]} first"
    else:
        i, v = disorders[0]
        assert row.first_disorder == f"v{v} after v{versions[i - 1]}"


@pytest.mark.parametrize("bad", [
    {"type": "fr.relais.other.Thing.v1"},
    {"originator_id": "someone-else"},
])
def test_handle_batch_names_the_record_it_rejects_and_writes_nothing(bad):
    messages = [message("p1", 1, 0), message("p1", 2, 1, **bad), message("p1", 3, 2)]
    conn = FakeConn()
    with pytest.raises(RejectMessage) as caught:
        ChecksumProjection().handle_batch(conn, messages)
    assert caught.value.message is messages[1]
    assert caught.value.reason.startswith("checksum projection: ")
    assert conn.log == []


def test_handle_batch_rejects_a_record_that_did_not_decode_by_name():
    broken = ConsumedMessage(topic="t", partition=0, offset=5, key=None, value=b"{", headers=(),
                             timestamp_ms=0, decode_error=MalformedMessage("missing header ce_id"))
    with pytest.raises(RejectMessage) as caught:
        ChecksumProjection().handle_batch(FakeConn(), [message("p1", 1, 4), broken])
    assert caught.value.message is broken


def test_reject_message_names_no_record_by_default():
    assert RejectMessage("why").message is None
