"""Erasure of a person (RGPD art. 17) by crypto-shredding, and the retention sweep.

`Erasure.erase_person`: every pathway sealed with the person's key gets a PersonalDataErased
event (no personal field; the read models purge the pathway's rows on it, the indicators keep
their counts), then the key is destroyed: what was sealed with it, in the event store and on
every Kafka copy, is unreadable from then on. Each step is idempotent (the command id is
derived from the pathway and the key), so a request interrupted half-way is simply sent again.

`Erasure.sweep`: the retention period of each territory after a pathway's closure; the
pathways of a person are erased once all of theirs are closed past it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import UUID, uuid5

from domain.errors import UnknownPerson
from domain.values import SYSTEM_AGENCY, ErasureBasis
from services.pathways.commands import ActorModel, ErasePersonalData

log = logging.getLogger("relais.privacy")

ERASURE_NAMESPACE = UUID("3b0e8f64-2f7e-4a43-9d0c-7a4f3c1e9b52")
#: Who records PersonalDataErased: Relais itself (the write policy's engine-only commands);
#: the DPO who asked is in the audit record.
PRIVACY_ACTOR = ActorModel(agency=SYSTEM_AGENCY, professional="privacy", role="effacement")


class Keys(Protocol):
    """What erasure needs of the key store (infra.keystore.KeyStore)."""

    def find_person(self, person_ref: str) -> str | None: ...
    def pathways_of_key(self, key_id: str) -> list[str]: ...
    def destroy(self, key_id: str, legal_basis: str) -> None: ...
    def key_id_of_pathway(self, pathway_id: str) -> str | None: ...


class Commands(Protocol):
    """The pathways handler (services.pathways.PathwaysHandler)."""

    app: Any  # its PathwaysApplication (get_pathway)

    def handle(self, command: Any) -> Any: ...


@dataclass(frozen=True)
class Erased:
    """What one erasure did: the key destroyed and the pathways it sealed."""

    key_id: str
    pathways: tuple[str, ...]
    legal_basis: ErasureBasis


@dataclass(frozen=True)
class ClosedPathway:
    """A closed pathway as the retention sweep reads it (read model `caseload_pathways`)."""

    pathway_id: str
    territory: str
    closed_at: datetime


class Erasure:
    def __init__(self, pathways: Commands, keys: Keys, *, on_erased: Callable[[str], None] | None = None) -> None:
        """`on_erased(key_id)` runs once the key is destroyed (the process forgets its copy)."""
        self._pathways = pathways
        self._keys = keys
        self._on_erased = on_erased

    def erase_person(self, person_ref: str, legal_basis: ErasureBasis | str, *, now: datetime,
                     for_agency: str | None = None) -> Erased:
        """Erase the person. `for_agency`: the requesting DPO's agency, which must take part in
        one of the person's pathways; otherwise the answer is the one for an unknown person (a
        DPO learns nothing of a person their organisation never followed)."""
        key_id = self._keys.find_person(person_ref)
        if key_id is None:
            raise UnknownPerson()
        if for_agency is not None and not any(
                for_agency in self._pathways.app.get_pathway(UUID(pid)).participants
                for pid in self._keys.pathways_of_key(key_id)):
            raise UnknownPerson()
        return self.erase_key(key_id, ErasureBasis(legal_basis), now=now)

    def erase_key(self, key_id: str, legal_basis: ErasureBasis, *, now: datetime) -> Erased:
        pathways = tuple(self._keys.pathways_of_key(key_id))
        for pathway_id in pathways:
            result = self._pathways.handle(ErasePersonalData(
                command_id=uuid5(ERASURE_NAMESPACE, f"{pathway_id}:{key_id}"), pathway_id=UUID(pathway_id),
                actor=PRIVACY_ACTOR, occurred_at=now, legal_basis=legal_basis))
            rejection = getattr(result, "rejection", None)
            if not result.accepted and getattr(rejection, "code", None) != "PATHWAY_ERASED":
                # The key stays until every pathway of the person recorded its erasure: a
                # key destroyed first would leave read models the event cannot purge.
                raise RuntimeError(f"effacement du parcours {pathway_id} refusé : {rejection}")
        self._keys.destroy(key_id, legal_basis.value)
        if self._on_erased is not None:
            self._on_erased(key_id)
        log.info("person erased", extra={"event": "person_erased", "key": key_id, "pathways": len(pathways),
                                         "legal_basis": legal_basis.value})
        return Erased(key_id, pathways, legal_basis)

    def due_for_retention(self, closed: Sequence[ClosedPathway], policy: RetentionPolicy, *,
                          now: datetime) -> list[tuple[str, tuple[ClosedPathway, ...]]]:
        """The keys (persons) whose every pathway is closed for longer than its territory's
        retention period, each with those pathways; a person with one pathway still open, or
        closed too recently, keeps all of theirs."""
        by_key: dict[str, list[ClosedPathway]] = {}
        for pathway in closed:
            key_id = self._keys.key_id_of_pathway(pathway.pathway_id)
            if key_id is not None:
                by_key.setdefault(key_id, []).append(pathway)
        due = []
        for key_id, pathways in sorted(by_key.items()):
            expired = [p for p in pathways if now - p.closed_at >= timedelta(days=policy.days(p.territory))]
            if len(expired) == len(pathways) == len(self._keys.pathways_of_key(key_id)):
                due.append((key_id, tuple(sorted(expired, key=lambda p: p.pathway_id))))
        return due

    def sweep(self, closed: Sequence[ClosedPathway], policy: RetentionPolicy, *, now: datetime, dry_run: bool = False,
              on_erased: Callable[[int, int, tuple[ClosedPathway, ...]], None] | None = None,
              ) -> list[tuple[ClosedPathway, ...]]:
        """`relais retention run`: erase (RETENTION_EXPIRED) every person due; `dry_run` erases
        nothing and says the same. `on_erased(done, total, pathways)` after each person."""
        due = self.due_for_retention(closed, policy, now=now)
        for done, (key_id, pathways) in enumerate(due, start=1):
            if not dry_run:
                self.erase_key(key_id, ErasureBasis.RETENTION_EXPIRED, now=now)
            if on_erased is not None:
                on_erased(done, len(due), pathways)
        return [pathways for _, pathways in due]


@dataclass(frozen=True)
class RetentionPolicy:
    """How long a closed pathway is kept, per territory (settings: retention_days and
    retention_days_by_territory)."""

    default_days: int
    by_territory: Mapping[str, int]

    def days(self, territory: str) -> int:
        return self.by_territory.get(territory, self.default_days)


#: What the retention sweep reads of the read models: the closed pathways and when.
CLOSED_PATHWAYS = "SELECT pathway_id, territory, closed_at FROM pathway_summary WHERE state = 'closed' ORDER BY pathway_id"


def closed_pathways(rows: Sequence[Sequence[Any]]) -> list[ClosedPathway]:
    return [ClosedPathway(str(pid), str(territory), datetime.fromisoformat(str(closed).replace("Z", "+00:00")))
            for pid, territory, closed in rows if closed]
