"""The PostgreSQL audit log and webhook registry (distributed mode) on the real server."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from psycopg_pool import ConnectionPool

from gateway.audit import AuditQuery, AuditRecord, PostgresAuditLog
from services.alerting.webhooks import SecretBox, PostgresWebhookRegistry


def record(n: int, pathway: str, agency: str = "siao") -> AuditRecord:
    return AuditRecord(professional=f"pro-{n}", agency=agency, role="coordinateur", action="R", operation="pathway",
                       purpose="CAREMGT", pathway_id=pathway, categories=("identity", "social"), outcome="0",
                       recorded_at=datetime(2026, 11, 24, tzinfo=timezone.utc) + timedelta(seconds=n))


def test_audit_records_are_written_and_searched_newest_first_with_a_keyset_cursor(pg_url, pg_schema):
    with ConnectionPool(pg_url, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
        log = PostgresAuditLog(pool, pg_schema)
        log.write([record(n, "p-1") for n in range(5)] + [record(9, "p-2", "usmp")])
        first = log.search(AuditQuery(pathway_id="p-1", limit=3))
        assert [r.professional for r in first] == ["pro-4", "pro-3", "pro-2"]
        rest = log.search(AuditQuery(pathway_id="p-1", limit=3,
                                     before=(first[-1].recorded_at.isoformat(), first[-1].id)))
        assert [r.professional for r in rest] == ["pro-1", "pro-0"]
        assert rest[0].categories == ("identity", "social")
        assert [r.agency for r in log.search(AuditQuery(agency="usmp"))] == ["usmp"]
        assert log.search(AuditQuery(pathway_id="p-2"))[0].as_fhir()["resourceType"] == "AuditEvent"


def test_a_webhook_registration_replaces_the_previous_one_and_deliveries_are_remembered(pg_url, pg_schema):
    with ConnectionPool(pg_url, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
        registry = PostgresWebhookRegistry(pool, pg_schema, box=SecretBox("integration-key"))
        first = registry.register("siao", "https://a.example/hook")
        second = registry.register("siao", "https://b.example/hook")
        hook = registry.get("siao")
        assert hook.url == "https://b.example/hook" and hook.secret == second != first
        assert not registry.delivered("siao", "d-1")
        registry.mark_delivered("siao", "d-1")
        registry.mark_delivered("siao", "d-1")
        assert registry.delivered("siao", "d-1") and registry.get("pmi") is None
        with pool.connection() as conn:  # encrypted at rest: the stored bytes do not hold the secret
            stored = conn.execute(f'SELECT secret FROM "{pg_schema}".alerting_webhooks WHERE agency = %s',
                                  ("siao",)).fetchone()[0]
        assert stored.startswith("v1:") and second not in stored and first not in stored
