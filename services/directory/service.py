"""The directory as the gateway and the workers use it: search, match, and the referral made
through a match (a place of the quota taken first, then the referral on the pathway; the place
given back if the pathway refuses the referral)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid5

from domain.directory import Service, ServiceKind
from domain.matching import Assessment, MatchRequest, in_zone, match
from services.directory.application import DirectoryIndex
from services.directory.handler import DirectoryHandler, DirectoryResult
from services.pathways.handler import CommandRejected, CommandResult, PathwaysHandler

#: Derives the ids of the commands a referral-through-match sends from its own command id, so
#: that sending it again (same id) repeats nothing.
PLACE_NAMESPACE = UUID("3b0c8f7e-2a54-4d5e-9f3e-6a2f1c0d7b15")


@dataclass(frozen=True)
class DirectoryFilter:
    kind: ServiceKind | None = None
    commune: str | None = None  # the person's commune: services whose zone admits it
    accepting: bool | None = None
    language: str | None = None  # spoken, or interpreting accepted
    owner: str | None = None
    stale_on: date | None = None  # only the sheets out of date on that day

    def admits(self, service: Service) -> bool:
        d = service.details
        return ((self.kind is None or d.kind is self.kind)
                and (self.commune is None or not d.zone_eligibilite or in_zone(self.commune, d.zone_eligibilite))
                and (self.accepting is None or service.accepting_new_patients is self.accepting)
                and (self.language is None or self.language in d.languages or d.accepts_interpreting)
                and (self.owner is None or service.owner == self.owner)
                and (self.stale_on is None or service.is_stale(self.stale_on)))


@dataclass(frozen=True)
class ReferralThroughMatch:
    accepted: bool
    rejection: CommandRejected | None = None
    pathway: CommandResult | None = None
    place: DirectoryResult | None = None


class Directory:
    def __init__(self, handler: DirectoryHandler, index: DirectoryIndex | None = None) -> None:
        self.handler = handler
        self.index = index or DirectoryIndex(handler.app)

    def search(self, f: DirectoryFilter, first: int = 50) -> list[Service]:
        found = [s for s in self.index.services() if f.admits(s)]
        found.sort(key=lambda s: (s.details.name, str(s.id)))
        return found[:first]

    def get(self, service_id: UUID) -> Service | None:
        return self.index.get(service_id)

    def match(self, request: MatchRequest, *, limit: int = 10, exclude: Iterable[UUID] = ()) -> list[Assessment]:
        return match(self.index.services(), request, limit=limit, exclude=exclude)

    def refer(self, pathways: PathwaysHandler, *, command_id: UUID, pathway_id: UUID, service_id: UUID,
              referral_id: UUID, need_id: UUID | None, actor: dict[str, str],
              occurred_at: datetime) -> ReferralThroughMatch:
        """Take a place, then make the referral to the service's owner; give the place back
        when the pathway refuses it (not a member, closed...)."""
        envelope: dict[str, Any] = {"service_id": service_id, "actor": actor, "occurred_at": occurred_at}
        place = self.handler.handle_payload("TakeReferralPlace", {
            **envelope, "command_id": uuid5(PLACE_NAMESPACE, f"{command_id}:take"),
            "referral_id": referral_id, "pathway_id": pathway_id})
        if not place.accepted:
            return ReferralThroughMatch(accepted=False, rejection=place.rejection, place=place)
        service = place.service
        assert service is not None
        made = pathways.handle_payload("MakeReferral", {
            "command_id": command_id, "pathway_id": pathway_id, "actor": actor, "occurred_at": occurred_at,
            "referral_id": referral_id, "to_agency": service.owner, "service": service.details.name,
            "need_id": need_id})
        if not made.accepted:
            self.handler.handle_payload("ReturnReferralPlace", {
                **envelope, "command_id": uuid5(PLACE_NAMESPACE, f"{command_id}:return"),
                "referral_id": referral_id, "reason": "orientation refusée par le parcours"})
            return ReferralThroughMatch(accepted=False, rejection=made.rejection, pathway=made, place=place)
        return ReferralThroughMatch(accepted=True, pathway=made, place=place)
