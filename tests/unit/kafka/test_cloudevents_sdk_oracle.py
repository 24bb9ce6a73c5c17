"""Our CloudEvents Kafka codec against the CloudEvents Python SDK (binary content mode).

The SDK (`cloudevents`, the CNCF reference implementation) is the oracle: whatever Relais puts
on a topic, a partner reading it with the SDK gets the same attributes and data; whatever a
partner's SDK writes in binary mode, Relais decodes to the same event. Generated events cover
every attribute Relais uses (core, `partitionkey`, `dataschema`, extensions) and JSON bodies.
"""

from __future__ import annotations

from datetime import datetime, timezone

from cloudevents.core.bindings import kafka as sdk_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent as SdkCloudEvent
from hypothesis import given, settings
from hypothesis import strategies as st

from infra.kafka.cloudevents import CloudEvent, decode, encode

# Header texts: printable, no control characters (the codec refuses those), non-empty.
TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x2FFF, blacklist_categories=("Cs", "Cc")),
               min_size=1, max_size=40).filter(lambda s: s.strip() == s and s != "")
EXTENSION_NAME = st.from_regex(r"\A[a-z][a-z0-9]{0,19}\Z").filter(
    lambda n: n not in {"specversion", "id", "source", "type", "subject", "time", "dataschema", "partitionkey",
                        "datacontenttype", "data"})
INSTANT = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                       timezones=st.just(timezone.utc))
JSON_SCALAR = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | TEXT
JSON_VALUE = st.recursive(JSON_SCALAR, lambda inner: st.lists(inner, max_size=4)
                          | st.dictionaries(TEXT, inner, max_size=4), max_leaves=12)
BODY = st.dictionaries(TEXT, JSON_VALUE, min_size=1, max_size=6)  # Relais bodies are JSON objects


@st.composite
def relais_events(draw: st.DrawFn) -> CloudEvent:
    pathway = str(draw(st.uuids()))
    return CloudEvent(
        id=str(draw(st.uuids())), source=draw(st.sampled_from(["/relais/pathways", "/relais/alerting"])),
        type=draw(st.from_regex(r"\Afr\.relais\.pathway\.[A-Z][A-Za-z]{2,30}\.v[1-9]\Z")),
        subject=pathway, partitionkey=pathway, time=draw(INSTANT),
        dataschema=draw(st.none() | st.just("https://relais.example/schemas/inbound/v1.json")),
        data=draw(BODY), extensions=draw(st.dictionaries(EXTENSION_NAME, TEXT, max_size=3)),
    )


def as_sdk_message(key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]]) -> sdk_kafka.KafkaMessage:
    return sdk_kafka.KafkaMessage(headers=dict(headers), key=key, value=value or b"")


@settings(max_examples=200, deadline=None)
@given(relais_events())
def test_a_partner_reading_relais_records_with_the_sdk_gets_the_same_event(event: CloudEvent) -> None:
    read = sdk_kafka.from_binary(as_sdk_message(*encode(event)), JSONFormat(), SdkCloudEvent)
    attributes = read.get_attributes()
    assert read.get_specversion() == "1.0"
    assert (read.get_id(), read.get_source(), read.get_type(), read.get_subject()) == (
        event.id, event.source, event.type, event.subject)
    assert read.get_time() == event.time
    assert read.get_datacontenttype() == "application/json"
    assert read.get_dataschema() == event.dataschema
    assert attributes["partitionkey"] == event.partitionkey
    extensions = {k: v for k, v in attributes.items()
                  if k not in {"specversion", "id", "source", "type", "subject", "time", "dataschema",
                               "datacontenttype", "partitionkey"}}
    assert extensions == event.extensions
    assert read.get_data() == event.data


@settings(max_examples=200, deadline=None)
@given(relais_events())
def test_relais_decodes_what_a_partner_sdk_writes_in_binary_mode(event: CloudEvent) -> None:
    attributes = {"specversion": "1.0", "id": event.id, "source": event.source, "type": event.type,
                  "subject": event.subject, "time": event.time, "partitionkey": event.partitionkey,
                  "datacontenttype": "application/json", **event.extensions}
    if event.dataschema is not None:
        attributes["dataschema"] = event.dataschema
    message = sdk_kafka.to_binary(SdkCloudEvent(attributes, event.data), JSONFormat())
    key = message.key.encode() if isinstance(message.key, str) else message.key
    decoded = decode(key, message.value, list(message.headers.items()))
    assert decoded == event
