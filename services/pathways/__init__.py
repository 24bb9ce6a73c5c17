"""The pathways service: commands on the four pathway aggregates, on the event store.

    from services.bootstrap import build_pathways_application
    from services.pathways import PathwaysHandler
    from services.pathways.commands import RecordPhoneStatus

    handler = PathwaysHandler(build_pathways_application(settings))
    result = handler.handle(RecordPhoneStatus(command_id=..., pathway_id=..., actor=...,
                                              occurred_at=..., status="changed"))
    result.accepted, result.version, result.rejection      # CommandRejected(field, reason, code)
    handler.handle_payload("RecordPhoneStatus", {...})       # untyped JSON (Kafka, GraphQL)
    handler.handle_batch([...])                              # several commands of one pathway, one save
    handler.app.get_pathway(pathway_id)                      # the aggregate, replayed from the store

Commands: `services.pathways.commands.COMMANDS` (by class name). Answers are stored beside
the events (topic PROCESSED_COMMAND_TOPIC) so that a command id sent twice gets the same
answer and changes nothing.
"""

from eventsourcing.utils import get_topic

from services.pathways.application import PathwaysApplication
from services.pathways.handler import (
    CommandRejected,
    CommandResult,
    ConcurrencyExhausted,
    PathwaysHandler,
    parse_command,
)
from services.pathways.processed import ProcessedCommand

#: Topic of the bookkeeping records (answers to commands) that share the notification log
#: with the pathway events: the relay leaves them out of relais.pathway-events.
PROCESSED_COMMAND_TOPIC = get_topic(ProcessedCommand.CommandProcessed)

__all__ = [
    "PROCESSED_COMMAND_TOPIC",
    "CommandRejected",
    "CommandResult",
    "ConcurrencyExhausted",
    "PathwaysApplication",
    "PathwaysHandler",
    "parse_command",
]
