"""Referrals nobody answers are reminded, then expire (DORA: reminded after 10 days, expired
after 30; per territory: `referral_reminder_days`, `referral_expiry_days`).

- Reminder: a referral holding a directory place and still `requested` after the reminder
  period gets one `ReferralReminded` on the receiving service's stream (its owner sees it; the
  directory's changes go on Kafka like pathway events), naming the referring agency, which is
  told by the same event.
- Expiry: after the expiry period it is cancelled by Relais, with the reason, on the pathway
  (the referring agency sees it on its timeline; the receiving agency's link stops serving);
  its place then comes back to the service's quota with the reason (`PlaceReturns`, from the
  pathway stream): the receiving side sees it as `PlaceReturned`.

`sweep(now)` is idempotent (the command id derives from the referral): run it from any process
as often as wished; `ExpiryLoop` runs it every minute.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import uuid5

from eventsourcing.application import AggregateNotFoundError

from domain.directory import Place, Service
from domain.rules.settings import TerritorySettings, settings_for
from domain.values import ReferralStatus
from infra.retry import Backoff
from services.directory.handler import DirectoryResult
from services.directory.service import DIRECTORY_ACTOR, REACTION_NAMESPACE, Directory
from services.pathways.handler import CommandResult, PathwaysHandler

log = logging.getLogger("relais.directory.expiry")


class ReferralExpiry:
    """`settings` is the SettingsSource the risk engine reads (the version in force of the
    territory): one source for every delay of a territory."""

    def __init__(self, directory: Directory, pathways: PathwaysHandler,
                 settings: Callable[[str], TerritorySettings] | None = None) -> None:
        self.directory = directory
        self.pathways = pathways
        self.settings = settings or (lambda territory: settings_for(territory))

    def sweep(self, now: datetime) -> list[CommandResult | DirectoryResult]:
        """Remind, then cancel, every unanswered referral holding a place; returns the answers
        of the commands sent (reminders first in time, so a sweep after both periods sends the
        expiry only: a reminder the day it expires would tell nothing new)."""
        sent: list[CommandResult | DirectoryResult] = []
        for service in self.directory.index.services():
            for place in list(service.places.values()):
                try:
                    pathway = self.pathways.app.get_pathway(place.pathway_id)
                except AggregateNotFoundError:  # a place taken for a pathway this store does not hold
                    continue
                referral = pathway.referrals.get(place.referral_id)
                if referral is None or referral.status is not ReferralStatus.REQUESTED:
                    continue
                territory = self.settings(pathway.territory)
                waited = now - referral.made_at
                if waited >= timedelta(days=territory.referral_expiry_days):
                    sent.append(self._expire(service, place, territory.referral_expiry_days, now))
                elif waited >= timedelta(days=territory.referral_reminder_days) and place.reminded_at is None:
                    sent.append(self._remind(service, place, territory.referral_reminder_days, now))
        return sent

    def _remind(self, service: Service, place: Place, days: int, now: datetime) -> DirectoryResult:
        result = self.directory.handler.handle_payload("RemindReferral", {
            "command_id": uuid5(REACTION_NAMESPACE, f"reminded:{place.referral_id}"), "service_id": service.id,
            "actor": DIRECTORY_ACTOR, "occurred_at": now, "referral_id": place.referral_id, "days": days})
        log.info("referral reminded", extra={"event": "referral_reminded", "pathway": str(place.pathway_id),
                                             "service": str(service.id), "accepted": result.accepted})
        return result

    def _expire(self, service: Service, place: Place, days: int, now: datetime) -> CommandResult:
        result = self.pathways.handle_payload("UpdateReferralStatus", {
            "command_id": uuid5(REACTION_NAMESPACE, f"expired:{place.referral_id}"),
            "pathway_id": place.pathway_id, "actor": DIRECTORY_ACTOR, "occurred_at": now,
            "referral_id": place.referral_id, "status": ReferralStatus.CANCELLED.value,
            "reason": f"Orientation expirée : sans réponse de {service.details.name} depuis {days} jours."})
        log.info("referral expired", extra={"event": "referral_expired", "pathway": str(place.pathway_id),
                                            "accepted": result.accepted})
        return result


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
