"""Automated alerting: one CloudEvent per receiving agency on relais.alerts (key = pathway id,
fields as that agency may see them), signed webhooks retried with backoff, deduplicated."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import pytest
import standardwebhooks

from gateway.readside import ReadSide, sqlite_readmodels
from projections.embedded import EmbeddedProjections
from services.alerting.webhooks import SecretBox, SqliteWebhookRegistry, deliver
from services.alerting.worker import AlertingWorker
from services.bootstrap import build_pathways_application
from services.pathways import PathwaysHandler
from services.relay.wire import to_cloud_event
from services.settings import Settings


def PUBLIC(host: str) -> list[str]:  # noqa: N802 - a constant-like resolver
    """Every name resolves to one public address (documentation range of RFC 5737 is not global)."""
    return ["93.184.216.34"]


class Response:
    def __init__(self, status: int) -> None:
        self.status_code = status


@pytest.fixture
def store(tmp_path):
    app = build_pathways_application(Settings(state_dir=tmp_path))
    return app, PathwaysHandler(app), tmp_path


def read_models(tmp_path, events) -> ReadSide:
    """The projections' read models built from `events` (what the embedded mode runs on the bus)."""
    path = tmp_path / "read_models.sqlite3"
    projections = EmbeddedProjections(path)
    for event in events:
        projections.handle(event)
    projections.close()
    return ReadSide(sqlite_readmodels(str(path)))


def send(handler, name, pathway_id, actor="usmp", **fields):
    result = handler.handle_payload(name, {"command_id": str(uuid.uuid4()), "pathway_id": str(pathway_id),
                                           "actor": {"agency": actor, "professional": "p", "role": "medecin"},
                                           "occurred_at": datetime.now(timezone.utc).isoformat(), **fields})
    assert result.accepted, result.rejection


def wire_events(app):
    return [to_cloud_event(app.mapper.to_domain_event(n), notification_id=n.id, pathway_kind="DetentionPathway")
            for n in app.recorder.select_notifications(start=0, limit=1000, inclusive_of_start=False)
            if n.topic.startswith("domain.")]


def scenario(handler):
    pid = uuid.uuid4()
    send(handler, "OpenDetentionPathway", pid, person_ref="P-1", territory="76", lead_agency="usmp", prison="CP")
    send(handler, "AddAgency", pid, agency="siao", role="housing")
    send(handler, "AddAgency", pid, agency="spip", role="justice")
    send(handler, "GrantConsent", pid, agency="siao", categories=["social"], collected_by="p-recueil", informed_by="oral")
    alert = uuid.uuid4()
    send(handler, "RaiseAlert", pid, actor="relais", alert_id=str(alert), rule_id="exit-without-housing",
         subject="pathway", triggering_event_ids=[], owner_agency="siao",
         suggested_action="Confirmer un hébergement avant la sortie", severity="high")
    return pid, alert


def test_each_participating_agency_gets_the_alert_as_it_may_see_it(store):
    app, handler, tmp_path = store
    pid, alert = scenario(handler)
    published = []
    events = wire_events(app)
    worker = AlertingWorker(read_models(tmp_path, events), published.extend)
    assert worker.handle(events) == 3
    by_agency = {e.data["receiving_agency"]: e for e in published}
    assert set(by_agency) == {"usmp", "siao", "spip"}
    assert all(e.partitionkey == str(pid) and e.key == str(pid).encode() for e in published)
    assert by_agency["siao"].data["suggested_action"] == "Confirmer un hébergement avant la sortie"  # consented
    assert by_agency["usmp"].data["suggested_action"] is not None  # care team
    assert by_agency["spip"].data["suggested_action"] is None  # outside the care team, no consent
    assert by_agency["spip"].data["redactions"][0]["reason"] == "consent"
    assert len({e.id for e in published}) == 3
    assert {e.data["consent_version"] for e in published} == {1}  # the version in force, named


def test_the_next_push_after_a_withdrawal_hides_the_category_and_names_the_new_version(store):
    app, handler, tmp_path = store
    pid, alert = scenario(handler)
    send(handler, "WithdrawConsent", pid, agency="siao", categories=["social"], collected_by="p-recueil",
         informed_by="oral")
    send(handler, "AcknowledgeAlert", pid, actor="siao", alert_id=str(alert))
    published = []
    events = wire_events(app)
    AlertingWorker(read_models(tmp_path, events), published.extend).handle(events[-1:])
    [to_siao] = [e for e in published if e.data["receiving_agency"] == "siao"]
    assert to_siao.data["change"] == "acknowledged"
    assert to_siao.data["suggested_action"] is None and to_siao.data["consent_version"] == 2


def test_webhooks_are_signed_retried_and_delivered_once(store):
    app, handler, tmp_path = store
    scenario(handler)
    registry = SqliteWebhookRegistry(box=SecretBox("unit-test-key"))
    secret = registry.register("siao", "https://siao.example/hooks/relais")
    calls = []
    answers = iter([Response(503), Response(200)])

    def post(url, content, headers, timeout, extensions):  # noqa: ANN001, ANN202
        calls.append((url, content, headers))
        return next(answers, Response(200))

    events = wire_events(app)
    worker = AlertingWorker(read_models(tmp_path, events), lambda events: None, registry, post=post,
                            retry_base_delay=0, resolve=PUBLIC)
    worker.handle(events)
    assert len(calls) == 2  # one 503, one success
    url, body, headers = calls[-1]
    assert secret.startswith("whsec_")
    assert standardwebhooks.Webhook(secret).verify(body, headers)["rule_id"] == "exit-without-housing"
    assert headers["webhook-id"] == calls[0][2]["webhook-id"]  # a retry is the same message: same id
    worker.handle(events)  # the same alert change again (a redelivery): no second POST
    assert len(calls) == 2


