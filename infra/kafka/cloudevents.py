"""CloudEvents 1.0 over Kafka, binary content mode (the Relais wire contract).

A Relais Kafka record is a CloudEvent mapped by the CloudEvents Kafka protocol binding in
*binary* mode:

* every context attribute is a header named ``ce_<attribute>`` whose value is the UTF-8 text
  of the attribute (``ce_specversion``, ``ce_id``, ``ce_source``, ``ce_type``, ``ce_subject``,
  ``ce_time``, ``ce_partitionkey``, optional ``ce_dataschema`` and extension attributes);
* ``datacontenttype`` is the ``content-type`` header (always ``application/json`` here);
* the record value is the event data as JSON (UTF-8); no data = no value;
* the record key is the ``partitionkey`` extension (the pathway id), so that the events of
  one pathway land on one partition and stay in order.

``encode`` turns a :class:`CloudEvent` into ``(key, value, headers)`` for
``KafkaProducer.send``; ``decode`` does the reverse and raises :class:`MalformedMessage`
with a precise, human-readable reason when the record breaks the contract. ``decode`` is
written for hostile input: it never raises anything else, whatever the bytes.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SPECVERSION = "1.0"
JSON_CONTENT_TYPE = "application/json"
HEADER_PREFIX = "ce_"
CONTENT_TYPE_HEADER = "content-type"

#: Largest accepted record value (the JSON body). Pathway events are a few kB; Kafka's own
#: default cap is 1 MiB. Bigger bodies are refused both when encoding and when decoding.
DEFAULT_MAX_BODY_BYTES = 512 * 1024
#: Largest accepted value of one ``ce_*`` header (ids, URIs, type names, extension values).
MAX_HEADER_VALUE_BYTES = 2048
#: Deepest JSON nesting accepted in a body (protects the decoder's recursion).
MAX_JSON_DEPTH = 64

#: Attributes defined by the CloudEvents core specification (1.0) and the ones Relais uses.
CORE_ATTRIBUTES = ("specversion", "id", "source", "type", "subject", "time", "dataschema")
#: What Relais requires on every record unless told otherwise (see ``decode(required=...)``).
RELAIS_REQUIRED = ("specversion", "id", "source", "type", "subject", "time", "partitionkey")
#: What the CloudEvents specification itself requires.
SPEC_REQUIRED = ("specversion", "id", "source", "type")

_KNOWN = frozenset(CORE_ATTRIBUTES) | {"partitionkey", "datacontenttype", "data"}
_EXTENSION_NAME = re.compile(r"^[a-z0-9]{1,64}$")
_RFC3339 = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[Tt](?P<hms>\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d{1,9}))?"
    r"(?P<tz>[Zz]|[+-]\d{2}:\d{2})$"
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_BYTES = re.compile(rb"[\x00-\x1f\x7f]")


class MalformedMessage(ValueError):
    """A Kafka record that is not a valid Relais CloudEvent; ``reason`` says exactly why, ``code``
    is what a GraphQL caller sending such a body gets (docs/graphql/errors.md)."""

    def __init__(self, reason: str, code: str = "MALFORMED_REQUEST") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


def _check_text(name: str, value: str) -> str:
    if value == "":
        raise ValueError(f"{name} must not be empty")
    if len(value.encode("utf-8", "surrogatepass")) > MAX_HEADER_VALUE_BYTES:
        raise ValueError(f"{name} is longer than {MAX_HEADER_VALUE_BYTES} bytes")
    if _CONTROL.search(value):
        raise ValueError(f"{name} contains a control character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{name} is not encodable as UTF-8 ({exc.reason})") from None
    return value


class CloudEvent(BaseModel):
    """One event on the wire. ``data`` is any JSON value (``None`` = no data).

    For a pathway event the relay sets ``id`` = the event's own id, ``type`` = event type and
    version (e.g. ``fr.relais.pathway.HousingConfirmed.v1``), ``source`` = the producing
    service (e.g. ``/relais/pathways``), ``subject`` = ``partitionkey`` = the pathway id and
    ``time`` = when the event happened (timezone-aware).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    source: str
    type: str
    subject: str | None = None
    time: datetime | None = None
    partitionkey: str | None = None
    dataschema: str | None = None
    specversion: Literal["1.0"] = SPECVERSION
    datacontenttype: Literal["application/json"] = JSON_CONTENT_TYPE
    data: Any = None
    extensions: dict[str, str] = Field(default_factory=dict)

    @field_validator("id", "source", "type", "subject", "partitionkey", "dataschema")
    @classmethod
    def _text(cls, value: str | None, info: Any) -> str | None:
        return None if value is None else _check_text(info.field_name, value)

    @field_validator("time")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and (value.tzinfo is None or value.utcoffset() is None):
            raise ValueError("time must be timezone-aware (RFC 3339 needs an offset)")
        # One canonical instant: what goes on the wire and what comes back compare equal.
        return None if value is None else value.astimezone(timezone.utc)

    @field_validator("extensions")
    @classmethod
    def _extensions(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            if not _EXTENSION_NAME.match(name):
                raise ValueError(f"extension name {name!r} is not lower-case ASCII letters/digits")
            if name in _KNOWN:
                raise ValueError(f"extension name {name!r} is a reserved attribute")
            _check_text(f"extension {name}", text)
        return value

    @model_validator(mode="after")
    def _json_data(self) -> CloudEvent:
        if self.data is not None:
            try:
                json.dumps(self.data, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"data is not JSON-serialisable: {exc}") from None
        return self

    @property
    def key(self) -> bytes | None:
        """The Kafka record key: the partition key (pathway id) as UTF-8, if any."""
        return None if self.partitionkey is None else self.partitionkey.encode("utf-8")


# --------------------------------------------------------------------------- encode


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with microseconds and a ``Z``: ``2026-11-23T23:36:11.123456Z``."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


#: One encoder for every body (`json.dumps` with options builds a new one per call).
_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def encode_data(data: Any) -> bytes | None:
    if data is None:
        return None
    return _JSON_ENCODER.encode(data).encode("utf-8")


def encode(
    event: CloudEvent, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
    """``(key, value, headers)`` for ``KafkaProducer.send``. Raises ``ValueError`` if the body
    would be larger than ``max_body_bytes`` (consumers would refuse it)."""
    value = encode_data(event.data)
    if value is not None and len(value) > max_body_bytes:
        raise ValueError(f"event {event.id}: body is {len(value)} bytes, limit {max_body_bytes}")
    attrs: list[tuple[str, str]] = [
        ("specversion", event.specversion),
        ("id", event.id),
        ("source", event.source),
        ("type", event.type),
    ]
    if event.subject is not None:
        attrs.append(("subject", event.subject))
    if event.time is not None:
        attrs.append(("time", format_time(event.time)))
    if event.partitionkey is not None:
        attrs.append(("partitionkey", event.partitionkey))
    if event.dataschema is not None:
        attrs.append(("dataschema", event.dataschema))
    attrs.extend(sorted(event.extensions.items()))
    headers = [(HEADER_PREFIX + name, text.encode("utf-8")) for name, text in attrs]
    headers.append((CONTENT_TYPE_HEADER, event.datacontenttype.encode("ascii")))
    return event.key, value, headers


# --------------------------------------------------------------------------- decode


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 date-time (offset required); ``ValueError`` says what is wrong."""
    m = _RFC3339.match(text)
    if not m:
        raise ValueError("not an RFC 3339 date-time with offset (e.g. 2026-01-31T12:00:00Z)")
    frac = (m["frac"] or "0")[:6].ljust(6, "0")
    tz = "+00:00" if m["tz"] in ("Z", "z") else m["tz"]
    try:
        parsed = datetime.fromisoformat(f"{m['date']}T{m['hms']}.{frac}{tz}")
    except ValueError as exc:
        raise ValueError(f"invalid date or time ({exc})") from None
    return parsed


def _json_depth_ok(value: Any) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return False
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return True


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


#: One decoder for every body (`json.loads` with an option builds a new one per call).
_JSON_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def decode_data(value: bytes | None, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> Any:
    """Decode a JSON body; raise :class:`MalformedMessage` with the exact problem."""
    if value is None:
        return None
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise MalformedMessage(f"record value is {type(value).__name__}, expected bytes")
    value = bytes(value)
    if len(value) > max_body_bytes:
        raise MalformedMessage(f"body too large: {len(value)} bytes, limit {max_body_bytes}", code="BODY_TOO_LARGE")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedMessage(f"body is not UTF-8: {exc.reason} at byte {exc.start}") from None
    if text.startswith("\ufeff"):
        raise MalformedMessage("body starts with a byte-order mark; JSON must not")
    try:
        data = _JSON_DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise MalformedMessage(
            f"bad JSON at position {exc.pos} (line {exc.lineno} column {exc.colno}): {exc.msg}"
        ) from None
    except ValueError as exc:
        raise MalformedMessage(f"bad JSON: {exc}") from None
    except RecursionError:
        raise MalformedMessage(f"bad JSON: nested deeper than {MAX_JSON_DEPTH} levels") from None
    # Nesting can be no deeper than one level per opening bracket (brackets inside strings
    # only make the bound looser): most bodies are cleared by two C-speed counts, no walk.
    if text.count("{") + text.count("[") >= MAX_JSON_DEPTH and not _json_depth_ok(data):
        raise MalformedMessage(f"bad JSON: nested deeper than {MAX_JSON_DEPTH} levels")
    return data


#: Attribute names already checked against _EXTENSION_NAME (bounded: hostile records cannot
#: grow it past _VALID_NAMES_MAX).
_VALID_NAMES: set[str] = set()
_VALID_NAMES_MAX = 256


#: ``ce_<attr>`` header names already accepted (the exact spelling) -> ``<attr>`` (bounded
#: the same way).
_ATTRIBUTE_OF_HEADER: dict[str, str] = {}


def _valid_name(attr: str) -> bool:
    if not _EXTENSION_NAME.match(attr):
        return False
    if len(_VALID_NAMES) < _VALID_NAMES_MAX:
        _VALID_NAMES.add(attr)
    return True


def _header_text(name: str, raw: Any) -> str:
    # Fast path for the common case, checked as strictly as below: plain bytes within the
    # limit with no control byte (UTF-8 encodes every non-ASCII character with bytes >= 0x80,
    # so the byte check is the text check), valid UTF-8. Anything else takes the slow path,
    # which names the problem.
    if type(raw) is bytes and 0 < len(raw) <= MAX_HEADER_VALUE_BYTES and not _CONTROL_BYTES.search(raw):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            pass
    if raw is None:
        raise MalformedMessage(f"header {name} has no value (null)")
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise MalformedMessage(f"header {name} is {type(raw).__name__}, expected bytes")
    raw = bytes(raw)
    if len(raw) > MAX_HEADER_VALUE_BYTES:
        raise MalformedMessage(
            f"header {name} too long: {len(raw)} bytes, limit {MAX_HEADER_VALUE_BYTES}"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedMessage(f"header {name} is not UTF-8: {exc.reason} at byte {exc.start}") from None
    if text == "":
        raise MalformedMessage(f"header {name} is empty")
    if _CONTROL.search(text):
        raise MalformedMessage(f"header {name} contains a control character")
    return text


def decode(
    key: bytes | None,
    value: bytes | None,
    headers: Iterable[tuple[str, bytes | None]] | None,
    *,
    required: Sequence[str] = RELAIS_REQUIRED,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> CloudEvent:
    """Decode a binary-mode record. Raises :class:`MalformedMessage` (and nothing else).

    ``required`` lists the attributes that must be present (Relais contract by default:
    ``RELAIS_REQUIRED``; pass ``SPEC_REQUIRED`` for third-party producers). When both the
    record key and ``ce_partitionkey`` are present they must be equal.
    """
    try:
        return _decode(key, value, headers, required=required, max_body_bytes=max_body_bytes)
    except MalformedMessage:
        raise
    except Exception as exc:  # hostile input must never crash a consumer  # noqa: BLE001
        raise MalformedMessage(f"undecodable record: {type(exc).__name__}: {exc}") from None


@functools.lru_cache(maxsize=32)
def _required_attributes(required: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys([*SPEC_REQUIRED, *required]))


def _decode(
    key: Any, value: Any, headers: Any, *, required: Sequence[str], max_body_bytes: int
) -> CloudEvent:
    attrs: dict[str, str] = {}
    content_type: str | None = None
    for item in headers or ():
        if not isinstance(item, tuple) or len(item) != 2:
            raise MalformedMessage(f"header entry {item!r:.80} is not a (name, value) pair")
        name, raw = item
        if not isinstance(name, str):
            raise MalformedMessage(f"header name {name!r:.80} is not a string")
        # A header name that passed every check below before: straight to its value.
        attr = _ATTRIBUTE_OF_HEADER.get(name)
        if attr is not None:
            if attr in attrs:
                raise MalformedMessage(f"duplicate header {name}")
            attrs[attr] = _header_text(name, raw)
            continue
        lname = name.lower()
        if lname == CONTENT_TYPE_HEADER:
            if content_type is not None:
                raise MalformedMessage("duplicate header content-type")
            content_type = _header_text(name, raw)
        elif lname.startswith(HEADER_PREFIX):
            attr = name[len(HEADER_PREFIX) :]
            if attr not in _VALID_NAMES and not _valid_name(attr):
                raise MalformedMessage(
                    f"header {name[:80]!r}: CloudEvents attribute names are lower-case ASCII "
                    "letters and digits"
                )
            if attr in attrs:
                raise MalformedMessage(f"duplicate header {name}")
            if attr in ("data", "datacontenttype"):
                raise MalformedMessage(
                    f"header {name} not allowed in binary mode (use the value / content-type)"
                )
            attrs[attr] = _header_text(name, raw)
            if len(_ATTRIBUTE_OF_HEADER) < _VALID_NAMES_MAX:
                _ATTRIBUTE_OF_HEADER[name] = attr

    if content_type is not None and content_type.lower().startswith("application/cloudevents"):
        raise MalformedMessage(
            f"structured content mode ({content_type}) is not supported; Relais uses binary mode"
        )
    missing = [a for a in _required_attributes(tuple(required)) if a not in attrs]
    if missing:
        raise MalformedMessage("missing header " + ", ".join(HEADER_PREFIX + a for a in missing))
    if "specversion" in attrs and attrs["specversion"] != SPECVERSION:
        raise MalformedMessage(
            f"wrong specversion {attrs['specversion'][:40]!r}, expected {SPECVERSION!r}"
        )
    if content_type is None:
        if value is not None:
            raise MalformedMessage("missing header content-type")
    else:
        media = content_type.split(";", 1)[0].strip().lower()
        if media != JSON_CONTENT_TYPE:
            raise MalformedMessage(
                f"unsupported content-type {content_type[:80]!r}, expected {JSON_CONTENT_TYPE}"
            )
    time: datetime | None = None
    if "time" in attrs:
        try:
            time = parse_time(attrs["time"])
        except ValueError as exc:
            raise MalformedMessage(f"header ce_time {attrs['time'][:64]!r}: {exc}") from None

    key_text: str | None = None
    if key is not None:
        if not isinstance(key, (bytes, bytearray, memoryview)):
            raise MalformedMessage(f"record key is {type(key).__name__}, expected bytes")
        try:
            key_text = bytes(key).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedMessage(f"record key is not UTF-8: {exc.reason} at byte {exc.start}") from None
    pkey = attrs.get("partitionkey")
    if "partitionkey" in required and key is None:
        raise MalformedMessage("missing record key (must equal ce_partitionkey)")
    if pkey is not None and key_text is not None and key_text != pkey:
        raise MalformedMessage(
            f"record key {key_text[:80]!r} differs from ce_partitionkey {pkey[:80]!r}"
        )

    data = decode_data(value, max_body_bytes=max_body_bytes)

    extensions = {k: v for k, v in attrs.items() if k not in _KNOWN}
    # Every field was checked above as strictly as the model's validators would (non-empty
    # UTF-8 text without control characters within MAX_HEADER_VALUE_BYTES, lower-case
    # extension names that are not reserved, an aware time, data parsed from JSON), so the
    # event is built without validating it again: this is the consumer's hot path.
    return CloudEvent.model_construct(
        id=attrs["id"],
        source=attrs["source"],
        type=attrs["type"],
        subject=attrs.get("subject"),
        time=time.astimezone(timezone.utc) if time is not None else None,
        partitionkey=pkey,
        dataschema=attrs.get("dataschema"),
        specversion=SPECVERSION,
        datacontenttype=JSON_CONTENT_TYPE,
        data=data,
        extensions=extensions,
    )


def header_value(headers: Iterable[tuple[str, bytes | None]] | None, name: str) -> str | None:
    """The first value of header ``name`` as text (lenient: for logs and DLQ reasons)."""
    for item in headers or ():
        try:
            hname, raw = item
        except (TypeError, ValueError):
            continue
        if hname == name and isinstance(raw, (bytes, bytearray)):
            return bytes(raw).decode("utf-8", "replace")
    return None


__all__ = [
    "CloudEvent",
    "MalformedMessage",
    "encode",
    "decode",
    "encode_data",
    "decode_data",
    "format_time",
    "parse_time",
    "header_value",
    "SPECVERSION",
    "JSON_CONTENT_TYPE",
    "RELAIS_REQUIRED",
    "SPEC_REQUIRED",
    "DEFAULT_MAX_BODY_BYTES",
    "MAX_HEADER_VALUE_BYTES",
]
