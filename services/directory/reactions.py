"""What the pathways do to the directory (what the directory does to the pathways is
`Directory.command`'s, services/directory/service.py).

- `PlaceReturns`: a referral holding a place that is declined, cancelled, failed or expired
  gives its place back (ReturnReferralPlace), from the pathway event stream (the in-process
  bus or `<prefix>.pathway-events`).

The command id is derived from the event's ce_id: a redelivery repeats nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from uuid import UUID, uuid5

from domain.values import ReferralStatus
from infra.kafka.cloudevents import CloudEvent
from infra.kafka.consumer import ConsumedMessage
from services.directory.handler import DirectoryResult
from services.directory.service import DIRECTORY_ACTOR, REACTION_NAMESPACE, Directory
from services.relay.wire import TYPE_PREFIX

log = logging.getLogger("relais.directory")

#: Statuses after which a referral no longer needs its place.
GIVES_PLACE_BACK = frozenset({ReferralStatus.REJECTED, ReferralStatus.CANCELLED, ReferralStatus.FAILED})


class PlaceReturns:
    """Pathway events -> the places of referrals that no longer need them."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def on_event(self, event: CloudEvent) -> DirectoryResult | None:
        name = event.type.removeprefix(TYPE_PREFIX).rsplit(".v", 1)[0]
        data: Mapping[str, Any] = event.data if isinstance(event.data, Mapping) else {}
        if name == "ReferralStatusChanged":
            status = data.get("status")
        elif name == "ReferralOutcomeRecorded":
            status = ReferralStatus.FAILED.value if data.get("outcome") != "honoured" else None
        else:
            return None
        if status not in {s.value for s in GIVES_PLACE_BACK} or "referral_id" not in data:
            return None
        referral_id = UUID(str(data["referral_id"]))
        service = self.directory.index.holding(referral_id)
        if service is None:
            return None
        return self.directory.handler.handle_payload("ReturnReferralPlace", {
            "command_id": uuid5(REACTION_NAMESPACE, f"return:{event.id}"), "service_id": service.id,
            "actor": DIRECTORY_ACTOR, "occurred_at": event.time, "referral_id": referral_id,
            "reason": f"orientation {status}"})

    def on_bus_event(self, event: CloudEvent) -> None:
        """The in-process bus's subscriber (embedded): never lets a failure stop the relay."""
        try:
            self.on_event(event)
        except Exception:  # noqa: BLE001 - logged; the place stays taken until the next change
            log.exception("directory: place return failed", extra={"event": "directory_place_return_failed"})

    def handle(self, conn: Any, message: ConsumedMessage) -> None:
        """ConsumerRunner handler over `<prefix>.pathway-events` (group `<prefix>-directory`)."""
        if message.event is not None:
            self.on_event(message.event)
