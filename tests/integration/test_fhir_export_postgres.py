"""`relais fhir export` in distributed mode: the Bundle comes from the referrals read model that
the projection runner keeps in PostgreSQL (fed from Kafka), one Task + ServiceRequest per row."""

from __future__ import annotations

from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle

from infra.kafka.producer import EventProducer
from projections import queries as q
from projections.postgres import LiveProjection, Target
from projections.referrals import Referrals
from services.cli import main
# `target` is that module's fixture (a fresh topic pair and the test's schema): used as it is
from tests.integration.test_projections_postgres import catch_up, pg, target, territory_events  # noqa: F401

TEST_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # synthetic, tests only


def test_the_distributed_export_is_every_referral_of_the_postgresql_read_model(
        tmp_path: Path, target: Target, kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    events = territory_events(tmp_path, 30)
    producer = EventProducer(kafka_bootstrap, client_id="test-fhir-export")
    try:
        producer.send_all(target.topic, events)
    finally:
        producer.close()
    live = LiveProjection(target, Referrals)
    try:
        catch_up(live, len(events))
    finally:
        live.close()
    with pg(target) as conn:
        rows = q.referrals(conn, territory="76")
    assert rows
    for name, value in {"RELAIS_MODE": "distributed", "RELAIS_DATABASE_URL": target.conninfo,
                        "RELAIS_DATABASE_SCHEMA": target.schema, "RELAIS_CIPHER_KEY": TEST_KEY}.items():
        monkeypatch.setenv(name, value)
    out = tmp_path / "orientations.json"
    assert main(["fhir", "export", "--territory", "76", "--out", str(out)]) == 0
    bundle = Bundle.model_validate_json(out.read_text(encoding="utf-8"))
    tasks = [e.resource for e in bundle.entry if e.resource.get_resource_type() == "Task"]
    assert [(t.identifier[0].value, t.status) for t in tasks] == [(r["referral_id"], r["status"]) for r in rows]
    assert f"{len(rows)} orientation(s) du territoire 76" in capsys.readouterr().err
