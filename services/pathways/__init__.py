"""The pathways service: commands on the four pathway aggregates, on the event store."""

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
