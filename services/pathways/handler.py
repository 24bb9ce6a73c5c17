"""`handle(command) -> CommandResult`: idempotent, retried, explained command handling.

- Idempotent: the answer is stored with the events (ProcessedCommand); a command id seen
  before returns the stored answer and writes nothing.
- Concurrent writers: optimistic concurrency on the pathway's version; on a conflict the
  handler gets the pathway again, calls again and saves again, a bounded number of times.
- Explained refusals: invalid payloads and domain refusals come back as `CommandRejected`
  with the field at fault (when there is one) and a reason in French.
"""

from __future__ import annotations

import hashlib
import random
import time
from datetime import datetime, timedelta, timezone
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from pydantic import ValidationError

from domain import writepolicy
from domain.errors import DomainError, error_code, refused_input
from domain.pathway import Pathway, recording
from services.pathways.application import PathwaysApplication
from services.pathways.commands import COMMANDS, Command, OpenPathway
from services.pathways.processed import ProcessedCommand

#: How many times a command is re-run after losing an optimistic-concurrency race.
MAX_ATTEMPTS = 12


@dataclass
class CommandRejected(Exception):
    """A refused command: the field at fault (None when the whole command is) and why."""

    field: str | None
    reason: str
    code: str = "INVALID_VALUE"

    def __post_init__(self) -> None:
        # One convention (domain.errors.error_code), also for answers stored by older versions.
        self.code = error_code(self.code)

    def __str__(self) -> str:
        return f"{self.field}: {self.reason}" if self.field else self.reason


@dataclass(frozen=True)
class CommandResult:
    command_id: UUID | None
    pathway_id: UUID | None
    accepted: bool
    version: int | None = None  # the pathway's version after the command
    new_events: int = 0
    rejection: CommandRejected | None = None
    #: True when this answer is the stored answer to an earlier delivery.
    duplicate: bool = field(default=False, compare=False)


class StaleState(IntegrityError):
    """The cached pathway a refusal was decided on is behind the store: decide again."""


class ConcurrencyExhausted(RuntimeError):
    """Still losing the race after MAX_ATTEMPTS: the caller may retry later (same id)."""


# --------------------------------------------------------------------------- validation
def rejection_from_validation(error: ValidationError) -> CommandRejected:
    first = error.errors()[0]
    field_name = ".".join(str(part) for part in first["loc"]) or None
    code, reason = refused_input(first)
    return CommandRejected(field=field_name, reason=reason, code=code)


def parse_command(command_type: str, payload: Mapping[str, Any]) -> Command:
    """Validates an untyped payload (from Kafka or GraphQL) into its command class."""
    command_class = COMMANDS.get(command_type)
    if command_class is None:
        raise CommandRejected(field="type", reason=f"commande inconnue : {command_type}", code="UNKNOWN_COMMAND")
    try:
        return command_class.model_validate(payload)
    except ValidationError as error:
        raise rejection_from_validation(error) from None


def fingerprint(command: Command) -> str:
    """Same id with different content is a client bug, not a retry: it must not pass as one."""
    body = type(command).__name__.encode() + b"\n" + command.model_dump_json().encode()
    return hashlib.sha256(body).hexdigest()


