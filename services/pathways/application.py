"""PathwaysApplication: the pathways on the event store (eventsourcing `Application`).

Persistence is chosen by the library's environment (PERSISTENCE_MODULE and its keys), which
`services.bootstrap.build_pathways_application` fills from Settings. Payloads are encrypted
at rest when CIPHER_KEY is set (eventsourcing.cipher:AESCipher).
"""

from __future__ import annotations

import contextlib
from datetime import date
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, project_aggregate
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
        """The pathway as its stored events say now (replayed; never from the cache)."""
        pathway = project_aggregate(None, self.events.get(pathway_id))
        if pathway is None:
            raise AggregateNotFoundError(pathway_id)
        return cast(Pathway, pathway)

    def get_pathway_to_command(self, pathway_id: UUID) -> Pathway:
        """A private copy to run a command on, from this process's cache when it has it.

        The copy may be stale when another process wrote since: saving it then collides on
        the version, and the handler calls `forget` and tries again on fresh state.
        """
        return cast(Pathway, self.repository.get(pathway_id))

    def forget(self, pathway_id: UUID) -> None:
        """Drops a cached pathway (after a collision, or a refusal decided on stale state)."""
        cache = self.repository.cache
        if cache is not None:
            with contextlib.suppress(KeyError):
                cache.get(pathway_id, evict=True)

    def stored_version(self, pathway_id: UUID) -> int | None:
        last = self.recorder.select_events(pathway_id, desc=True, limit=1)
        return last[0].originator_version if last else None

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

    def save_command(self, pathway: Pathway | None, *answers: ProcessedCommand) -> None:
        """One write: the pathway's new events and the answers. The answers go in as events,
        not aggregates, so that they do not take the pathways' places in the cache."""
        self.save(pathway, *(event for answer in answers for event in answer.collect_events()))
