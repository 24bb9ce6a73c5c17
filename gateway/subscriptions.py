"""Subscriptions over graphql-transport-ws: alert changes for the caller's agency.

The feed: every AlertRaised / AlertAcknowledged / AlertEscalated / AlertResolved / AlertUpdated /
AlertDismissed event of `relais.pathway-events` (Kafka in distributed mode, the in-process bus in embedded mode),
kept in arrival order with its position (the event's notification id in the event store).
At start the gateway re-reads the topic from the beginning, so after a restart a client
that subscribes with `after: <last cursor it saw>` receives every change past that cursor:
nothing is lost. What each subscriber receives is decided as for a query, on the read models
once they have applied the event's version of the pathway (gateway.readside `wait_for`): its
agency must take part in the pathway and the alert's fields go through the same redaction, on
the current participants and consents, so a consent withdrawn or an agency removed a moment
ago is honoured by a subscription already open. The alert is shown as the read model holds
it at delivery (at that version or later).

A subscription lives no longer than the token its connection was opened with: the expiry is
checked before each delivery and bounds each wait, and at expiry the subscription ends with a
French error (the connection itself is then closed with 4401, see gateway.app).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import StrEnum
from typing import Any
from uuid import UUID

import strawberry
from strawberry.types import Info

from gateway import types as t
from gateway.context import Context
from gateway.hardening import PublicError
from gateway.permissions import CASE_ROLES, decide
from gateway.readside import ALERT_PROJECTIONS, NotAppliedYet, ReadSide
from gateway.views import alert_view
from infra.kafka.cloudevents import CloudEvent

log = logging.getLogger("relais.gateway.subscriptions")

ALERT_EVENTS = {"AlertRaised": "raised", "AlertAcknowledged": "acknowledged", "AlertEscalated": "escalated",
                "AlertResolved": "resolved", "AlertUpdated": "updated", "AlertDismissed": "dismissed"}


@strawberry.enum(description="Nature du changement d'alerte.")
class AlertChangeKind(StrEnum):
    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"
    RESOLVED = "resolved"
    #: Owner, text or severity re-evaluated (a participant joined, the deadline nears).
    UPDATED = "updated"
    DISMISSED = "dismissed"


@dataclass(frozen=True)
class FeedItem:
    position: int
    event_id: str
    pathway_id: UUID
    alert_id: UUID
    change: str
    version: int
    occurred_at: datetime


def alert_event_name(event_type: str) -> str | None:
    """`fr.relais.pathway.AlertRaised.v1` -> `AlertRaised` (None for other events)."""
    parts = event_type.split(".")
    name = parts[-2] if len(parts) >= 2 else ""
    return name if name in ALERT_EVENTS else None


def feed_item(event: CloudEvent) -> FeedItem | None:
    name = alert_event_name(event.type)
    data = event.data if isinstance(event.data, dict) else None
    if name is None or data is None:
        return None
    try:
        return FeedItem(position=int(data["notification_id"]), event_id=event.id,
                        pathway_id=UUID(str(data["originator_id"])), alert_id=UUID(str(data["alert_id"])),
                        change=ALERT_EVENTS[name], version=int(data["originator_version"]),
                        occurred_at=event.time or datetime.now(timezone.utc))
    except (KeyError, ValueError, TypeError):
        log.warning("alert event %s without the expected fields", event.id)
        return None


class AlertFeed:
    """Alert changes in arrival order, deduplicated by event id; async waiters are woken
    from whichever thread appends (bus subscriber, Kafka consumer)."""

    def __init__(self) -> None:
        self._items: list[FeedItem] = []
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def on_event(self, event: CloudEvent) -> None:
        item = feed_item(event)
        if item is None:
            return
        with self._lock:
            if item.event_id in self._seen:
                return
            self._seen.add(item.event_id)
            self._items.append(item)
            waiters = list(self._waiters)
        for loop, flag in waiters:
            try:
                loop.call_soon_threadsafe(flag.set)
            except RuntimeError:  # loop closed
                self._waiters.discard((loop, flag))

    def __len__(self) -> int:
        return len(self._items)

    def since(self, index: int) -> list[FeedItem]:
        with self._lock:
            return self._items[index:]

    async def wait(self, index: int, timeout: float) -> None:
        if len(self._items) > index:
            return
        flag = asyncio.Event()
        waiter = (asyncio.get_running_loop(), flag)
        with self._lock:
            self._waiters.add(waiter)
        try:
            if len(self._items) > index:
                return
            try:
                await asyncio.wait_for(flag.wait(), timeout)
            except TimeoutError:
                pass
        finally:
            with self._lock:
                self._waiters.discard(waiter)


# --------------------------------------------------------------------------- feeding
def follow_kafka(feed: AlertFeed, bootstrap: str, topic: str, stop: threading.Event) -> None:
    """Read `topic` from the beginning, then follow it, into `feed` (no consumer group: every
    gateway instance reads everything; the feed is rebuilt on restart)."""
    from kafka import KafkaConsumer, TopicPartition

    from infra.kafka.cloudevents import MalformedMessage, decode
    from infra.retry import Backoff

    backoff = Backoff("gateway alert feed", log, initial=1.0, maximum=10.0)
    while not stop.is_set():
        consumer = None
        try:
            consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None,
                                     client_id="relais-gateway-alerts", consumer_timeout_ms=1000)
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                stop.wait(1.0)
                continue
            assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
            consumer.assign(assigned)
            consumer.seek_to_beginning(*assigned)
            backoff.succeeded()
            while not stop.is_set():
                batches = consumer.poll(timeout_ms=200, max_records=2000)
                for records in batches.values():
                    for record in records:
                        try:
                            feed.on_event(decode(record.key, record.value, record.headers))
                        except MalformedMessage:
                            continue
        except Exception as exc:  # noqa: BLE001 - broker restarting: retry
            backoff.wait(stop, exc)
        finally:
            if consumer is not None:
                consumer.close()


# --------------------------------------------------------------------------- GraphQL
@strawberry.type(description="Un changement d'alerte. `cursor` : à repasser en `after` pour reprendre.")
class AlertChange:
    cursor: str
    change: AlertChangeKind
    occurred_at: datetime
    alert: t.Alert


def wait_until_applied(read: ReadSide, item: FeedItem, stop: threading.Event | None = None) -> bool:
    """Block until the alert and access read models applied `item`'s version of its pathway
    (retrying past each deadline: a change is never skipped); False if `stop` was set."""
    while stop is None or not stop.is_set():
        try:
            read.wait_for(item.pathway_id, item.version, ALERT_PROJECTIONS)
            return True
        except NotAppliedYet:
            log.warning("read models behind the alert feed; still waiting",
                        extra={"pathway": str(item.pathway_id), "version": item.version})
    return False


def _remaining(principal: Any) -> float:
    """Seconds left on the caller's token; a subscription ends when none are."""
    if principal.expires_at is None:
        return float("inf")
    remaining = principal.expires_at - time.time()
    if remaining <= 0:
        raise PublicError("Jeton expiré : la souscription est terminée ; reconnectez-vous avec un nouveau jeton.",
                          "UNAUTHENTICATED")
    return remaining


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Alertes déclenchées, mises à jour, prises en compte, escaladées, "
                                          "classées sans suite ou levées sur les parcours de votre structure. "
                                          "Reprise sans perte : `after` = dernier curseur reçu.")
    async def alert_changes(self, info: Info, after: str | None = None, pathway_id: UUID | None = None,
                            only_owned: bool = False) -> AsyncGenerator[AlertChange, None]:
        context: Context = info.context
        principal = context.require(*CASE_ROLES)
        _remaining(principal)
        feed: AlertFeed | None = context.services.alerts
        if feed is None:
            raise PublicError("Flux d'alertes indisponible sur cette instance.", "UNAVAILABLE")
        if after is not None:
            if not after.isdigit() or len(after) > 18:
                raise PublicError("Curseur « after » invalide.", "BAD_CURSOR")
            floor, index = int(after), 0
        else:
            floor, index = -1, len(feed)  # live only
        while True:
            items = feed.since(index)
            index += len(items)
            for item in items:
                if item.position <= floor or (pathway_id is not None and item.pathway_id != pathway_id):
                    continue
                read = context.services.read
                await asyncio.to_thread(wait_until_applied, read, item)
                access = (await asyncio.to_thread(read.access, [item.pathway_id]))[item.pathway_id]
                disclosure = decide(principal, access)
                if not disclosure.can_see_pathway:
                    continue
                alert = await asyncio.to_thread(read.alert, item.pathway_id, item.alert_id)
                if alert is None:
                    continue
                if only_owned and principal.agency not in (alert["owner_agency"], alert["escalated_to"]):
                    continue
                _remaining(principal)
                returned: set = set()
                view = alert_view(alert, disclosure, returned)
                context.audit_read("subscription.alertChanges", item.pathway_id, returned, disclosure=disclosure)
                await context.flush_audit()
                yield AlertChange(cursor=str(item.position), change=AlertChangeKind(item.change),
                                  occurred_at=item.occurred_at, alert=view)
            await feed.wait(index, timeout=min(15.0, _remaining(principal)))
            _remaining(principal)