# --------------------------------------------------------------------------- handling
class PathwaysHandler:
    def __init__(self, app: PathwaysApplication, *, max_attempts: int = MAX_ATTEMPTS,
                 clock_skew: timedelta = writepolicy.DEFAULT_CLOCK_SKEW,
                 territories: frozenset[str] | None = None,
                 emergency_roles: frozenset[str] = writepolicy.DEFAULT_EMERGENCY_ROLES) -> None:
        self.app = app
        #: The roles granted the emergency override (bris de glace).
        self.emergency_roles = emergency_roles
        self.max_attempts = max_attempts
        #: How far in the future `occurred_at` may be (client clocks drift).
        self.clock_skew = clock_skew
        #: The territories a pathway may be opened in (the registry's départements); None: any.
        self.territories = territories

    @contextmanager
    def _pathway(self, pathway_id: UUID) -> Iterator[None]:
        """Holds the pathway's lock in this process; on any failure, drops the cached
        instance the failed attempt may have changed."""
        with self.app.lock(pathway_id):
            try:
                yield
            except BaseException:
                self.app.forget(pathway_id)
                raise

    def handle_payload(self, command_type: str, payload: Mapping[str, Any]) -> CommandResult:
        try:
            command = parse_command(command_type, payload)
        except CommandRejected as rejected:
            command_id = payload.get("command_id") if isinstance(payload, Mapping) else None
            pathway_id = payload.get("pathway_id") if isinstance(payload, Mapping) else None
            return CommandResult(
                command_id=_as_uuid(command_id), pathway_id=_as_uuid(pathway_id), accepted=False, rejection=rejected
            )
        return self.handle(command)

    def handle(self, command: Command, *, recorded_at: datetime | None = None) -> CommandResult:
        """`recorded_at`: see `handle_batch` (in-process loads of past history only)."""
        digest = fingerprint(command)
        for attempt in range(self.max_attempts):
            try:
                with self._pathway(command.pathway_id), recording(recorded_at):
                    return self._run(command, digest)
            except IntegrityError:
                # The write collided: either this command id is already recorded (a repeated
                # delivery: answer what was answered then) or another agency wrote the
                # pathway first (version conflict: get, call and save again). No lookup
                # before the first try: the collision is the atomic test, and most commands
                # are new.
                stored = self.app.find_processed(command.command_id)
                if stored is not None:
                    return self._stored_answer(stored, digest)
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise ConcurrencyExhausted(f"command {command.command_id} lost {self.max_attempts} races")

    def handle_batch(self, commands: Sequence[Command], *,
                     recorded_at: Sequence[datetime] | None = None) -> list[CommandResult]:
        """Several commands for ONE pathway (e.g. what a Kafka poll returned for one key),
        in order, written in one save: the events of the accepted ones and the answers of
        all. If the write collides (a repeated delivery, or another writer), nothing of it
        is kept and each command goes through `handle` on its own, which sorts it out.

        `recorded_at`: when each command's facts were entered, for an in-process load of a
        past history (the synthetic territory); the default, and the only way through GraphQL
        and ingest, is now. No command field carries it, so no caller can backdate a record."""
        if len({command.pathway_id for command in commands}) > 1:
            raise ValueError("handle_batch takes the commands of one pathway")
        moments: Sequence[datetime | None] = recorded_at if recorded_at is not None else [None] * len(commands)
        if len(moments) != len(commands):
            raise ValueError("handle_batch: one recorded_at per command")
        if len(commands) < 2 or len({command.command_id for command in commands}) < len(commands):
            return [self.handle(command, recorded_at=moment) for command, moment in zip(commands, moments)]
        try:
            with self._pathway(commands[0].pathway_id):
                return self._run_batch(commands, moments)
        except IntegrityError:
            return [self.handle(command, recorded_at=moment) for command, moment in zip(commands, moments)]

    def _run_batch(self, commands: Sequence[Command], moments: Sequence[datetime | None]) -> list[CommandResult]:
        pathway: Pathway | None = None
        answers: list[ProcessedCommand] = []
        for command, moment in zip(commands, moments):
            digest = fingerprint(command)
            try:
                with recording(moment):
                    if pathway is None or isinstance(command, OpenPathway):
                        if pathway is not None:
                            raise CommandRejected("pathway_id", "ce parcours existe déjà", "PATHWAY_ALREADY_EXISTS")
                        pathway = self._target(command)
                    else:
                        self.authorise(command, pathway)
                    self.check_kind(command, pathway)
                    version_before = 0 if isinstance(command, OpenPathway) else pathway.version
                    self.app.call(pathway, command)
            except DomainError as error:
                answers.append(_refusal(command, digest, _rejection(error)))
                continue
            except CommandRejected as rejected:
                answers.append(_refusal(command, digest, rejected))
                continue
            answers.append(_acceptance(command, digest, pathway.version, pathway.version - version_before))
        if any(not answer.accepted for answer in answers):
            self.check_fresh(pathway)
        self.app.save_command(pathway, *answers)
        return [_answer(processed) for processed in answers]

    def _run(self, command: Command, digest: str) -> CommandResult:
        """Get, call, save: the new events and the answer in one write."""
        pathway: Pathway | None = None
        try:
            pathway = self._target(command)
            self.check_kind(command, pathway)
            version_before = 0 if isinstance(command, OpenPathway) else pathway.version
            self.app.call(pathway, command)
        except DomainError as error:
            return self._refuse(command, pathway, digest, _rejection(error))
        except CommandRejected as rejected:
            return self._refuse(command, pathway, digest, rejected)
        processed = _acceptance(command, digest, pathway.version, pathway.version - version_before)
        self.app.save_command(pathway, processed)
        return _answer(processed)

    def _target(self, command: Command) -> Pathway:
        """The pathway the command runs on, once the write policy let it through (membership
        first: a non-member hears what it would hear of a pathway that does not exist)."""
        if isinstance(command, OpenPathway):
            if self.app.pathway_exists(command.pathway_id):
                raise CommandRejected("pathway_id", "ce parcours existe déjà", "PATHWAY_ALREADY_EXISTS")
            self.authorise(command, None)
            return self.app.open_pathway(command)
        try:
            pathway = self.app.get_pathway_to_command(command.pathway_id)
        except AggregateNotFoundError:
            raise CommandRejected("pathway_id", writepolicy.UNKNOWN_PATHWAY, writepolicy.UNKNOWN_PATHWAY_CODE) from None
        self.authorise(command, pathway)
        return pathway

    def authorise(self, command: Command, pathway: Pathway | None) -> None:
        """The write policy (domain.writepolicy), the same for every way a command comes in."""
        try:
            writepolicy.check_write(type(command).__name__, command, command.actor.to_domain(), pathway,
                                    now=datetime.now(timezone.utc), clock_skew=self.clock_skew,
                                    territories=self.territories, emergency_roles=self.emergency_roles)
        except writepolicy.WriteRefused:
            self.check_fresh(pathway)  # a refusal decided on a stale membership is decided again
            raise

    @staticmethod
    def check_kind(command: Command, pathway: Pathway) -> None:
        if command.pathway_kind is not None and pathway.kind != command.pathway_kind:
            raise CommandRejected(
                "pathway_id",
                f"commande réservée aux parcours « {command.pathway_kind.value} » (ce parcours : « {pathway.kind.value} »)",
                "WRONG_PATHWAY_KIND",
            )

    def _refuse(self, command: Command, pathway: Pathway | None, digest: str, rejected: CommandRejected) -> CommandResult:
        self.check_fresh(pathway)
        processed = _refusal(command, digest, rejected)
        self.app.save_command(None, processed)
        return _answer(processed)

    def check_fresh(self, pathway: Pathway | None) -> None:
        """A refusal writes no pathway event, so no version check guards it: make sure it
        was decided on the latest state, or collide on purpose to decide again."""
        if pathway is None:
            return
        stored_before = pathway.version - len(pathway.pending_events)
        if stored_before == 0:
            return  # opened in this very write: there is nothing stored to be behind
        if self.app.stored_version(pathway.id) != stored_before:
            raise StaleState()

    @staticmethod
    def _stored_answer(stored: ProcessedCommand, digest: str) -> CommandResult:
        if stored.fingerprint != digest:
            return CommandResult(
                command_id=stored.command_id, pathway_id=stored.pathway_id, accepted=False,
                rejection=CommandRejected(
                    "command_id", "identifiant de commande déjà utilisé pour une autre commande", "COMMAND_ID_REUSED"
                ),
                duplicate=True,
            )
        answer = _answer(stored)
        return CommandResult(**{**answer.__dict__, "duplicate": True})


