"""The review screen in the distributed mode, on the real broker and PostgreSQL: a partner's
message on its inbound Kafka topic (`<prefix>.inbound.usmp`) becomes a pathway command, the
risk engine raises an alert from the event the relay published, and the review already open in
Chromium shows it without a reload (graphql-transport-ws subscription), as the coordinator would
see it during a case conference.

Every worker of the distributed deployment runs in this process as its own thread (ingest,
relay, projections, risk, alerting), each on its own consumer group of the test's topics.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from eventsourcing.cipher import AESCipher
from playwright.sync_api import expect, sync_playwright

from gateway.serving import serve
from infra.kafka.cloudevents import CloudEvent
from services.settings import Settings
from tests.e2e.test_gateway_kafka import MemoryPositions
from tests.e2e.test_screen_browser import CHROMIUM, TIMEOUT_MS, Relais, sign_in


@pytest.fixture
def deployment(pg_url: str, pg_schema: str, kafka_bootstrap: str, kafka_admin: Any,
               tmp_path: Path) -> Iterator[tuple[Any, Settings]]:
    """The distributed runtime with every worker running, on topics of this test only."""
    from infra.kafka.producer import EventProducer
    from infra.kafka.publisher import KafkaPublisher
    from projections.registry import PROJECTIONS
    from services.bootstrap import bootstrap, is_pathway_event, topic
    from services.relay.relay import Relay

    prefix = f"t{uuid.uuid4().hex[:10]}"
    names = [f"{prefix}.pathway-events", f"{prefix}.alerts", f"{prefix}.deadletter", f"{prefix}.inbound.usmp"]
    kafka_admin.create_topics({n: {"num_partitions": 3, "replication_factor": 1} for n in names},
                              wait_for_metadata=True)
    # The development setting without a configured JWKS: the screen's development sign-in.
    settings = Settings(mode="distributed", database_url=pg_url, database_schema=pg_schema,
                        kafka_bootstrap=kafka_bootstrap, topic_prefix=prefix, state_dir=tmp_path,
                        cipher_key=AESCipher.create_key(num_bytes=32), environment="development",
                        read_wait_timeout_s=10.0)
    relais = bootstrap(settings)
    stop = threading.Event()
    producer = EventProducer(kafka_bootstrap, client_id="e2e-screen-relay")
    relay = Relay(relais.pathways.app, KafkaPublisher(producer, topic(settings, "pathway-events")), MemoryPositions(),
                  is_published=is_pathway_event)
    workers = [relais.ingest(["usmp"]), relais.risk_runner(), relais.alerting(),
               *(relais.projection(cls) for cls in PROJECTIONS.values())]
    threads = [threading.Thread(target=w.run, args=(stop,), daemon=True) for w in workers]
    threads.append(threading.Thread(target=relay.run, args=(stop,), daemon=True))
    for thread in threads:
        thread.start()
    try:
        yield relais, settings
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        producer.close(timeout=5)
        kafka_admin.delete_topics(names, raise_errors=False)


@pytest.fixture(autouse=True)
def _deadletter_reasons(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    yield
    for record in caplog.get_records("call"):  # a refused message says why in the failure report
        if getattr(record, "event", None) == "deadletter":
            print("dead-lettered:", getattr(record, "reason", ""))


def test_a_partner_message_on_the_inbound_kafka_topic_raises_an_alert_that_appears_on_the_open_review(
        deployment: tuple[Any, Settings]) -> None:
    from gateway.app import create_app
    from infra.kafka.producer import EventProducer
    from services.bootstrap import topic

    relais, settings = deployment
    with serve(create_app(relais)) as base:
        api = Relais(base)
        usmp = api.token("usmp", "medecin")
        pid = str(uuid.uuid4())
        api.send(usmp, "OpenDetentionPathway", {"pathwayId": pid, "personRef": "P-kafka", "territory": "76",
                                                "leadAgency": "usmp", "prison": "CP Rouen",
                                                "releaseDate": (date.today() + timedelta(days=40)).isoformat()})
        version = api.send(usmp, "AddAgency", {"pathwayId": pid, "agency": "spip", "role": "SOCIAL_SUPPORT"})
        api.settled(usmp, pid, version)

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            context = browser.new_context(base_url=base, locale="fr-FR", timezone_id="Europe/Paris",
                                          viewport={"width": 1280, "height": 900})
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            sign_in(page, "usmp", "medecin")
            page.get_by_role("link", name="P-kafka").click()
            expect(page.locator("body[data-review-ready]")).to_have_count(1)
            alerts = page.locator("#s-alerts").locator("..")
            known = set(alerts.locator("li.alert").evaluate_all("items => items.map(i => i.dataset.alert)"))
            page.evaluate("window.__noReload = true")

            # The USMP's information system says the person's phone number changed, on its topic.
            message = CloudEvent(
                id=f"usmp-si-{uuid.uuid4()}", source="/usmp/si-usmp", type="fr.relais.inbound.RecordPhoneStatus.v1",
                subject=pid, partitionkey=pid, time=datetime.now(timezone.utc),
                data={"actor": {"professional": "usmp-ide-3", "role": "infirmier"},
                      "occurred_at": datetime.now(timezone.utc).isoformat(), "status": "changed"})
            partner = EventProducer(settings.kafka_bootstrap, client_id="partner-usmp")
            try:
                partner.send_all(topic(settings, "inbound.usmp"), [message])
            finally:
                partner.close(timeout=5)

            # Within the deadline, with no reload: the announcement, the new alert card, its action.
            expect(page.locator(".toast")).to_contain_text("Nouvelle alerte", timeout=60_000)
            expect(alerts.get_by_role("heading", level=2)).to_have_text(f"Alertes ouvertes ({len(known) + 1})",
                                                                        timeout=60_000)
            assert page.evaluate("window.__noReload") is True
            (raised,) = set(alerts.locator("li.alert").evaluate_all("items => items.map(i => i.dataset.alert)")) - known
            card = alerts.locator(f'li.alert[data-alert="{raised}"]')
            expect(card).to_contain_text("Prendre en compte")
            browser.close()

        # The alert came from the partner's message: the pathway's last fact is the USMP's.
        answer = httpx.post(f"{base}/graphql", headers={"Authorization": f"Bearer {usmp}"}, timeout=30, json={
            "query": "query($id: UUID!) { pathway(id: $id) { alerts { alertId ruleId } } }", "variables": {"id": pid}})
        rules = {a["alertId"]: a["ruleId"] for a in answer.json()["data"]["pathway"]["alerts"]}
        assert rules[raised] == "contact-lost"
