"""The pure parts of the consumer runner: message view, handler adapter, JSON log lines."""

from __future__ import annotations

import json
import logging

import pytest

from infra.kafka.cloudevents import MalformedMessage, decode, encode
from infra.kafka.consumer import (
    ConsumedMessage,
    ConsumerRunner,
    FunctionHandler,
    Handler,
    JsonLogFormatter,
    RejectMessage,
    RunnerConfig,
)
from tests.integration.consumer_checksum_worker import make_event


def test_a_consumed_message_exposes_the_event_id_and_its_partition():
    key, value, headers = encode(make_event("pathway-1", 0, 1, ce_id="abc"))
    m = ConsumedMessage(topic="t", partition=2, offset=9, key=key, value=value,
                        headers=tuple(headers), timestamp_ms=0, event=decode(key, value, headers))
    assert m.ce_id == "abc"
    assert m.topic_partition == ("t", 2)
    broken = ConsumedMessage(topic="t", partition=0, offset=1, key=None, value=b"{", headers=(),
                             timestamp_ms=0, decode_error=MalformedMessage("missing header ce_id"))
    assert broken.ce_id is None


def test_function_handler_adapts_plain_functions_to_the_handler_protocol():
    seen = []
    h = FunctionHandler(lambda conn, m: seen.append((conn, m)), setup=lambda conn: seen.append(conn))
    assert isinstance(h, Handler)
    h.setup("conn")
    h.handle("conn", "msg")
    assert seen == ["conn", ("conn", "msg")]


def test_reject_message_carries_its_reason():
    assert RejectMessage("unknown pathway p-1").reason == "unknown pathway p-1"


def test_runner_needs_exactly_one_database_source():
    cfg = RunnerConfig(group_id="g", topics=["t"], bootstrap_servers="127.0.0.1:1")
    with pytest.raises(ValueError):
        ConsumerRunner(FunctionHandler(lambda c, m: None), cfg)


def test_json_log_lines_carry_the_extra_fields():
    record = logging.LogRecord("relais.kafka.consumer", logging.INFO, __file__, 1, "batch applied",
                               None, None)
    record.__dict__.update({"event": "batch", "applied": 12, "group": "projection-timeline"})
    line = json.loads(JsonLogFormatter().format(record))
    assert line["message"] == "batch applied"
    assert line["level"] == "info"
    assert (line["event"], line["applied"], line["group"]) == ("batch", 12, "projection-timeline")
    assert line["time"].endswith("+00:00")


class FakeCoordinator:
    def __init__(self, join_task, need_rejoin):
        self._join_task = join_task
        self._need = need_rejoin
        self.rejoin_requested = False

    def need_rejoin(self):
        return self._need

    def request_rejoin(self):
        self.rejoin_requested = True


class FakeConsumer:
    def __init__(self, coordinator):
        self._coordinator = coordinator


@pytest.mark.parametrize(("join_task", "need_rejoin", "expected"), [
    (object(), False, True),   # a join in flight nobody will finish: ask to rejoin
    (object(), True, False),   # the coordinator is already driving it
    (None, False, False),      # nothing pending
])
def test_a_rebalance_left_pending_by_kafka_python_is_finished_on_the_next_poll(
    join_task, need_rejoin, expected
):
    cfg = RunnerConfig(group_id="g", topics=["t"], bootstrap_servers="127.0.0.1:1")
    runner = ConsumerRunner(FunctionHandler(lambda c, m: None), cfg,
                            conninfo="postgresql://nobody@127.0.0.1:1/none")
    runner.consumer = FakeConsumer(FakeCoordinator(join_task, need_rejoin))
    runner._unstick_rebalance()
    assert runner.consumer._coordinator.rejoin_requested is expected
