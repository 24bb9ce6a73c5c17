"""The ingest handler: one inbound partner message -> one pathway command, or the DLQ."""

from __future__ import annotations

import logging
from typing import Any

from infra.kafka.consumer import ConsumedMessage, RejectMessage
from services.ingest.messages import InboundRefused, agency_of, command_name, to_command_payload
from services.pathways.handler import PathwaysHandler

log = logging.getLogger("relais.ingest")


class IngestHandler:
    """Runs inside the consumer runner. The command's idempotency (its id derived from the
    message's ce_id) makes a redelivered message change nothing."""

    def __init__(self, pathways: PathwaysHandler, *, topic_prefix: str = "relais") -> None:
        self._pathways = pathways
        self._prefix = topic_prefix

    def handle(self, conn: Any, message: ConsumedMessage) -> None:
        event = message.event
        if event is None:  # the runner dead-letters undecodable records before us
            raise RejectMessage(str(message.decode_error))
        try:
            agency = agency_of(message.topic, self._prefix)
            name = command_name(event.type)
            payload = to_command_payload(agency=agency, ce_id=event.id, subject=event.subject, data=event.data)
        except InboundRefused as refused:
            raise RejectMessage(refused.reason) from None
        result = self._pathways.handle_payload(name, payload)
        if not result.accepted:
            assert result.rejection is not None
            raise RejectMessage(f"{name} refused: {result.rejection}")
        log.info("inbound applied", extra={"agency": agency, "command": name, "pathway": str(result.pathway_id)})
