"""The runner's batch entry point: the protocol, and the checksum projection's handle_batch
(same statements, same order as handle; a record that is not a pathway event named in the
rejection, before any write)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from infra.kafka.cloudevents import CloudEvent, MalformedMessage, decode, encode
from infra.kafka.consumer import BatchHandler, ConsumedMessage, FunctionHandler, Handler, RejectMessage
from projections.checksum import ChecksumProjection
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


def test_handle_batch_sends_the_same_statements_in_the_same_order_as_handle_one_executemany():
    messages = [message("p1", 1, 0), message("p2", 1, 1), message("p1", 2, 2), message("p1", 3, 3)]
    one_by_one, batched = FakeConn(), FakeConn()
    projection = ChecksumProjection()
    for m in messages:
        projection.handle(one_by_one, m)
    projection.handle_batch(batched, messages)
    assert len(batched.log) == 1 and batched.log[0][0] == "executemany"
    _, statement, params = batched.log[0]
    assert [(s, p) for _, s, p in one_by_one.log] == [(statement, p) for p in params]
    assert [p["version"] for p in params] == [1, 1, 2, 3]


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
