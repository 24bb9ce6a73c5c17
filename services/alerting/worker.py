"""Automated alerting for partner systems that hold no websocket open.

Every alert change on `relais.pathway-events` (AlertRaised / Acknowledged / Escalated /
Resolved) becomes, for each agency taking part in the pathway (and the owner or escalation
target), one CloudEvent on `relais.alerts` (key = pathway id, extension `agency` = the
receiving agency) carrying the alert's personal fields only as that agency may see them
(gateway.views.agency_alert_view, on the read models once they applied the change's version:
care team, or consent for the category), and, where the
agency registered a webhook, one signed POST (services.alerting.webhooks: Standard Webhooks signature, retried
with backoff, deduplicated by delivery id = alert change id + agency).

In distributed mode it runs on the consumer runner (:class:`AlertingHandler`, group
`<prefix>-alerting`): position in PostgreSQL in the batch's transaction, dead-letter with the
reason, backoff. A restart may publish a change again (same `ce_id`: consumers drop it) but
never delivers a webhook twice once it was acknowledged (deliveries table). In embedded mode
it follows the in-process bus (services.bootstrap.EmbeddedRuntime).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from gateway.readside import ReadSide
from gateway.subscriptions import AlertChangeKind, FeedItem, feed_item, wait_until_applied
from gateway.views import agency_alert_view
from infra.kafka.cloudevents import CloudEvent
from infra.kafka.consumer import ConsumedMessage
from services.alerting.webhooks import WebhookRegistry, deliver

log = logging.getLogger("relais.alerting")
SOURCE = "/relais/alerting"
TYPE = "fr.relais.alert.{change}.v1"


def delivery_id(item: FeedItem, agency: str) -> str:
    return str(uuid5(NAMESPACE_URL, f"relais-alert:{item.event_id}:{agency}"))


def alert_payload(item: FeedItem, agency: str, read: ReadSide) -> dict[str, Any] | None:
    """The alert change as `agency` may see it; None if the agency does not take part."""
    view = agency_alert_view(read, item.pathway_id, item.alert_id, agency)
    if view is None:
        return None
    return {
        "change": AlertChangeKind(item.change).value, "position": item.position, "pathway_id": str(item.pathway_id),
        "alert_id": str(view.alert_id), "rule_id": view.rule_id, "rule_label": view.rule_label,
        "category": view.info_category.value, "severity": view.severity.value, "status": view.status.value,
        "owner_agency": view.owner_agency, "escalated_to": view.escalated_to, "raised_at": view.raised_at.isoformat(),
        "subject": view.subject, "suggested_action": view.suggested_action,
        "escalation_reason": view.escalation_reason, "resolution_reason": view.resolution_reason,
        "redactions": [{"field": r.field, "category": r.category.value, "reason": r.reason.value} for r in view.redactions],
        "receiving_agency": agency,
        # The consent version this disclosure was decided on (CSP D1110-3-1).
        "consent_version": view.consent_version,
    }


def recipients(read: ReadSide, item: FeedItem) -> list[str]:
    """The agencies taking part in the pathway, and the alert's owner and escalation target."""
    access = read.access([item.pathway_id])[item.pathway_id]
    alert = read.alert(item.pathway_id, item.alert_id)
    extra = {alert["owner_agency"], alert["escalated_to"]} if alert is not None else set()
    return sorted((set(access.participants) | extra) - {None, "relais"})


class AlertingWorker:
    def __init__(self, read: ReadSide, publish: Callable[[list[CloudEvent]], None],
                 webhooks: WebhookRegistry | None = None, post: Callable[..., Any] | None = None,
                 retry_base_delay: float = 0.5) -> None:
        self.read, self.publish, self.webhooks = read, publish, webhooks
        self.post, self.retry_base_delay = post, retry_base_delay

    def handle(self, events: Iterable[CloudEvent]) -> int:
        """Publish and deliver every alert change among `events`; return how many messages."""
        items = [i for i in (feed_item(e) for e in events) if i is not None]
        if not items:
            return 0
        out: list[CloudEvent] = []
        deliveries: list[tuple[str, str, dict[str, Any]]] = []
        for item in items:
            wait_until_applied(self.read, item)
            for agency in recipients(self.read, item):
                payload = alert_payload(item, agency, self.read)
                if payload is None:
                    continue
                ident = delivery_id(item, agency)
                out.append(CloudEvent(id=ident, source=SOURCE, type=TYPE.format(change=item.change),
                                      subject=str(item.pathway_id), partitionkey=str(item.pathway_id),
                                      time=item.occurred_at, data=payload,
                                      extensions={"agency": agency.lower()[:60] if agency.isascii() else "x",
                                                  "alertid": str(item.alert_id)}))
                deliveries.append((agency, ident, payload))
        if out:
            self.publish(out)
        if self.webhooks is not None:
            for agency, ident, payload in deliveries:
                hook = self.webhooks.get(agency)
                if hook is None or self.webhooks.delivered(agency, ident):
                    continue
                if deliver(hook, ident, payload, post=self.post, base_delay=self.retry_base_delay):
                    self.webhooks.mark_delivered(agency, ident)
                else:
                    log.warning("webhook delivery failed", extra={"agency": agency, "delivery": ident})
        return len(out)


class AlertingHandler:
    """The alerting worker as a consumer runner's handler (infra/kafka/consumer.py): the
    runner records its position in PostgreSQL in the batch's transaction, sends a record that
    is not a CloudEvent to the dead-letter topic with the reason, and backs off on a failure
    (broker or database down) instead of dropping the batch. The batch's alert changes are
    published, and delivered to webhooks, before that transaction commits: a crash in between
    publishes them again (same `ce_id`: consumers drop it) and the deliveries table keeps a
    webhook from being called twice once it answered."""

    def __init__(self, worker: AlertingWorker) -> None:
        self.worker = worker

    def handle(self, conn: Any, message: ConsumedMessage) -> None:
        self.handle_batch(conn, [message])

    def handle_batch(self, conn: Any, messages: Sequence[ConsumedMessage]) -> None:
        self.worker.handle([m.event for m in messages if m.event is not None])
