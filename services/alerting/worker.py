"""Automated alerting for partner systems that hold no websocket open.

Noise control first (`should_push`, services/alerting/digest.py): only changes of alerts at or
above the territory's `push_min_severity` are pushed as below; the others wait for the owner's
daily digest.

Every alert change on `relais.pathway-events` (AlertRaised / Acknowledged / Escalated /
Resolved) becomes, for each agency taking part in the pathway (and the owner or escalation
target), one CloudEvent on `relais.alerts` (key = pathway id, extension `agency` = the
receiving agency) carrying the alert's personal fields only as that agency may see them
(gateway.views.agency_alert_view, on the read models once they applied the change's version:
care team, or consent for the category), and, where the
agency registered a webhook, one signed POST (services.alerting.webhooks: Standard Webhooks signature, retried
with backoff, deduplicated by delivery id = alert change id + agency).

Every push is audited per receiving agency, as a read by that agency would be
(gateway.audit): operation `alerting.kafka` once the batch is on the alerts topic,
`alerting.webhook` after each delivery (outcome 0 when the receiver answered 2xx, 4 with the
reason otherwise), with the categories the message REALLY carries (the fields left in once
redacted for that agency). The record is written before the delivery is marked done (and the
Kafka batch's position committed), so a crash repeats a push and its record rather than leaving
a push without one; the record names the receiving agency, so its own DPO reads it.

In distributed mode it runs on the consumer runner (:class:`AlertingHandler`, group
`<prefix>-alerting`): position in PostgreSQL in the batch's transaction, dead-letter with the
reason, backoff. A restart may publish a change again (same `ce_id`: consumers drop it) but
never delivers a webhook twice once it was acknowledged (deliveries table). In embedded mode
it follows the in-process bus (services.bootstrap.EmbeddedRuntime).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from gateway.audit import EXECUTE, MINOR_FAILURE, SUCCESS, AuditLog, AuditRecord
from gateway.readside import ReadSide
from gateway.subscriptions import AlertChangeKind, FeedItem, feed_item, wait_until_applied
from gateway.views import agency_alert_view
from infra.kafka.cloudevents import CloudEvent
from infra.kafka.consumer import ConsumedMessage
from services.alerting.webhooks import WebhookRegistry, deliver

#: Who the audit names as having sent a push (no professional: the platform's alerting).
AUDIT_PROFESSIONAL, AUDIT_ROLE = "relais-alerting", "systeme"
#: Purpose of use of a push: care coordination (gateway.audit.PURPOSES).
AUDIT_PURPOSE = "CAREMGT"

log = logging.getLogger("relais.alerting")
SOURCE = "/relais/alerting"
TYPE = "fr.relais.alert.{change}.v1"


def delivery_id(item: FeedItem, agency: str) -> str:
    return str(uuid5(NAMESPACE_URL, f"relais-alert:{item.event_id}:{agency}"))


def alert_payload(item: FeedItem, agency: str, read: ReadSide,
                  returned: set[Any] | None = None) -> dict[str, Any] | None:
    """The alert change as `agency` may see it; None if the agency does not take part. The
    categories of the personal fields it carries are added to `returned`."""
    view = agency_alert_view(read, item.pathway_id, item.alert_id, agency, returned)
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


def push_record(agency: str, operation: str, pathway_id: str, categories: set[Any], outcome: str = SUCCESS,
                detail: str | None = None) -> AuditRecord:
    """The audit record of one push to `agency` (see the module doc)."""
    return AuditRecord(professional=AUDIT_PROFESSIONAL, agency=agency, role=AUDIT_ROLE, action=EXECUTE,
                       operation=operation, purpose=AUDIT_PURPOSE, pathway_id=pathway_id,
                       categories=tuple(sorted(str(getattr(c, "value", c)) for c in categories)),
                       outcome=outcome, detail=detail)


@dataclass(frozen=True)
class _Push:
    agency: str
    ident: str
    payload: dict[str, Any]
    categories: frozenset[Any]


class AlertingWorker:
    def __init__(self, read: ReadSide, publish: Callable[[list[CloudEvent]], None],
                 webhooks: WebhookRegistry | None = None, post: Callable[..., Any] | None = None,
                 retry_base_delay: float = 0.5, should_push: Callable[[FeedItem], bool] | None = None, *,
                 audit: AuditLog | None = None, development: bool = False,
                 resolve: Callable[[str], list[str]] | None = None) -> None:
        self.read, self.publish, self.webhooks = read, publish, webhooks
        self.post, self.retry_base_delay = post, retry_base_delay
        #: Noise control (services.alerting.digest.PushPolicy): a change it declines waits for
        #: the owner's daily digest. None: every change is pushed.
        self.should_push = should_push
        # `development`: webhooks may point at local receivers (services.alerting.webhooks.pin).
        self.audit, self.development, self.resolve = audit, development, resolve

    def _audit(self, records: list[AuditRecord]) -> None:
        if self.audit is not None and records:
            self.audit.write(records)

    def handle(self, events: Iterable[CloudEvent]) -> int:
        """Publish and deliver every alert change among `events`; return how many messages."""
        items = [i for i in (feed_item(e) for e in events) if i is not None]
        if not items:
            return 0
        out: list[CloudEvent] = []
        pushes: list[_Push] = []
        for item in items:
            wait_until_applied(self.read, item)
            if self.should_push is not None and not self.should_push(item):
                continue
            for agency in recipients(self.read, item):
                returned: set[Any] = set()
                payload = alert_payload(item, agency, self.read, returned)
                if payload is None:
                    continue
                ident = delivery_id(item, agency)
                out.append(CloudEvent(id=ident, source=SOURCE, type=TYPE.format(change=item.change),
                                      subject=str(item.pathway_id), partitionkey=str(item.pathway_id),
                                      time=item.occurred_at, data=payload,
                                      extensions={"agency": agency.lower()[:60] if agency.isascii() else "x",
                                                  "alertid": str(item.alert_id)}))
                pushes.append(_Push(agency, ident, payload, frozenset(returned)))
        if out:
            self.publish(out)
            self._audit([push_record(p.agency, "alerting.kafka", p.payload["pathway_id"], set(p.categories))
                         for p in pushes])
        if self.webhooks is not None:
            for push in pushes:
                hook = self.webhooks.get(push.agency)
                if hook is None or self.webhooks.delivered(push.agency, push.ident):
                    continue
                result = deliver(hook, push.ident, push.payload, post=self.post, base_delay=self.retry_base_delay,
                                 development=self.development, resolve=self.resolve)
                self._audit([push_record(push.agency, "alerting.webhook", push.payload["pathway_id"],
                                         set(push.categories) if result.sent else set(),
                                         SUCCESS if result else MINOR_FAILURE, result.reason)])
                if result:
                    self.webhooks.mark_delivered(push.agency, push.ident)
                else:
                    log.warning("webhook delivery failed",
                                extra={"agency": push.agency, "delivery": push.ident, "reason": result.reason})
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
