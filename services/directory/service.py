"""The directory as the gateway and the workers use it: search, match, the owner's commands
and the referral made through a match (a place of the quota taken first, then the referral on
the pathway; the place given back if the pathway refuses the referral).

Intake stop (`command`): when a service stops accepting, or its quota is lowered below the
places held in the period, every referral holding a place there and still waiting for an
answer (status `requested`) is declined by Relais (`rejected`, the reason naming the next best
matches for that person). The rule `referral-declined` then raises its alert for the
referring agency with those alternatives in its suggested action, and the place comes back
(services/directory/reactions.py). The commands' ids derive from the directory command's: a
resent stop (or one whose reactions a crash cut short) declines each referral once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.application import AggregateNotFoundError

from domain.directory import COMMUNE_CODE, Place, Service, ServiceKind
from domain.matching import Assessment, MatchRequest, in_zone, language_code, match
from domain.values import SYSTEM_AGENCY, ReferralStatus
from services.directory.application import DirectoryIndex
from services.directory.handler import DirectoryHandler, DirectoryResult
from services.pathways.handler import CommandRejected, CommandResult, PathwaysHandler

log = logging.getLogger("relais.directory")

#: Relais acting for the directory (the write policy lets the platform's identity write).
DIRECTORY_ACTOR = {"agency": SYSTEM_AGENCY, "professional": "annuaire", "role": "annuaire"}
#: Derives the ids of the commands a directory change causes from that change's id.
REACTION_NAMESPACE = UUID("a7d6c1f2-9e0b-4c3a-8f55-2b1e4d7c9a60")
#: How many alternatives a declined referral's reason names.
ALTERNATIVES = 3
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
    def __init__(self, handler: DirectoryHandler, index: DirectoryIndex | None = None,
                 pathways: PathwaysHandler | None = None) -> None:
        self.handler = handler
        self.index = index or DirectoryIndex(handler.app)
        #: Where in-flight referrals are declined when intake stops (None: no pathways here).
        self.pathways = pathways

    def command(self, name: str, payload: dict[str, Any]) -> DirectoryResult:
        """A directory command (GraphQL or the owner's inbound topic), then what it breaks."""
        result = self.handler.handle_payload(name, payload)
        occurred_at = _as_datetime(payload.get("occurred_at"))
        if (result.accepted and self.pathways is not None and result.service is not None and occurred_at is not None
                and name in ("StopIntake", "SetReferralQuota")):
            for place in self._broken_places(name, result.service, occurred_at.date()):
                self._decline(result.service, place, name, UUID(str(payload["command_id"])), occurred_at)
        return result

    @staticmethod
    def _broken_places(name: str, service: Service, on: date) -> list[Place]:
        if name == "StopIntake":
            return list(service.places.values())
        if service.quota is None:
            return []
        period = service.quota.period_of(on)
        held = sorted((p for p in service.places.values() if p.period == period), key=lambda p: p.taken_at)
        return held[service.quota.places:]  # the latest beyond the new quota

    def _decline(self, service: Service, place: Place, cause_name: str, cause: UUID,
                 occurred_at: datetime) -> CommandResult | None:
        assert self.pathways is not None
        try:
            pathway = self.pathways.app.get_pathway(place.pathway_id)
        except AggregateNotFoundError:  # a place taken for a pathway this store does not hold
            return None
        referral = pathway.referrals.get(place.referral_id)
        if referral is None or referral.status is not ReferralStatus.REQUESTED:
            return None  # answered already (accepted, seen...): not in flight any more
        search = getattr(pathway, "gp_search", None)
        request = MatchRequest(at=occurred_at, kind=service.details.kind, commune=getattr(search, "commune", None),
                               languages=tuple(getattr(search, "languages", ()) or ()))
        others = self.match(request, limit=ALTERNATIVES, exclude=[service.id])
        names = "; ".join(display_name(a.service) for a in others)
        why = "ne prend plus de nouvelles personnes" if cause_name == "StopIntake" else "a réduit son quota, atteint"
        reason = f"{service.details.name} {why} ; " + (
            f"autres services possibles : {names}" if names else "aucun autre service disponible")
        declined = self.pathways.handle_payload("UpdateReferralStatus", {
            "command_id": uuid5(REACTION_NAMESPACE, f"{cause}:{place.referral_id}"), "pathway_id": place.pathway_id,
            "actor": DIRECTORY_ACTOR, "occurred_at": occurred_at, "referral_id": place.referral_id,
            "status": ReferralStatus.REJECTED.value, "reason": reason[:500]})
        log.info("referral declined: service intake", extra={
            "event": "directory_declined", "service": str(service.id), "pathway": str(place.pathway_id),
            "accepted": declined.accepted})
        return declined

    def search(self, f: DirectoryFilter, first: int = 50) -> list[Service]:
        found = [s for s in self.index.services() if f.admits(s)]
        found.sort(key=lambda s: (s.details.name, str(s.id)))
        return found[:first]

    def get(self, service_id: UUID) -> Service | None:
        return self.index.get(service_id)

    def match(self, request: MatchRequest, *, limit: int = 10, exclude: Iterable[UUID] = ()) -> list[Assessment]:
        """The matching of domain/matching.py, on a request whose commune (a name is looked up
        among the directory's own communes) and languages (`arabe` -> `ar`) are in codes."""
        commune = request.commune
        if commune is not None and not COMMUNE_CODE.match(commune):
            commune = next((s.details.code_insee for s in self.index.services()
                            if s.details.commune.casefold() == commune.strip().casefold()), commune)
        request = replace(request, commune=commune, languages=tuple(language_code(x) for x in request.languages))
        # Only the candidates: accepting (a blocking criterion), of the kind, eligible by commune.
        return match(self.index.accepting(request.kind, commune), request, limit=limit, exclude=exclude)

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


def display_name(service: Service) -> str:
    """How a sentence names a service: "Cabinet du Dr Martin (Rouen)"."""
    return f"{service.details.name} ({service.details.commune})"


def _as_datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value)) if value is not None else None
    except ValueError:
        return None