def test_a_receiver_refusing_with_4xx_is_not_retried():
    from services.alerting.webhooks import Webhook

    calls = []
    ok = deliver(Webhook("a", "https://x", "s"), "d1", {"x": 1}, resolve=PUBLIC,
                 post=lambda *a, **k: calls.append(1) or Response(410), sleep=lambda s: None)
    assert not ok and ok.reason == "refusé par le destinataire (HTTP 410)" and len(calls) == 1


def test_backoff_doubles_between_attempts_give_or_take_the_jitter():
    from services.alerting.webhooks import Webhook

    waits = []
    deliver(Webhook("a", "https://x", "s"), "d1", {}, post=lambda *a, **k: Response(500), attempts=4,
            base_delay=0.5, sleep=waits.append, resolve=PUBLIC)
    assert len(waits) == 3
    assert all(0.8 * d <= w <= 1.2 * d for w, d in zip(waits, [0.5, 1.0, 2.0], strict=True))


def test_webhook_secrets_are_encrypted_at_rest(tmp_path):
    import sqlite3

    path = tmp_path / "webhooks.sqlite3"
    registry = SqliteWebhookRegistry(path, box=SecretBox("unit-test-key"))
    secret = registry.register("siao", "https://siao.example/hooks/relais")
    raw = b"".join(f.read_bytes() for f in tmp_path.iterdir() if f.name.startswith("webhooks.sqlite3"))
    assert secret.encode() not in raw  # neither in the file nor in its journal
    stored = sqlite3.connect(path).execute("SELECT secret FROM alerting_webhooks").fetchone()[0]
    assert stored.startswith("v1:") and secret not in stored
    assert registry.get("siao").secret == secret  # opens with the same key
    other = SqliteWebhookRegistry(path, box=SecretBox("another-key"))
    with pytest.raises(Exception):  # noqa: B017, PT011 - cryptography's InvalidTag
        other.get("siao")
    # a sealed secret moved to another agency's row does not open (the agency is authenticated)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("INSERT INTO alerting_webhooks VALUES ('pmi', 'https://x.example', ?)", (stored,))
    with pytest.raises(Exception):  # noqa: B017, PT011
        registry.get("pmi")


def test_a_secret_stored_in_clear_by_an_older_version_is_sealed_on_first_read(tmp_path):
    import sqlite3

    path = tmp_path / "webhooks.sqlite3"
    registry = SqliteWebhookRegistry(path, box=SecretBox("unit-test-key"))
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("INSERT INTO alerting_webhooks VALUES ('siao', 'https://siao.example', 'old-clear-secret')")
    assert registry.get("siao").secret == "old-clear-secret"
    stored = conn.execute("SELECT secret FROM alerting_webhooks").fetchone()[0]
    assert stored.startswith("v1:") and "old-clear-secret" not in stored
    assert registry.get("siao").secret == "old-clear-secret"


def test_every_push_is_audited_per_receiving_agency_with_the_categories_it_really_carries(store):
    from gateway.audit import AuditQuery, SqliteAuditLog

    app, handler, tmp_path = store
    pid, _ = scenario(handler)
    registry = SqliteWebhookRegistry(box=SecretBox("unit-test-key"))
    registry.register("siao", "https://siao.example/hooks/relais")
    registry.register("spip", "https://spip.example/hooks/relais")
    audit = SqliteAuditLog()
    events = wire_events(app)

    def post(url, content, headers, timeout, extensions):  # noqa: ANN001, ANN202
        return Response(200 if extensions["sni_hostname"] == "siao.example" else 410)

    worker = AlertingWorker(read_models(tmp_path, events), lambda events: None, registry, post=post,
                            retry_base_delay=0, audit=audit, resolve=PUBLIC)
    worker.handle(events)
    records = audit.search(AuditQuery(pathway_id=str(pid), limit=20))
    kafka = {r.agency: r for r in records if r.operation == "alerting.kafka"}
    hooks = {r.agency: r for r in records if r.operation == "alerting.webhook"}
    assert set(kafka) == {"usmp", "siao", "spip"}
    assert kafka["siao"].categories == ("social",) and kafka["usmp"].categories == ("social",)
    assert kafka["spip"].categories == ()  # its message had the alert's text redacted: nothing social left the platform
    assert hooks["siao"].outcome == "0" and hooks["siao"].categories == ("social",)
    assert hooks["spip"].outcome == "4" and hooks["spip"].detail == "refusé par le destinataire (HTTP 410)"
    assert "usmp" not in hooks  # no webhook registered: no delivery, no record
    assert audit.verify() == []


def test_a_webhook_refused_before_sending_is_audited_with_no_category(store):
    from gateway.audit import AuditQuery, SqliteAuditLog

    app, handler, tmp_path = store
    pid, _ = scenario(handler)
    registry = SqliteWebhookRegistry(box=SecretBox("unit-test-key"))
    registry.register("siao", "https://siao.example/hooks/relais")
    audit = SqliteAuditLog()
    events = wire_events(app)
    worker = AlertingWorker(read_models(tmp_path, events), lambda events: None, registry,
                            post=lambda *a, **k: Response(200), retry_base_delay=0, audit=audit,
                            resolve=lambda host: ["127.0.0.1"])  # rebound to loopback since registration
    worker.handle(events)
    [hook] = [r for r in audit.search(AuditQuery(pathway_id=str(pid))) if r.operation == "alerting.webhook"]
    assert hook.outcome == "4" and hook.categories == () and "adresse interne" in hook.detail
