"""A stored pathway event as it travels on `relais.pathway-events`: a CloudEvent.

`ce_id` is derived from (pathway id, version), so the same event re-published after a relay
restart carries the same id and consumers can drop the duplicate.

The relay seals the body's personal fields (domain.disclosure.PERSONAL_FIELDS) with the
person's key (services.privacy.sealing): on the topic they are one `sealed` part, readable only
through the key store, and unreadable by anyone once the person is erased.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from collections.abc import Mapping
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid5

from infra.kafka.cloudevents import CloudEvent
from services.privacy import sealing

EVENT_ID_NAMESPACE = UUID("6f1f3c8e-8d7a-4b8e-9a43-5b0f5d1c2e71")
SOURCE = "/relais/pathways"
TYPE_PREFIX = "fr.relais.pathway."
#: The directory's events (services/directory) on `<prefix>.directory-events`, same shape.
DIRECTORY_SOURCE = "/relais/directory"
DIRECTORY_TYPE_PREFIX = "fr.relais.directory."


def event_id(pathway_id: UUID | str, version: int) -> str:
    """The event's own id: stable across re-publication."""
    return str(uuid5(EVENT_ID_NAMESPACE, f"{pathway_id}:{version}"))


def event_type(domain_event: object, type_prefix: str = TYPE_PREFIX) -> str:
    """`fr.relais.pathway.<EventName>.v<class_version>` (a directory event: `fr.relais.directory.`)."""
    return _type_of_class(type(domain_event), type_prefix)


@functools.lru_cache(maxsize=1024)
def _type_of_class(cls: type, type_prefix: str = TYPE_PREFIX) -> str:
    return f"{type_prefix}{cls.__name__}.v{getattr(cls, 'class_version', 1)}"


def _same(value: Any) -> Any:
    return value


#: The exact types most attributes have, converted without walking the chain of
#: `isinstance` below (a subclass, e.g. a str enum, still takes the chain).
_BY_TYPE: dict[type, Any] = {
    str: _same, int: _same, float: _same, bool: _same, type(None): _same,
    UUID: str, datetime: datetime.isoformat, date: date.isoformat,
}


def to_json(value: Any) -> Any:
    """Plain JSON of an event attribute (UUIDs, datetimes, enums, dataclasses, sets...)."""
    convert = _BY_TYPE.get(type(value))
    if convert is not None:
        return convert(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return to_json(value.value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if hasattr(value, "model_dump"):
        return to_json(value.model_dump())
    if isinstance(value, Mapping):
        return {str(to_json(k)): to_json(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((to_json(v) for v in value), key=repr)
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    raise TypeError(f"cannot put {type(value).__name__} on the wire")


def event_body(domain_event: object) -> dict[str, Any]:
    """Every attribute of the event, the library's own ones included (originator id/version)."""
    return {name: to_json(val) for name, val in vars(domain_event).items() if not name.startswith("_")}


def to_cloud_event(domain_event: Any, *, notification_id: int, pathway_kind: str, source: str = SOURCE,
                   type_prefix: str = TYPE_PREFIX, personal: sealing.Cipher | None = None) -> CloudEvent:
    """The CloudEvent of a stored event; `personal` (the relay's) seals its personal fields."""
    pathway_id = str(domain_event.originator_id)
    happened = getattr(domain_event, "occurred_at", None) or domain_event.timestamp
    if isinstance(happened, datetime) and happened.tzinfo is None:
        happened = happened.replace(tzinfo=timezone.utc)
    body = event_body(domain_event)
    body["notification_id"] = notification_id
    if personal is not None:
        body = sealing.seal_body(personal, pathway_id, body)
    # Built without pydantic validation (half of what building it cost in a profile): every
    # field is made here from a stored event, the body is plain JSON by construction
    # (`to_json`), the time is made UTC as the validator would, and `encode` refuses a body
    # that does not serialise.
    return CloudEvent.model_construct(
        id=event_id(pathway_id, domain_event.originator_version),
        source=source,
        type=event_type(domain_event, type_prefix),
        subject=pathway_id,
        partitionkey=pathway_id,
        time=happened.astimezone(timezone.utc),
        data=body,
        extensions={"pathwaykind": pathway_kind, "sequence": str(domain_event.originator_version)},
    )
