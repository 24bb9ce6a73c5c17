"""PathwaysApplication: the pathways on the event store (eventsourcing `Application`).

Persistence is chosen by the library's environment (PERSISTENCE_MODULE and its keys), which
`services.bootstrap.build_pathways_application` fills from Settings. Payloads are encrypted
at rest when CIPHER_KEY is set (eventsourcing.cryptography:AESCipher); on PostgreSQL the
recorder is `services.pathways.recorder.PathwaysPostgresRecorder` (one call per save).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from datetime import date
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent, project_aggregate
from eventsourcing.persistence import (
    JSONTranscoder,
    Mapper,
    MapperDeserialisationError,
    Recording,
    StoredEvent,
    Transcoding,
    find_id_convertor,
)
from eventsourcing.utils import get_topic, resolve_topic

from domain.pathway import Pathway
from domain.values import Actor
from services.pathways.commands import Command, OpenPathway
from services.pathways.processed import ProcessedCommand, processed_command_id
from services.privacy import sealing


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


class SealingMapper(Mapper[UUID]):
    """The library's mapper, with each pathway event's personal fields sealed by its person's
    key before it is stored, and opened when read (services.privacy.sealing). The idempotency
    records (ProcessedCommand) hold no personal field and are stored as they are."""

    personal: sealing.Cipher

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        topic = get_topic(domain_event.__class__)
        if not topic.startswith("domain."):
            return super().to_stored_event(domain_event)
        state = sealing.actor_as_mapping(dict(vars(domain_event)))
        originator_id = state.pop("originator_id")
        originator_version = state.pop("originator_version")
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        state = sealing.actor_restored(
            sealing.seal(self.personal, str(originator_id), originator_version, state, self.transcoder.encode))
        stored = self.transcoder.encode(state)
        if self.compressor:
            stored = self.compressor.compress(stored)
        if self.cipher:
            stored = self.cipher.encrypt(stored)
        return StoredEvent(originator_id=originator_id, originator_version=originator_version, topic=topic,
                           state=stored)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        # The library's steps, with the sealed part opened BEFORE the upcasters run (an
        # upcaster may read a personal field, as InterpreterNeedRecorded's reads `language`).
        cls = resolve_topic(stored_event.topic)
        state = stored_event.state
        try:
            if self.cipher:
                state = self.cipher.decrypt(state)
            if self.compressor:
                state = self.compressor.decompress(state)
            event_state: dict[str, Any] = self.transcoder.decode(state)
        except Exception as exc:
            raise MapperDeserialisationError(
                f"Failed to deserialise state of stored event with topic '{stored_event.topic}', originator_id "
                f"'{stored_event.originator_id}' and originator_version {stored_event.originator_version}: {exc}",
            ) from exc
        if sealing.SEALED in event_state:
            event_state = sealing.actor_restored(sealing.open_sealed(
                self.personal, str(stored_event.originator_id), stored_event.originator_version,
                sealing.actor_as_mapping(event_state), self.transcoder.decode))
        event_state["originator_id"] = find_id_convertor(cls, type(stored_event.originator_id))(stored_event.originator_id)
        event_state["originator_version"] = stored_event.originator_version
        class_version = getattr(cls, "class_version", 1)
        from_version = event_state.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(event_state)
            from_version += 1
        domain_event = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", event_state)
        return domain_event


class PathwaysApplication(Application[UUID]):
    name = "Pathways"

    #: Commands on one pathway run one at a time in this process (striped locks): they
    #: would only collide with each other, and they share the cached pathway instance.
    LOCK_STRIPES = 64

    def __init__(self, env: Mapping[str, str] | None = None, *, personal: sealing.Cipher | None = None) -> None:
        """`personal`: the cipher sealing each person's fields with their own key (wired by
        services.bootstrap; None only in unit tests of the aggregate store)."""
        self._personal = personal
        super().__init__(env)
        self._locks = [threading.Lock() for _ in range(self.LOCK_STRIPES)]

    def lock(self, pathway_id: UUID) -> threading.Lock:
        return self._locks[pathway_id.int % self.LOCK_STRIPES]

    @property
    def personal(self) -> sealing.Cipher | None:
        """The cipher sealing the persons' fields (the relay seals the wire with it too)."""
        return self._personal

    def close(self) -> None:
        super().close()
        close = getattr(self._personal, "close", None)
        if close is not None:
            close()

    def construct_mapper(self) -> Mapper[UUID]:
        if self._personal is None:
            return super().construct_mapper()
        mapper = cast(SealingMapper, self.factory.mapper(transcoder=self.construct_transcoder(),
                                                         mapper_class=SealingMapper))
        mapper.personal = self._personal
        return mapper

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
        """The pathway to run a command on: this process's cached instance when it has one.

        Not a copy (copying a pathway's state cost more than the command): the caller holds
        the pathway's lock (`PathwaysHandler`) and calls `forget` if anything fails after
        the call, so that a half-applied instance never stays cached. The instance may be
        stale when another process wrote since: saving it then collides on the version, and
        the handler forgets it and runs the command again on fresh state.
        """
        return cast(Pathway, self.repository.get(pathway_id, deepcopy_from_cache=False))

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
    @staticmethod
    def open_pathway(command: OpenPathway) -> Pathway:
        """The new pathway of an opening command (not saved: the caller saves or replays it)."""
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

    def save_command(self, pathway: Pathway | None, *answers: ProcessedCommand) -> list[Recording[UUID]]:
        """One write: the pathway's new events and the answers, in one transaction.

        Same steps as `Application.save` (collect, record, notify), minus its per-object
        `isinstance` checks against runtime-checkable Protocols, which cost ~50 µs each on
        Python 3.11 and were a fifth of a command's time. The answers go in as events, not
        aggregates, so that they do not take the pathways' places in the cache.
        """
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        if pathway is not None:
            processing.events.extend(pathway.collect_events())
            processing.aggregates[pathway.id] = pathway
        for answer in answers:
            processing.events.extend(answer.collect_events())
        recordings = self._record(processing)
        self._notify(recordings)
        return recordings
