"""Consent in effect for the next read, and the group-committed audit (every answered read written)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timezone

import pytest

from gateway.audit import AuditQuery, AuditRecord, GroupCommitAuditLog, SqliteAuditLog
from tests.unit.gateway.conftest import token
from tests.unit.gateway.test_gateway_api import PATHWAY_Q, open_detention


def test_a_withdrawn_consent_and_a_departure_apply_to_the_read_that_follows_the_answer(api):
    usmp = token("usmp", "medecin")
    siao = token("siao", "coordinateur")
    pid = open_detention(api, usmp)
    api.send("AddAgency", {"pathwayId": pid, "agency": "siao", "role": "HOUSING"}, as_=usmp)
    api.send("GrantConsent", {"pathwayId": pid, "agency": "siao", "categories": ["IDENTITY"]}, as_=usmp)
    assert api(PATHWAY_Q, {"id": pid}, as_=siao)["pathway"]["personRef"] == "P-abc123"
    # No settling: the mutation itself answers only once the read models honour it.
    api.send("WithdrawConsent", {"pathwayId": pid, "agency": "siao", "categories": ["IDENTITY"]}, as_=usmp,
             settle=False)
    assert api(PATHWAY_Q, {"id": pid}, as_=siao)["pathway"]["personRef"] is None
    api.send("RemoveAgency", {"pathwayId": pid, "agency": "siao", "reason": "fin"}, as_=usmp, settle=False)
    assert api(PATHWAY_Q, {"id": pid}, as_=siao)["pathway"] is None


def _record(n: int) -> AuditRecord:
    return AuditRecord(professional=f"p{n}", agency="usmp", role="medecin", action="R", operation="pathway",
                       purpose="CAREMGT", pathway_id=str(uuid.uuid4()), categories=("identity",), outcome="0")


def test_group_commit_writes_every_record_before_the_request_goes_on(tmp_path):
    inner = SqliteAuditLog(tmp_path / "audit.sqlite3")
    log = GroupCommitAuditLog(inner)

    async def many() -> None:
        await asyncio.gather(*(log.write_async([_record(n)]) for n in range(200)))

    asyncio.run(many())
    assert len(inner.search(AuditQuery(limit=1000))) == 200  # all durable once awaited
    assert log.batches <= 200
    log.close()


def test_a_failed_audit_write_fails_the_request_and_close_drains_the_queue(tmp_path):
    class Broken:
        def write(self, records):  # noqa: ANN001, ANN202
            raise OSError("disk full")

        def search(self, query):  # noqa: ANN001, ANN202
            return []

    log = GroupCommitAuditLog(Broken())
    with pytest.raises(OSError):
        asyncio.run(log.write_async([_record(1)]))
    log.close()
    inner = SqliteAuditLog(tmp_path / "after.sqlite3")
    closed = GroupCommitAuditLog(inner)
    closed.close()
    asyncio.run(closed.write_async([_record(2)]))  # after shutdown: written synchronously
    assert [r.professional for r in inner.search(AuditQuery())] == ["p2"]


def test_the_gateway_answers_only_once_its_audit_is_written(api):
    usmp = token("usmp", "medecin")
    pid = open_detention(api, usmp)
    api(PATHWAY_Q, {"id": pid}, as_=usmp)
    records = api.client.app.state.gateway.audit.search(AuditQuery(pathway_id=pid))
    assert any(r.operation == "pathway" for r in records)  # no wait: written before the answer
    assert datetime.now(timezone.utc) >= records[0].recorded_at