def _rejection(error: DomainError) -> CommandRejected:
    return CommandRejected(error.field, error.reason, error.code)


def _acceptance(command: Command, digest: str, version: int, new_events: int) -> ProcessedCommand:
    return ProcessedCommand(
        command_id=command.command_id, command_type=type(command).__name__, pathway_id=command.pathway_id,
        fingerprint=digest, accepted=True, pathway_version=version, new_events=new_events,
        rejection_code=None, rejection_field=None, rejection_reason=None,
    )


def _refusal(command: Command, digest: str, rejected: CommandRejected) -> ProcessedCommand:
    return ProcessedCommand(
        command_id=command.command_id, command_type=type(command).__name__, pathway_id=command.pathway_id,
        fingerprint=digest, accepted=False, pathway_version=None, new_events=0,
        rejection_code=rejected.code, rejection_field=rejected.field, rejection_reason=rejected.reason,
    )


def _answer(processed: ProcessedCommand) -> CommandResult:
    rejection = None
    if not processed.accepted:
        rejection = CommandRejected(
            processed.rejection_field, processed.rejection_reason or "", processed.rejection_code or "INVALID_VALUE"
        )
    return CommandResult(
        command_id=processed.command_id, pathway_id=processed.pathway_id, accepted=processed.accepted,
        version=processed.pathway_version, new_events=processed.new_events, rejection=rejection,
    )


def _as_uuid(value: object) -> UUID | None:
    try:
        return UUID(str(value)) if value is not None else None
    except ValueError:
        return None
