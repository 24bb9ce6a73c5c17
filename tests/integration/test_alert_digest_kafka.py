"""Noise control in the distributed mode, on the real broker and PostgreSQL: the medium alert
is not pushed on <prefix>.alerts, the high one is; the daily digest goes once per agency and
day, even with two senders at once and after a crash between publishing and recording it."""

from __future__ import annotations

import json
import threading
import time
import uuid

import psycopg

from gateway.readside import ALERT_PROJECTIONS
from services.alerting.digest import DIGEST_TYPE, digest_id
from services.bootstrap import topic
from tests.integration.test_deployments_kafka import _read, _send, deployment  # noqa: F401 - the fixture


def _header(record, name: str) -> str | None:
    return next((v.decode() for k, v in record.headers if k == name), None)


def _digest_rows(url: str, schema: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(f'SELECT agency, day, digest_id, alerts FROM "{schema}".alerting_digests').fetchall()


def test_medium_alerts_wait_for_one_digest_per_agency_and_day_high_ones_are_pushed(
    deployment, pg_url, pg_schema, kafka_bootstrap,  # noqa: F811
):
    runtime = deployment(pg_schema)
    settings = runtime.settings
    pid, medium, high = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    _send(runtime, "OpenDetentionPathway", pid, person_ref="P-1", territory="76", lead_agency="usmp", prison="CP")
    _send(runtime, "AddAgency", pid, agency="siao", role="housing")
    for alert, severity, rule in ((medium, "medium", "exit-without-housing"), (high, "high", "rights-not-open")):
        _send(runtime, "RaiseAlert", pid, actor="relais", alert_id=str(alert), rule_id=rule, subject="pathway",
              triggering_event_ids=[], owner_agency="siao", suggested_action="Agir avant la sortie", severity=severity)
    relay = runtime.relay()
    while relay.run_once():
        pass
    projections = [runtime.projection(name) for name in ALERT_PROJECTIONS]
    try:
        for projection in projections:
            deadline, applied = time.monotonic() + 60, 0
            while time.monotonic() < deadline and applied < 4:
                applied += projection.run_once(timeout_ms=300)
            assert applied == 4, projection
    finally:
        for projection in projections:
            projection.close()

    runner = runtime.alerting()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and runner.totals.applied < 4:
            runner.run_once(timeout_ms=300)
        assert runner.totals.applied == 4
    finally:
        runner.close()
    # The high alert reached both agencies; the medium one, raised before it on the same
    # partition (same key), reached nobody.
    pushed = [json.loads(r.value) for r in _read(kafka_bootstrap, topic(settings, "alerts"), 2)]
    assert sorted(b["receiving_agency"] for b in pushed) == ["siao", "usmp"]
    assert {b["alert_id"] for b in pushed} == {str(high)}

    # Two senders at once (two `relais alerting` processes): one digest for the SIAO.
    results = []
    senders = [runtime.digest(), runtime.digest()]
    barrier = threading.Barrier(2)

    def send_now(sender) -> None:  # noqa: ANN001
        barrier.wait()
        results.append(sender.send_due(force=True))

    threads = [threading.Thread(target=send_now, args=(s,)) for s in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(r.sent for r in results) == [0, 1]
    [(agency, day, ident, count)] = _digest_rows(pg_url, pg_schema)
    assert (agency, ident, count) == ("siao", digest_id("siao", day), 1)
    records = _read(kafka_bootstrap, topic(settings, "alerts"), 3)
    digests = [r for r in records if _header(r, "ce_type") == DIGEST_TYPE]
    assert len(digests) == 1 and digests[0].key == b"siao"
    body = json.loads(digests[0].value)
    assert [a["alert_id"] for a in body["alerts"]] == [str(medium)] and body["agency"] == "siao"
    assert _header(digests[0], "ce_id") == ident
    assert runtime.digest().send_due(force=True).sent == 0  # a restart the same day sends nothing


def test_a_crash_after_publishing_a_digest_and_before_recording_it_sends_it_again_with_the_same_id(
    deployment, pg_url, pg_schema, kafka_bootstrap,  # noqa: F811
):
    runtime = deployment(pg_schema)
    pid, alert = uuid.uuid4(), uuid.uuid4()
    _send(runtime, "OpenDetentionPathway", pid, person_ref="P-2", territory="76", lead_agency="usmp", prison="CP")
    _send(runtime, "AddAgency", pid, agency="siao", role="housing")
    _send(runtime, "RaiseAlert", pid, actor="relais", alert_id=str(alert), rule_id="stalled", subject="pathway",
          triggering_event_ids=[], owner_agency="siao", suggested_action="Relancer le parcours", severity="low")
    relay = runtime.relay()
    while relay.run_once():
        pass
    projections = [runtime.projection(name) for name in ALERT_PROJECTIONS]
    try:
        for projection in projections:
            deadline, applied = time.monotonic() + 60, 0
            while time.monotonic() < deadline and applied < 3:
                applied += projection.run_once(timeout_ms=300)
    finally:
        for projection in projections:
            projection.close()

    crashing = runtime.digest()
    real_publish = crashing.publish

    def publish_then_die(events) -> None:  # noqa: ANN001
        real_publish(events)  # acknowledged by the broker...
        raise SystemExit("killed before the commit")  # ...and the process dies

    crashing.publish = publish_then_die
    try:
        crashing.send_due(force=True)
    except SystemExit:
        pass
    assert _digest_rows(pg_url, pg_schema) == []
    assert runtime.digest().send_due(force=True).sent == 1
    assert runtime.digest().send_due(force=True).sent == 0
    records = [r for r in _read(kafka_bootstrap, topic(runtime.settings, "alerts"), 2)
               if _header(r, "ce_type") == DIGEST_TYPE]
    assert len(records) == 2 and len({_header(r, "ce_id") for r in records}) == 1  # consumers drop the second


def test_relais_alerting_digest_now_before_the_read_models_exist_says_so_in_one_line(
    pg_url, pg_schema, kafka_bootstrap,
) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    from eventsourcing.cipher import AESCipher

    env = {**os.environ, "RELAIS_DATABASE_URL": pg_url, "RELAIS_DATABASE_SCHEMA": pg_schema,
           "RELAIS_KAFKA_BOOTSTRAP": kafka_bootstrap, "RELAIS_CIPHER_KEY": AESCipher.create_key(32)}
    out = subprocess.run([sys.executable, "-m", "services.cli", "alerting", "--digest-now"],
                         cwd=Path(__file__).resolve().parents[2], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.strip() == ("relais alerting --digest-now : ERREUR : Données indisponibles : les vues de "
                                  "lecture ne sont pas encore construites (relais projections run).")
