"""PathwaysApplication: the pathways on the event store (eventsourcing `Application`).

Persistence is chosen by the library's environment (PERSISTENCE_MODULE and its keys), which
`services.bootstrap.build_pathways_application` fills from Settings. Payloads are encrypted
at rest when CIPHER_KEY is set (eventsourcing.cipher:AESCipher).
"""

from __future__ import annotations

from datetime import date
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import JSONTranscoder, Transcoding

from domain.pathway import Pathway
from domain.values import Actor
from services.pathways.commands import Command, OpenPathway
from services.pathways.processed import ProcessedCommand, processed_command_id


class ActorAsDict(Transcoding):
    type = Actor
    name = "actor"

    def encode(self, obj: Actor) -> dict[str, str]:
        return {"agency": obj.agency, "professional": obj.professional, "role": obj.role}

    def decode(self, data: dict[str, str]) -> Actor:
        return Actor(**data)


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class PathwaysApplication(Application[UUID]):
    name = "Pathways"

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(ActorAsDict())
        transcoder.register(DateAsISO())

    # ------------------------------------------------------------------ queries
    def get_pathway(self, pathway_id: UUID) -> Pathway:
        return cast(Pathway, self.repository.get(pathway_id))

    def pathway_exists(self, pathway_id: UUID) -> bool:
        # One row read, not a replay: opening commands only need to know the id is free.
        return bool(self.recorder.select_events(pathway_id, limit=1))

    def find_processed(self, command_id: UUID) -> ProcessedCommand | None:
        try:
            return cast(ProcessedCommand, self.repository.get(processed_command_id(command_id)))
        except AggregateNotFoundError:
            return None

    # ------------------------------------------------------------------ commands
    def open_pathway(self, command: OpenPathway) -> Pathway:
        pathway_class: Any = command.aggregate_class
        return cast(
            Pathway,
            pathway_class(
                id=command.pathway_id, **command.arguments(),
                actor=command.actor.to_domain(), occurred_at=command.occurred_at,
            ),
        )

    @staticmethod
    def call(pathway: Pathway, command: Command) -> None:
        """Calls the aggregate method named by the command (opening happened in the constructor)."""
        if isinstance(command, OpenPathway):
            return
        getattr(pathway, command.verb)(
            **command.arguments(), actor=command.actor.to_domain(), occurred_at=command.occurred_at
        )

    def record_processed(self, processed: ProcessedCommand) -> None:
        """Saves the answer to a refused command, so a retry gets the same answer."""
        self.save(processed)
