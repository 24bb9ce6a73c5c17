"""DirectoryApplication: the services of the directory on their own event store (eventsourcing
`Application` named "Directory": its own tables beside the pathways', its own notification
log, relayed to `<prefix>.directory-events`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import JSONTranscoder

from domain.directory import Service
from services.pathways.application import ActorAsDict, DateAsISO


class DirectoryApplication(Application[UUID]):
    name = "Directory"

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(ActorAsDict())
        transcoder.register(DateAsISO())

    def get_service(self, service_id: UUID) -> Service:
        """As stored now (no cache: a quota decision is never taken on a stale copy)."""
        return cast(Service, self.repository.get(service_id))

    def find_service(self, service_id: UUID) -> Service | None:
        try:
            return self.get_service(service_id)
        except AggregateNotFoundError:
            return None


class DirectoryIndex:
    """Every service as the store says, kept in memory and brought up to date from the
    notification log on each read (only the new notifications are read): the read side of
    the directory, for queries and matching, in any process that has the store."""

    def __init__(self, app: DirectoryApplication) -> None:
        self._app = app
        self._services: dict[UUID, Service] = {}
        self._position = 0
        self._lock = threading.Lock()

    def refresh(self) -> None:
        with self._lock:
            while True:
                notifications = self._app.recorder.select_notifications(
                    start=self._position, limit=1000, inclusive_of_start=False)
                if not notifications:
                    return
                for notification in notifications:
                    domain_event = self._app.mapper.to_domain_event(notification)
                    service = domain_event.mutate(self._services.get(domain_event.originator_id))
                    if service is not None:
                        self._services[service.id] = cast(Service, service)
                self._position = notifications[-1].id

    def services(self) -> list[Service]:
        self.refresh()
        return list(self._services.values())

    def get(self, service_id: UUID) -> Service | None:
        self.refresh()
        return self._services.get(service_id)

    def holding(self, referral_id: UUID) -> Service | None:
        """The service where this referral holds a place, if any."""
        self.refresh()
        return next((s for s in self._services.values() if s.holds(referral_id)), None)

    def __iter__(self) -> Iterator[Service]:
        return iter(self.services())
