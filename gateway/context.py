"""Per-request context: the caller, the DataLoaders, and the audit records to write.

`GatewayServices` is what the app holds for its lifetime (the read side over the projections'
read models, the event-store reader for `asOf`, audit log, command handler, alert feed);
`Context` is built per request (HTTP) or per connection (websocket) and carries the
authenticated Principal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from strawberry.dataloader import DataLoader
from strawberry.fastapi import BaseContext

from gateway.audit import DEFAULT_PURPOSE, EMERGENCY_PURPOSE, READ, SUCCESS, AuditLog, AuditRecord
from gateway.hardening import PublicError, RateLimiter
from gateway.permissions import Disclosure, Principal, Role
from gateway.readside import PathwayRecord, ReadSide
from gateway.store import EventStoreReader


@dataclass
class GatewayServices:
    settings: Any
    pathways: Any  # services.pathways.PathwaysHandler
    read: ReadSide  # every query (the projections' read models)
    reader: EventStoreReader  # asOf only (replayed through the projections)
    audit: AuditLog
    rate_limiter: RateLimiter
    alerts: Any = None  # gateway.subscriptions.AlertFeed
    webhooks: Any = None  # services.alerting.webhooks.WebhookRegistry
    territory_settings: Any = None  # services.risk.territory_settings.TerritorySettingsStore
    agencies: Any = None  # domain.agencies.AgencyRegistry (an agency's territory)
    erasure: Any = None  # services.privacy.erasure.Erasure
    directory: Any = None  # services.directory.Directory
    links: Any = None  # services.directory.links.ReferralLinks
    stats: dict[str, int] = field(default_factory=lambda: {"sql_batches": 0})
    #: where HTTP operations execute, off the event loop (gateway.hardening.OffLoopExecutor)
    executor: Any = None


class Context(BaseContext):
    def __init__(self, services: GatewayServices, principal: Principal | None, purpose: str = DEFAULT_PURPOSE) -> None:
        super().__init__()
        self.services = services
        self.principal = principal
        self.purpose = purpose
        self._audit: dict[tuple[str, str | None, str], list[set[Any]]] = {}
        #: pathway -> (consent version, emergency override) the request's disclosures were decided on.
        self._consent: dict[str, tuple[int, bool]] = {}
        self.record_loader: DataLoader[UUID, PathwayRecord | None] = DataLoader(load_fn=self._load_records)
        #: (pathway, first, after) -> (timeline rows, total): the timelines of a page in one batch.
        self.timeline_loader: DataLoader[tuple[UUID, int, int | None], tuple[list[dict[str, Any]], int]] = (
            DataLoader(load_fn=self._load_timelines))

    # ------------------------------------------------------------------ caller
    def require(self, *roles: Role) -> Principal:
        if self.principal is None:
            raise PublicError("Authentification requise.", "UNAUTHENTICATED")
        if roles and self.principal.role not in roles:
            raise PublicError("Accès refusé : votre rôle ne permet pas cette opération.", "FORBIDDEN")
        return self.principal

    # ------------------------------------------------------------------ loading
    async def _load_records(self, keys: list[UUID]) -> Sequence[PathwayRecord | None]:
        """Every pathway a request resolves at one level, in one query per read-model table."""
        self.services.stats["sql_batches"] += 1
        read = self.services.read
        found = await read.call(read.records, keys)
        return [found.get(key) for key in keys]

    async def _load_timelines(self, keys: list[tuple[UUID, int, int | None]]) -> Sequence[tuple[list[dict[str, Any]], int]]:
        self.services.stats["sql_batches"] += 1
        read = self.services.read
        return await read.call(read.timelines, keys)

    async def load_pathway(self, pathway_id: UUID,
                           timeline: tuple[UUID, int, int | None] | None = None) -> PathwayRecord | None:
        """One pathway's record and, when the query asks for its timeline (`timeline`: the
        timeline resolver's key), that page too: both in ONE call (one worker-thread hop at
        most), the timeline primed into `timeline_loader` so its resolver finds it there."""
        if timeline is None:
            return await self.record_loader.load(pathway_id)
        read = self.services.read

        def both() -> tuple[PathwayRecord | None, tuple[list[dict[str, Any]], int]]:
            return read.records([pathway_id]).get(pathway_id), read.timelines([timeline])[0]

        self.services.stats["sql_batches"] += 1
        record, page = await read.call(both)
        self.record_loader.prime(pathway_id, record)
        self.timeline_loader.prime(timeline, page)
        return record

    # ------------------------------------------------------------------ audit
    def audit_read(self, operation: str, pathway_id: UUID | str | None, categories: set[Any],
                   outcome: str = SUCCESS, action: str = READ, disclosure: Disclosure | None = None) -> None:
        """Record a read; `categories` is kept by reference and read when the request ends, so
        what nested resolvers (the timeline) add to it is audited too. `disclosure`: the
        decision it was made on, whose consent version (and emergency override) the record names."""
        key = (operation, None if pathway_id is None else str(pathway_id), outcome + action)
        self._audit.setdefault(key, []).append(categories)
        if disclosure is not None and key[1] is not None:
            self.note_consent(key[1], disclosure.consent_version, emergency=disclosure.emergency)

    def note_consent(self, pathway_id: UUID | str, version: int, *, emergency: bool = False) -> None:
        """The consent version in force for `pathway_id` in this request (see `audit_read`)."""
        held = self._consent.get(str(pathway_id), (version, False))
        self._consent[str(pathway_id)] = (version, emergency or held[1])

    def audit_records(self) -> list[AuditRecord]:
        principal = self.principal
        if principal is None:
            return []
        out = []
        for (op, pid, oa), sets in self._audit.items():
            version, emergency = self._consent.get(pid, (None, False)) if pid is not None else (None, False)
            # A read the emergency override widened is an emergency treatment read (HL7 ETREAT).
            out.append(AuditRecord(professional=principal.professional, agency=principal.agency,
                                   role=principal.role.value, action=oa[1:], operation=op,
                                   purpose=EMERGENCY_PURPOSE if emergency else self.purpose, pathway_id=pid,
                                   categories=tuple(sorted({str(getattr(c, "value", c)) for s in sets for c in s})),
                                   outcome=oa[0], consent_version=version))
        return out

    async def flush_audit(self) -> None:
        records = self.audit_records()
        self._audit.clear()
        self._consent.clear()
        if not records:
            return
        write_async = getattr(self.services.audit, "write_async", None)
        if write_async is not None:  # group commit: still written before the answer leaves
            await write_async(records)
        else:
            await asyncio.to_thread(self.services.audit.write, records)
