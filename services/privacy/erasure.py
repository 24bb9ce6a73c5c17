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

from domain.errors import DomainError
from domain.values import SYSTEM_AGENCY, ErasureBasis
from services.pathways.commands import ActorModel, ErasePersonalData

log = logging.getLogger("relais.privacy")

ERASURE_NAMESPACE = UUID("3b0e8f64-2f7e-4a43-9d0c-7a4f3c1e9b52")
#: Who records PersonalDataErased: Relais itself (the write policy's engine-only commands);
#: the DPO who asked is in the audit record.
PRIVACY_ACTOR = ActorModel(agency=SYSTEM_AGENCY, professional="privacy", role="effacement")


class UnknownPerson(DomainError):
    default_reason = "Aucune donnée de cette personne n'est chiffrée dans Relais (référence inconnue ou déjà effacée)."
    default_field = "personRef"


class Keys(Protocol):
    """What erasure needs of the key store (infra.keystore.KeyStore)."""

    def find_person(self, person_ref: str) -> str | None: ...
    def pathways_of_key(self, key_id: str) -> list[str]: ...
    def destroy(self, key_id: str, legal_basis: str) -> None: ...
    def key_id_of_pathway(self, pathway_id: str) -> str | None: ...


class Commands(Protocol):
    """The pathways handler (services.pathways.PathwaysHandler)."""

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

    def erase_person(self, person_ref: str, legal_basis: ErasureBasis | str, *, now: datetime) -> Erased:
        key_id = self._keys.find_person(person_ref)
        if key_id is None:
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

    def due_for_retention(self, closed: Sequence[ClosedPathway], retention_days: Mapping[str, int], *,
                          now: datetime, default_days: int) -> list[str]:
        """The keys whose every pathway is closed for longer than its territory's retention."""
        by_key: dict[str, list[bool]] = {}
        for pathway in closed:
            key_id = self._keys.key_id_of_pathway(pathway.pathway_id)
            if key_id is None:
                continue
            days = retention_days.get(pathway.territory, default_days)
            by_key.setdefault(key_id, []).append(now - pathway.closed_at >= timedelta(days=days))
        due = []
        for key_id, expired in by_key.items():
            # Every pathway of the person, closed or not, must be past its period.
            if all(expired) and len(expired) == len(self._keys.pathways_of_key(key_id)):
                due.append(key_id)
        return sorted(due)
