"""Referrals nobody answers expire: a referral holding a directory place and still `requested`
after the territory's `referral_expiry_days` (30 by default, as DORA) is cancelled by Relais,
with the reason, on the pathway (the referring agency sees it on its timeline; the receiving
agency's link stops serving); its place then comes back to the service's quota
(`PlaceReturns`, from the pathway stream).

`sweep(now)` is idempotent (the command id derives from the referral): run it from any process
as often as wished; `ExpiryLoop` runs it every minute.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from uuid import uuid5

from eventsourcing.application import AggregateNotFoundError

from domain.rules.settings import TerritorySettings
from domain.values import ReferralStatus
from infra.retry import Backoff
from services.directory.service import DIRECTORY_ACTOR, REACTION_NAMESPACE, Directory
from services.pathways.handler import CommandResult, PathwaysHandler

log = logging.getLogger("relais.directory.expiry")


class ReferralExpiry:
    def __init__(self, directory: Directory, pathways: PathwaysHandler,
                 territories: Mapping[str, TerritorySettings] | None = None) -> None:
        self.directory = directory
        self.pathways = pathways
        self.territories = territories or {}

    def settings_for(self, territory: str) -> TerritorySettings:
        return self.territories.get(territory) or TerritorySettings(territory=territory)

    def sweep(self, now: datetime) -> list[CommandResult]:
        """Cancel every expired referral holding a place; returns the answers of the commands."""
        sent = []
        for service in self.directory.index.services():
            for place in list(service.places.values()):
                try:
                    pathway = self.pathways.app.get_pathway(place.pathway_id)
                except AggregateNotFoundError:  # a place taken for a pathway this store does not hold
                    continue
                referral = pathway.referrals.get(place.referral_id)
                if referral is None or referral.status is not ReferralStatus.REQUESTED:
                    continue
                days = self.settings_for(pathway.territory).referral_expiry_days
                if now < referral.made_at + timedelta(days=days):
                    continue
                result = self.pathways.handle_payload("UpdateReferralStatus", {
                    "command_id": uuid5(REACTION_NAMESPACE, f"expired:{place.referral_id}"),
                    "pathway_id": place.pathway_id, "actor": DIRECTORY_ACTOR, "occurred_at": now,
                    "referral_id": place.referral_id, "status": ReferralStatus.CANCELLED.value,
                    "reason": f"Orientation expirée : sans réponse de {service.details.name} depuis {days} jours."})
                log.info("referral expired", extra={"event": "referral_expired", "pathway": str(place.pathway_id),
                                                    "accepted": result.accepted})
                sent.append(result)
        return sent


class ExpiryLoop:
    """`sweep` every `interval` seconds until stopped (a Worker of the runtimes)."""

    def __init__(self, expiry: ReferralExpiry, clock: Callable[[], datetime], interval: float = 60.0) -> None:
        self.expiry, self.clock, self.interval = expiry, clock, interval

    def run(self, stop: threading.Event) -> None:
        backoff = Backoff("directory expiry", log, initial=1.0, maximum=60.0)
        while not stop.is_set():
            try:
                self.expiry.sweep(self.clock())
                backoff.succeeded()
            except Exception as exc:  # noqa: BLE001 - the next sweep tries again; nothing half-done
                backoff.wait(stop, exc)
                continue
            stop.wait(self.interval)


__all__ = ["ExpiryLoop", "ReferralExpiry"]
