"""The ingest handler: one inbound partner message -> one pathway command, or the DLQ."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from infra.kafka.consumer import ConsumedMessage, RejectMessage
from services.ingest.messages import (
    DIRECTORY_INBOUND,
    FHIR_TASK,
    InboundRefused,
    agency_of,
    command_name,
    fhir_task_data,
    to_command_payload,
)
from services.pathways.handler import PathwaysHandler

log = logging.getLogger("relais.ingest")


class IngestHandler:
    """Runs inside the consumer runner. The command's idempotency (its id derived from the
    message's ce_id) makes a redelivered message change nothing."""

    def __init__(self, pathways: PathwaysHandler, *, topic_prefix: str = "relais", directory: Any = None) -> None:
        self._pathways = pathways
        self._prefix = topic_prefix
        #: services.directory.Directory: the agency's changes to its own services.
        self._directory = directory

    def handle(self, conn: Any, message: ConsumedMessage) -> None:
        event = message.event
        if event is None:  # the runner dead-letters undecodable records before us
            error = message.decode_error
            raise RejectMessage(str(error), code=error.code if error is not None else None)
        try:
            agency = agency_of(message.topic, self._prefix)
            name, data = command_name(event.type), event.data
            if name == FHIR_TASK:
                name, data = fhir_task_data(data, subject=event.subject, extensions=dict(event.extensions),
                                            time=event.time, is_gp_orientation=self._is_gp_orientation)
            target = "service_id" if name in DIRECTORY_INBOUND else "pathway_id"
            payload = to_command_payload(agency=agency, ce_id=event.id, subject=event.subject, data=data,
                                         target=target)
        except InboundRefused as refused:
            raise RejectMessage(refused.reason, code=refused.code) from None
        if name in DIRECTORY_INBOUND:
            self._apply_directory(agency, name, payload)
            return
        result = self._pathways.handle_payload(name, payload)
        if not result.accepted:
            assert result.rejection is not None
            raise RejectMessage(f"{name} refused: {result.rejection}", code=result.rejection.code)
        log.info("inbound applied", extra={"agency": agency, "command": name, "pathway": str(result.pathway_id)})

    def _apply_directory(self, agency: str, name: str, payload: dict[str, Any]) -> None:
        if self._directory is None:
            raise RejectMessage(f"{name}: no directory in this ingest process", code="UNAVAILABLE")
        result = self._directory.command(name, payload)
        if not result.accepted:
            assert result.rejection is not None
            raise RejectMessage(f"{name} refused: {result.rejection}", code=result.rejection.code)
        log.info("inbound applied", extra={"agency": agency, "command": name, "service": str(result.service_id)})

    def _is_gp_orientation(self, pathway_id: str, referral_id: str) -> bool:
        """Whether a FHIR Task answers a GP orientation (True) or a referral (False) of the
        pathway; a referral the pathway does not have is refused here, by name."""
        try:
            pathway = self._pathways.app.get_pathway(UUID(pathway_id))
        except (AggregateNotFoundError, ValueError):
            return False  # the command is refused as any other: unknown pathway, bad id
        if UUID(referral_id) not in pathway.referrals:
            raise InboundRefused(f"Task: referral {referral_id} is not a referral of pathway {pathway_id}",
                                 code="UNKNOWN_REFERRAL")
        return UUID(referral_id) in getattr(pathway, "orientations", {})
