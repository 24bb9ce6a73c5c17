"""`DirectoryHandler.handle(command) -> DirectoryResult`: the one way a directory command is
applied, whether it came through GraphQL or the owner's inbound topic (same checks on both).

- Owner only: a command of `OWNER_COMMANDS` from another agency is refused (the aggregate's
  `check_owner`), a registration names the sender as owner.
- Idempotent: each event carries its command id; a command id already on the service is
  answered as a duplicate and writes nothing.
- Concurrent writers (two coordinators taking the last place): optimistic concurrency on the
  service's version; a collision runs the command again on fresh state, so the second one is
  decided on the place the first took.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from pydantic import ValidationError

from domain.directory import Service
from domain.errors import DomainError
from services.directory.application import DirectoryApplication
from services.directory.commands import DIRECTORY_COMMANDS, DirectoryCommand, RegisterService
from services.pathways.handler import CommandRejected, ConcurrencyExhausted, rejection_from_validation

MAX_ATTEMPTS = 50


@dataclass(frozen=True)
class DirectoryResult:
    command_id: UUID | None
    service_id: UUID | None
    accepted: bool
    version: int | None = None
    rejection: CommandRejected | None = None
    duplicate: bool = False
    #: The service after the command (None when refused before reading it).
    service: Service | None = None


def parse_directory_command(command_type: str, payload: Mapping[str, Any]) -> DirectoryCommand:
    command_class = DIRECTORY_COMMANDS.get(command_type)
    if command_class is None:
        raise CommandRejected(field="type", reason=f"commande inconnue : {command_type}", code="UNKNOWN_COMMAND")
    try:
        return command_class.model_validate(payload)
    except ValidationError as error:
        raise rejection_from_validation(error) from None


class DirectoryHandler:
    def __init__(self, app: DirectoryApplication, *, max_attempts: int = MAX_ATTEMPTS) -> None:
        self.app = app
        self.max_attempts = max_attempts

    def handle_payload(self, command_type: str, payload: Mapping[str, Any]) -> DirectoryResult:
        try:
            command = parse_directory_command(command_type, payload)
        except CommandRejected as rejected:
            return DirectoryResult(command_id=None, service_id=None, accepted=False, rejection=rejected)
        return self.handle(command)

    def handle(self, command: DirectoryCommand) -> DirectoryResult:
        for attempt in range(self.max_attempts):
            try:
                return self._run(command)
            except IntegrityError:
                # Another writer saved this service first: decide again on what it wrote.
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise ConcurrencyExhausted(f"directory command {command.command_id} lost {self.max_attempts} races")

    def _run(self, command: DirectoryCommand) -> DirectoryResult:
        actor = command.actor.to_domain()
        service = self.app.find_service(command.service_id)
        try:
            if isinstance(command, RegisterService):
                if service is not None:
                    if command.command_id in service.command_ids:
                        return self._duplicate(command, service)
                    raise CommandRejected("service_id", "ce service existe déjà", "SERVICE_ALREADY_EXISTS")
                arguments = command.arguments()
                owner = arguments.pop("owner") or actor.agency
                service = Service.register(command.service_id, owner=owner, **arguments, actor=actor,
                                           occurred_at=command.occurred_at, command_id=command.command_id)
            else:
                if service is None:
                    raise CommandRejected("service_id", "service inconnu de l'annuaire", "UNKNOWN_SERVICE")
                if command.command_id in service.command_ids:
                    return self._duplicate(command, service)
                getattr(service, command.verb)(**command.arguments(), actor=actor, occurred_at=command.occurred_at,
                                               command_id=command.command_id)
        except DomainError as error:
            return self._refused(command, CommandRejected(error.field, error.reason, error.code), service)
        except CommandRejected as rejected:
            return self._refused(command, rejected, service)
        self.app.save(service)
        return DirectoryResult(command_id=command.command_id, service_id=command.service_id, accepted=True,
                               version=service.version, service=service)

    @staticmethod
    def _duplicate(command: DirectoryCommand, service: Service) -> DirectoryResult:
        return DirectoryResult(command_id=command.command_id, service_id=command.service_id, accepted=True,
                               version=service.version, duplicate=True, service=service)

    @staticmethod
    def _refused(command: DirectoryCommand, rejected: CommandRejected, service: Service | None) -> DirectoryResult:
        return DirectoryResult(command_id=command.command_id, service_id=command.service_id, accepted=False,
                               rejection=rejected, service=service)
