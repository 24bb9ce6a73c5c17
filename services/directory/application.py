"""DirectoryApplication: the services of the directory on their own event store (eventsourcing
`Application` named "Directory": its own tables beside the pathways', its own notification
log, relayed to `<prefix>.directory-events`)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import JSONTranscoder, Recording

from domain.directory import Service, ServiceKind
from domain.matching import departement_of
from services.pathways.application import ActorAsDict, DateAsISO


class DirectoryApplication(Application[UUID]):
    name = "Directory"
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._saves = itertools.count(1)
        #: Saves made through this instance (the read side re-reads the store at once after one).
        self.local_saves = 0

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        super()._notify(recordings)
        self.local_saves = next(self._saves)  # atomic under the GIL: no save goes uncounted

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

    def __init__(self, app: DirectoryApplication, *, max_lag_s: float = 0.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._app = app
        #: How stale a read may be about other processes' writes: within `max_lag_s` of the last
        #: look at the store, and with no save through `app` since, a read asks the store nothing
        #: (0: every read asks). A match is advice; taking a place always reads the stored service.
        self.max_lag_s, self._monotonic = max_lag_s, monotonic
        self._looked_at: float | None = None
        self._saves_seen = -1
        self._services: dict[UUID, Service] = {}
        #: The same services by kind; and those accepting new patients (a blocking criterion of
        #: every match) by kind and eligibility: `None` for those without a commune rule, else
        #: each code of their `zone_eligibilite`. A match walks only the accepting services of
        #: its kind that may take someone of its commune.
        self._by_kind: dict[ServiceKind, dict[UUID, Service]] = {}
        self._accepting: dict[tuple[ServiceKind, str | None], dict[UUID, Service]] = {}
        #: Where each service is filed in `_accepting` (to take it out when it changes).
        self._filed: dict[UUID, list[tuple[ServiceKind, str | None]]] = {}
        self._position = 0
        self._lock = threading.Lock()

    def refresh(self) -> None:
        with self._lock:
            now, saves = self._monotonic(), self._app.local_saves
            if (self.max_lag_s > 0 and saves == self._saves_seen and self._looked_at is not None
                    and now - self._looked_at < self.max_lag_s):
                return
            self._looked_at, self._saves_seen = now, saves
            while True:
                notifications = self._app.recorder.select_notifications(
                    start=self._position, limit=1000, inclusive_of_start=False)
                if not notifications:
                    return
                for notification in notifications:
                    domain_event = self._app.mapper.to_domain_event(notification)
                    before = self._services.get(domain_event.originator_id)
                    kind_before = before.details.kind if before is not None else None
                    service = cast(Service, domain_event.mutate(before))
                    if service is None:
                        continue
                    if kind_before is not None and kind_before is not service.details.kind:
                        self._by_kind[kind_before].pop(service.id, None)
                    self._services[service.id] = service
                    self._by_kind.setdefault(service.details.kind, {})[service.id] = service
                    self._file(service)
                self._position = notifications[-1].id

    def _file(self, service: Service) -> None:
        for key in self._filed.pop(service.id, []):
            self._accepting[key].pop(service.id, None)
        if not service.accepting_new_patients:
            return
        kind = service.details.kind
        keys = [(kind, code) for code in service.details.zone_eligibilite] or [(kind, None)]
        for key in keys:
            self._accepting.setdefault(key, {})[service.id] = service
        self._filed[service.id] = keys

    def services(self, kind: ServiceKind | None = None) -> list[Service]:
        self.refresh()
        if kind is None:
            return list(self._services.values())
        return list(self._by_kind.get(kind, {}).values())

    def accepting(self, kind: ServiceKind | None = None, commune: str | None = None) -> list[Service]:
        """The services accepting new patients (of `kind`) whose commune rule may admit someone
        living in `commune` (INSEE code): those without a rule, and those listing the commune or
        its département. Without a commune: only those without a rule."""
        self.refresh()
        kinds = [kind] if kind is not None else list(self._by_kind)
        codes: list[str | None] = [None]
        if commune is not None:
            codes += [commune, departement_of(commune)]
        found: dict[UUID, Service] = {}
        for k in kinds:
            for code in codes:
                found.update(self._accepting.get((k, code), {}))
        return list(found.values())

    def get(self, service_id: UUID) -> Service | None:
        self.refresh()
        return self._services.get(service_id)

    def holding(self, referral_id: UUID) -> Service | None:
        """The service where this referral holds a place, if any."""
        self.refresh()
        return next((s for s in self._services.values() if s.holds(referral_id)), None)

    def __iter__(self) -> Iterator[Service]:
        return iter(self.services())
