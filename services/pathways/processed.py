"""The record that a command was handled, and what was answered.

Saved in the same `app.save(pathway, processed)` call as the pathway's new events, so the
two are written in one transaction: a second delivery of the same command id collides on
this aggregate's id (uuid5 of the command id) and nothing of it is written.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

#: Namespace of the ids of ProcessedCommand aggregates (stable forever: changing it would
#: make every past command look new).
PROCESSED_COMMANDS_NAMESPACE = uuid5(NAMESPACE_URL, "https://relais.example/processed-commands")


def processed_command_id(command_id: UUID) -> UUID:
    return uuid5(PROCESSED_COMMANDS_NAMESPACE, str(command_id))


class ProcessedCommand(Aggregate):
    @staticmethod
    def create_id(command_id: UUID) -> UUID:
        return processed_command_id(command_id)

    @event("CommandProcessed")
    def __init__(
        self,
        command_id: UUID,
        command_type: str,
        pathway_id: UUID,
        fingerprint: str,
        accepted: bool,
        pathway_version: int | None,
        new_events: int,
        rejection_code: str | None,
        rejection_field: str | None,
        rejection_reason: str | None,
    ) -> None:
        self.command_id = command_id
        self.command_type = command_type
        self.pathway_id = pathway_id
        self.fingerprint = fingerprint
        self.accepted = accepted
        self.pathway_version = pathway_version
        self.new_events = new_events
        self.rejection_code = rejection_code
        self.rejection_field = rejection_field
        self.rejection_reason = rejection_reason
