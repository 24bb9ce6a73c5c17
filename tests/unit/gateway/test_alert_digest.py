"""Noise control: high and critical alerts pushed at once, medium and low ones in one digest per
owning agency and day, at the hour of the territory settings, never twice for the same day."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import pytest

from gateway.audit import AuditQuery, SqliteAuditLog
from infra.agencies import load_registry
from services.alerting.digest import DIGEST_TYPE, DigestSender, PushPolicy, SqliteDigestLedger, digest_id
from services.alerting.webhooks import SecretBox, SqliteWebhookRegistry
from services.alerting.worker import AlertingWorker
from services.risk.territory_settings import SettingsSource, SqliteTerritorySettingsStore
from tests.unit.gateway.test_alerting import Response, read_models, send, store, wire_events  # noqa: F401

# 06:30 UTC is 07:30 in Paris (winter): before the default digest hour (8 h); 08:00 UTC is 9 h.
EARLY = datetime(2026, 12, 3, 6, 30, tzinfo=timezone.utc)
LATER = datetime(2026, 12, 3, 8, 0, tzinfo=timezone.utc)
AGENCIES = load_registry()


def alerts_scenario(handler) -> tuple[uuid.UUID, dict[str, uuid.UUID]]:
    pid = uuid.uuid4()
    send(handler, "OpenDetentionPathway", pid, person_ref="P-1", territory="76", lead_agency="usmp", prison="CP")
    send(handler, "AddAgency", pid, agency="siao", role="housing")
    send(handler, "GrantConsent", pid, agency="siao", categories=["social"], collected_by="p-recueil", informed_by="oral")
    ids = {}
    for severity, rule in (("medium", "exit-without-housing"), ("high", "rights-not-open"), ("low", "stalled")):
        ids[severity] = uuid.uuid4()
        send(handler, "RaiseAlert", pid, actor="relais", alert_id=str(ids[severity]), rule_id=rule, subject="pathway",
             triggering_event_ids=[], owner_agency="siao", suggested_action="Agir avant la sortie", severity=severity)
    return pid, ids


@pytest.fixture
def world(store):
    app, handler, tmp_path = store
    pid, ids = alerts_scenario(handler)
    read = read_models(tmp_path, wire_events(app))
    settings = SqliteTerritorySettingsStore(tmp_path / "settings.sqlite3")
    source = SettingsSource(settings, ttl_s=0)
    return app, read, settings, source, pid, ids, tmp_path


def test_only_the_high_alert_is_pushed_at_once(world) -> None:
    app, read, _settings, source, _pid, ids, _tmp = world
    published = []
    AlertingWorker(read, published.extend, should_push=PushPolicy(read, source)).handle(wire_events(app))
    assert {e.data["alert_id"] for e in published} == {str(ids["high"])}


def test_the_territory_may_push_medium_alerts_too(world) -> None:
    app, read, settings, source, _pid, ids, _tmp = world
    settings.change("76", {"push_min_severity": "medium"}, changed_by="pro-ars-1", agency="ars")
    published = []
    AlertingWorker(read, published.extend, should_push=PushPolicy(read, source)).handle(wire_events(app))
    assert {e.data["alert_id"] for e in published} == {str(ids["high"]), str(ids["medium"])}


def test_the_digest_goes_at_the_territorys_hour_once_a_day_with_the_alerts_below_the_line(world) -> None:
    _app, read, _settings, source, pid, ids, tmp_path = world
    published, posts = [], []
    webhooks = SqliteWebhookRegistry(tmp_path / "hooks.sqlite3", box=SecretBox("k" * 32))
    webhooks.register("siao", "https://siao.example/relais")

    def post(url, content, headers, timeout, extensions):  # noqa: ANN001, ANN202 - httpx.post's shape
        posts.append((headers["Host"], url, headers["webhook-id"], json.loads(content)))
        return Response(200)

    audit = SqliteAuditLog()
    sender = DigestSender(read, published.extend, SqliteDigestLedger(tmp_path / "digests.sqlite3"), AGENCIES, source,
                          webhooks=webhooks, post=post, retry_base_delay=0.0, audit=audit,
                          resolve=lambda host: ["93.184.216.34"])
    assert sender.send_due(EARLY).sent == 0 and published == []  # 7:30 in Paris: not yet
    assert sender.send_due(LATER).sent == 1
    [digest] = published
    assert digest.type == DIGEST_TYPE and digest.partitionkey == "siao" and digest.id == digest_id("siao", LATER.date())
    assert digest.data["day"] == "2026-12-03" and digest.data["count"] == 2
    assert [a["alert_id"] for a in digest.data["alerts"]] == [str(ids["medium"]), str(ids["low"])]  # gravest first
    assert {a["pathway_id"] for a in digest.data["alerts"]} == {str(pid)}
    # delivered to the address checked at delivery time, under the registered name
    assert posts == [("siao.example", "https://93.184.216.34/relais", digest.id, digest.data)]
    pushes = [(r.agency, r.operation, r.pathway_id, r.outcome)
              for r in audit.search(AuditQuery(pathway_id=str(pid), limit=20)) if r.operation.startswith("alerting.")]
    assert sorted(pushes) == [("siao", "alerting.kafka", str(pid), "0"), ("siao", "alerting.webhook", str(pid), "0")]
    again = sender.send_due(LATER.replace(hour=15))
    assert (again.sent, len(published), len(posts)) == (0, 1, 1)  # not twice the same day
    assert sender.send_due(LATER.replace(day=4)).sent == 1  # the next day


def test_digest_now_sends_before_the_hour_and_the_hour_is_a_territory_setting(world) -> None:
    _app, read, settings, source, *_rest, tmp_path = world
    settings.change("76", {"digest_hour": 6}, changed_by="pro-ars-1", agency="ars")
    published = []
    sender = DigestSender(read, published.extend, SqliteDigestLedger(tmp_path / "d.sqlite3"), AGENCIES, source)
    assert sender.send_due(EARLY.replace(hour=4)).sent == 0  # 5 h in Paris
    assert sender.send_due(EARLY).sent == 1  # 7:30 >= 6 h
    forced = DigestSender(read, published.extend, SqliteDigestLedger(tmp_path / "e.sqlite3"), AGENCIES, source)
    assert forced.send_due(EARLY.replace(hour=4), force=True).sent == 1


def test_a_crash_before_the_digest_is_recorded_sends_it_again_with_the_same_id_and_never_after(world) -> None:
    _app, read, _settings, source, *_rest, tmp_path = world
    published = []

    def publish_then_crash(events):  # noqa: ANN001, ANN202
        published.extend(events)
        raise RuntimeError("process killed after the broker acknowledged")

    ledger = SqliteDigestLedger(tmp_path / "digests.sqlite3")
    with pytest.raises(RuntimeError):
        DigestSender(read, publish_then_crash, ledger, AGENCIES, source).send_due(LATER)
    assert not ledger.sent("siao", LATER.date())
    restarted = DigestSender(read, published.extend, SqliteDigestLedger(tmp_path / "digests.sqlite3"), AGENCIES, source)
    assert restarted.send_due(LATER).sent == 1
    assert restarted.send_due(LATER).sent == 0
    assert [e.id for e in published] == [digest_id("siao", LATER.date())] * 2  # receivers drop the second
