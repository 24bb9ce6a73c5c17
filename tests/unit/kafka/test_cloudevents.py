"""The CloudEvents Kafka binary-mode codec: round trip, and precise refusals of hostile input."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.kafka.cloudevents import (
    DEFAULT_MAX_BODY_BYTES,
    SPEC_REQUIRED,
    CloudEvent,
    MalformedMessage,
    decode,
    encode,
    format_time,
    parse_time,
)

PATHWAY = "0b7c7f0e-0c5a-4f57-9a57-3a3f3d6a2b10"


def event(**overrides) -> CloudEvent:
    fields = dict(
        id="9f1d2c3a-1111-4a4a-8b8b-123456789abc",
        source="/relais/pathways",
        type="fr.relais.pathway.HousingConfirmed.v1",
        subject=PATHWAY,
        partitionkey=PATHWAY,
        time=datetime(2026, 11, 23, 23, 36, 11, 123456, tzinfo=timezone.utc),
        data={"housing": "CHRS Rouen", "places": 1},
    )
    fields.update(overrides)
    return CloudEvent(**fields)


def wire(ev: CloudEvent | None = None):
    return encode(ev or event())


def with_header(headers, name, value):
    return [(n, v) for n, v in headers if n != name] + ([(name, value)] if value is not ... else [])


def without(headers, name):
    return [(n, v) for n, v in headers if n != name]


def reason_of(key, value, headers, **kw) -> str:
    with pytest.raises(MalformedMessage) as info:
        decode(key, value, headers, **kw)
    return info.value.reason


# ---------------------------------------------------------------- the contract on the wire


def test_encode_puts_attributes_in_ce_headers_and_the_pathway_id_in_the_key():
    key, value, headers = wire()
    h = dict(headers)
    assert key == PATHWAY.encode()
    assert h["ce_specversion"] == b"1.0"
    assert h["ce_id"] == b"9f1d2c3a-1111-4a4a-8b8b-123456789abc"
    assert h["ce_source"] == b"/relais/pathways"
    assert h["ce_type"] == b"fr.relais.pathway.HousingConfirmed.v1"
    assert h["ce_subject"] == PATHWAY.encode()
    assert h["ce_partitionkey"] == PATHWAY.encode()
    assert h["ce_time"] == b"2026-11-23T23:36:11.123456Z"
    assert h["content-type"] == b"application/json"
    assert "ce_dataschema" not in h
    assert json.loads(value) == {"housing": "CHRS Rouen", "places": 1}
    assert all(isinstance(n, str) and isinstance(v, bytes) for n, v in headers)


def test_dataschema_and_extensions_travel_as_headers():
    key, value, headers = wire(event(dataschema="https://relais.example/schemas/x.v1.json",
                                     extensions={"traceparent": "00-abc-01"}))
    h = dict(headers)
    assert h["ce_dataschema"] == b"https://relais.example/schemas/x.v1.json"
    assert h["ce_traceparent"] == b"00-abc-01"
    assert decode(key, value, headers).extensions == {"traceparent": "00-abc-01"}


def test_decode_returns_the_encoded_event():
    ev = event()
    assert decode(*wire(ev)) == ev


def test_an_event_without_data_is_a_record_without_value():
    key, value, headers = wire(event(data=None))
    assert value is None
    assert decode(key, value, headers).data is None


def test_time_with_an_offset_is_read_as_the_same_instant():
    key, value, headers = wire()
    headers = with_header(headers, "ce_time", b"2026-11-24T00:36:11.123456+01:00")
    assert decode(key, value, headers).time == event().time


def test_format_and_parse_time_agree_on_nanosecond_and_lowercase_forms():
    assert parse_time("2026-01-31T12:00:00.123456789z") == datetime(
        2026, 1, 31, 12, 0, 0, 123456, tzinfo=timezone.utc)
    t = datetime(2026, 1, 31, 12, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert parse_time(format_time(t)) == t


def test_third_party_events_need_only_the_spec_required_attributes():
    ev = CloudEvent(id="1", source="siao-76", type="siao.housing.confirmed.v1", data={"a": 1})
    key, value, headers = encode(ev)
    assert key is None
    assert decode(key, value, headers, required=SPEC_REQUIRED) == ev
    assert reason_of(key, value, headers) == (
        "missing header ce_subject, ce_time, ce_partitionkey")


# ---------------------------------------------------------------- hostile records


@pytest.mark.parametrize("name", ["ce_id", "ce_source", "ce_type", "ce_specversion", "ce_subject",
                                  "ce_time", "ce_partitionkey"])
def test_a_missing_required_header_is_named(name):
    key, value, headers = wire()
    assert reason_of(key, value, without(headers, name)) == f"missing header {name}"


def test_wrong_specversion_is_refused():
    key, value, headers = wire()
    assert reason_of(key, value, with_header(headers, "ce_specversion", b"0.3")) == (
        "wrong specversion '0.3', expected '1.0'")


def test_truncated_json_reports_the_position():
    key, value, headers = wire()
    assert reason_of(key, b'{"housing": "CHRS", "places": ', headers) == (
        "bad JSON at position 30 (line 1 column 31): Expecting value")
    assert reason_of(key, value[:-5], headers).startswith("bad JSON at position 24 ")


def test_body_not_utf8_is_refused_with_the_byte_offset():
    key, value, headers = wire()
    assert reason_of(key, b'{"a":"\xff"}', headers) == (
        "body is not UTF-8: invalid start byte at byte 6")


def test_a_one_megabyte_string_in_the_body_is_too_large():
    key, value, headers = wire()
    body = json.dumps({"note": "x" * 1_048_576}).encode()
    assert reason_of(key, body, headers) == (
        f"body too large: {len(body)} bytes, limit {DEFAULT_MAX_BODY_BYTES}")


def test_a_one_megabyte_header_is_refused():
    key, value, headers = wire()
    reason = reason_of(key, value, with_header(headers, "ce_type", b"t" * 1_048_576))
    assert reason == "header ce_type too long: 1048576 bytes, limit 2048"


def test_nan_and_deep_nesting_are_not_json():
    key, value, headers = wire()
    assert reason_of(key, b'{"a": NaN}', headers) == "bad JSON: non-standard JSON constant NaN"
    assert "nested deeper" in reason_of(key, b"[" * 100_000 + b"]" * 100_000, headers)


def test_the_depth_limit_is_exact_whatever_the_bracket_count_shortcut():
    from infra.kafka.cloudevents import MAX_JSON_DEPTH, decode_data

    # a scalar inside n containers is at depth n + 1
    ok = b"[" * (MAX_JSON_DEPTH - 1) + b"1" + b"]" * (MAX_JSON_DEPTH - 1)
    too_deep = b"[" * MAX_JSON_DEPTH + b"1" + b"]" * MAX_JSON_DEPTH
    assert decode_data(ok) is not None
    with pytest.raises(MalformedMessage, match="nested deeper"):
        decode_data(too_deep)
    # brackets inside strings count for the shortcut but not for the depth
    shallow = json.dumps({"note": "{[" * 200}).encode()
    assert decode_data(shallow) == {"note": "{[" * 200}


def test_wrong_types_in_headers_are_refused():
    key, value, headers = wire()
    assert reason_of(key, value, with_header(headers, "ce_id", None)) == (
        "header ce_id has no value (null)")
    assert reason_of(key, value, with_header(headers, "ce_id", 42)) == (
        "header ce_id is int, expected bytes")
    assert reason_of(key, value, with_header(headers, "ce_id", b"")) == "header ce_id is empty"
    assert reason_of(key, value, with_header(headers, "ce_id", b"a\nb")) == (
        "header ce_id contains a control character")
    assert reason_of(key, value, headers + [("ce_id", b"again")]) == "duplicate header ce_id"
    assert "lower-case" in reason_of(key, value, headers + [("ce_Bad", b"x")])


def test_bad_time_is_refused():
    key, value, headers = wire()
    assert "not an RFC 3339" in reason_of(key, value, with_header(headers, "ce_time", b"yesterday"))
    assert "not an RFC 3339" in reason_of(
        key, value, with_header(headers, "ce_time", b"2026-01-01T00:00:00"))
    assert "invalid date" in reason_of(
        key, value, with_header(headers, "ce_time", b"2026-02-30T00:00:00Z"))


def test_content_type_must_be_json_and_binary_mode():
    key, value, headers = wire()
    assert reason_of(key, value, without(headers, "content-type")) == "missing header content-type"
    assert "unsupported content-type 'text/plain'" in reason_of(
        key, value, with_header(headers, "content-type", b"text/plain"))
    assert "structured content mode" in reason_of(
        key, value, with_header(headers, "content-type", b"application/cloudevents+json"))
    decode(key, value, with_header(headers, "content-type", b"application/json; charset=utf-8"))


def test_key_must_match_the_partition_key():
    key, value, headers = wire()
    assert reason_of(None, value, headers) == "missing record key (must equal ce_partitionkey)"
    assert reason_of(b"other", value, headers) == (
        f"record key 'other' differs from ce_partitionkey '{PATHWAY}'")
    assert "record key is not UTF-8" in reason_of(b"\xff", value, headers)


def test_garbage_in_every_position_raises_only_malformed_message():
    for key, value, headers in [
        (None, None, None),
        (b"k", b"{", [("ce_id", b"x")]),
        (123, b"{}", []),
        (b"k", "str value", wire()[2]),
        (b"k", b"{}", [("only-one",)]),
        (b"k", b"{}", [(b"bytes-name", b"v")]),
        (b"k", b"{}", "not a list"),
    ]:
        with pytest.raises(MalformedMessage):
            decode(key, value, headers)


# ---------------------------------------------------------------- property: round trip

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)
text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=60)
aware = st.datetimes(timezones=st.timezones(), min_value=datetime(1970, 1, 2),
                     max_value=datetime(9999, 12, 30))
ext = st.dictionaries(st.from_regex(r"\A[a-z0-9]{1,10}\Z").filter(
    lambda n: n not in {"id", "source", "type", "subject", "time", "dataschema", "partitionkey",
                        "specversion", "data", "datacontenttype"}), text, max_size=3)


@settings(max_examples=300, deadline=None)
@given(id=text, source=text, type_=text, pathway=text, time=aware, data=json_values,
       dataschema=st.none() | text, extensions=ext)
def test_encode_then_decode_is_the_identity(id, source, type_, pathway, time, data, dataschema,
                                            extensions):
    ev = CloudEvent(id=id, source=source, type=type_, subject=pathway, partitionkey=pathway,
                    time=time, data=data, dataschema=dataschema, extensions=extensions)
    key, value, headers = encode(ev)
    back = decode(key, value, headers)
    assert back == ev
    assert back.time.utcoffset() == timedelta(0)


@settings(max_examples=300, deadline=None)
@given(key=st.none() | st.binary(max_size=40), value=st.none() | st.binary(max_size=200),
       headers=st.lists(st.tuples(st.sampled_from(
           ["ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time", "ce_subject",
            "ce_partitionkey", "content-type", "ce_x", "other"]),
           st.none() | st.binary(max_size=40)), max_size=10))
def test_decode_of_arbitrary_bytes_never_raises_anything_but_malformed_message(key, value, headers):
    try:
        decode(key, value, headers)
    except MalformedMessage as exc:
        assert exc.reason
