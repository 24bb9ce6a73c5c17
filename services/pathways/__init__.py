"""The pathways service: commands on the four pathway aggregates, on the event store."""

from services.pathways.application import PathwaysApplication
from services.pathways.handler import (
    CommandRejected,
    CommandResult,
    ConcurrencyExhausted,
    PathwaysHandler,
    parse_command,
)

__all__ = [
    "CommandRejected",
    "CommandResult",
    "ConcurrencyExhausted",
    "PathwaysApplication",
    "PathwaysHandler",
    "parse_command",
]
