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
    api.send("GrantConsent", {"pathwayId": pid, "agency": "siao", "categories": ["IDENTITY"], "collectedBy": "p-recueil", "informedBy": "ORAL"}, as_=usmp)
    assert api(PATHWAY_Q, {"id": pid}, as_=siao)["pathway"]["personRef"] == "P-abc123"
    # No settling: the mutation itself answers only once the read models honour it.
    api.send("WithdrawConsent", {"pathwayId": pid, "agency": "siao", "categories": ["IDENTITY"], "collectedBy": "p-recueil", "informedBy": "ORAL"}, as_=usmp,
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


# --------------------------------------------------------------------------- consent with proof
PROOF = {"collectedBy": "p-recueil", "informedBy": "ORAL"}
NEED_Q = """query($id: UUID!) { pathway(id: $id) { personRef needs { description }
  redactions { field reason } } }"""


def _with_siao(api) -> tuple[str, str, str]:  # noqa: ANN001
    usmp, siao = token("usmp", "medecin"), token("siao", "coordinateur")
    pid = open_detention(api, usmp)
    api.send("AddAgency", {"pathwayId": pid, "agency": "siao", "role": "HOUSING"}, as_=usmp)
    return pid, usmp, siao


def _audit(api, pid: str, operation: str) -> list[AuditRecord]:  # noqa: ANN001
    records = api.client.app.state.gateway.audit.search(AuditQuery(pathway_id=pid, limit=500))
    return [r for r in records if r.operation == operation]


def test_a_structure_cannot_grant_itself_consent_and_reads_nothing_more_for_trying(api):
    pid, _usmp, siao = _with_siao(api)
    out = api.send("GrantConsent", {"pathwayId": pid, "agency": "siao",
                                    "categories": ["IDENTITY", "SOCIAL", "ADMINISTRATIVE", "MEDICAL"], **PROOF},
                   as_=siao)
    assert out["__typename"] == "CommandRefused" and out["code"] in ("FORBIDDEN", "CONSENT_FOR_OWN_AGENCY"), out
    assert api(PATHWAY_Q, {"id": pid}, as_=siao)["pathway"]["personRef"] is None


def test_even_a_care_team_member_cannot_record_a_consent_for_its_own_structure(api):
    usmp = token("usmp", "medecin")
    pid = open_detention(api, usmp)
    out = api.send("GrantConsent", {"pathwayId": pid, "agency": "usmp", "categories": ["MEDICAL"], **PROOF}, as_=usmp)
    assert out["__typename"] == "CommandRefused" and out["code"] == "CONSENT_FOR_OWN_AGENCY"
    assert out["field"] == "agency" and "elle-même" in out["reason"]


def test_a_consent_without_its_proof_is_refused_naming_the_missing_field(api):
    pid, usmp, _siao = _with_siao(api)
    response = api.post("mutation($i: GrantConsentInput!) { grantConsent(input: $i) { __typename } }",
                        {"i": {"commandId": str(uuid.uuid4()), "pathwayId": pid, "agency": "siao",
                               "categories": ["IDENTITY"], "occurredAt": datetime.now(timezone.utc).isoformat()}},
                        as_=usmp)
    errors = response.json()["errors"]
    assert any("collectedBy" in e["message"] for e in errors) and any("informedBy" in e["message"] for e in errors)


def test_every_audit_record_names_the_consent_version_in_force(api):
    pid, usmp, siao = _with_siao(api)
    api.send("GrantConsent", {"pathwayId": pid, "agency": "siao", "categories": ["IDENTITY"], **PROOF}, as_=usmp)
    api(PATHWAY_Q, {"id": pid}, as_=siao)
    assert {r.consent_version for r in _audit(api, pid, "pathway")} == {1}
    api.send("WithdrawConsent", {"pathwayId": pid, "agency": "siao", "categories": ["IDENTITY"], **PROOF},
             as_=usmp, settle=False)
    api(PATHWAY_Q, {"id": pid}, as_=siao)
    assert sorted(r.consent_version for r in _audit(api, pid, "pathway")) == [1, 2]
    mutations = _audit(api, pid, "mutation.withdrawConsent")
    assert [r.consent_version for r in mutations] == [2]  # the version the withdrawal made
    assert all(r.consent_version is not None for r in _audit(api, pid, "mutation.addAgency"))
    dpo = token("usmp", "dpo")
    events = api("query($p: UUID) { auditEvents(filter: {pathwayId: $p}, first: 50) { events { operation "
                 "consentVersion } } }", {"p": pid}, as_=dpo)["auditEvents"]["events"]
    assert {"operation": "mutation.withdrawConsent", "consentVersion": 2} in events


def test_an_objection_hides_the_category_even_inside_the_care_team(api):
    usmp, csapa = token("usmp", "medecin"), token("csapa", "medecin")
    pid = open_detention(api, usmp)
    api.send("AddAgency", {"pathwayId": pid, "agency": "csapa", "role": "ADDICTION_CARE"}, as_=usmp)
    api.send("RecordNeed", {"pathwayId": pid, "needId": str(uuid.uuid4()), "category": "ADDICTION",
                            "description": "Traitement de substitution"}, as_=usmp)
    assert api(NEED_Q, {"id": pid}, as_=csapa)["pathway"]["needs"][0]["description"] == "Traitement de substitution"
    out = api.send("RecordObjection", {"pathwayId": pid, "agency": "csapa", "categories": ["MEDICAL"], **PROOF},
                   as_=usmp, settle=False)
    assert out["__typename"] == "CommandAccepted", out
    seen = api(NEED_Q, {"id": pid}, as_=csapa)["pathway"]
    assert seen["needs"][0]["description"] is None
    assert any(r["reason"] == "OBJECTION" for r in seen["redactions"])
    assert seen["personRef"] == "P-abc123"  # only what the person objected to
    refused = api.send("RecordObjection", {"pathwayId": pid, "agency": "usmp", "categories": ["MEDICAL"], **PROOF},
                       as_=token("csapa", "medecin"))
    assert refused["code"] == "OBJECTION_TO_LEAD_AGENCY"


EMERGENCY_Q = ("{ emergencyAccesses { pathwayId agency professional role reason openedAt until } }")


def test_breaking_the_glass_needs_a_granted_role_and_a_reason_then_opens_a_limited_audited_access(api):
    pid, usmp, _siao = _with_siao(api)
    api.send("RecordNeed", {"pathwayId": pid, "needId": str(uuid.uuid4()), "category": "ADDICTION",
                            "description": "Traitement de substitution"}, as_=usmp)
    siao_doctor = token("siao", "medecin")  # outside the care team, no consent
    assert api(NEED_Q, {"id": pid}, as_=siao_doctor)["pathway"]["needs"][0]["description"] is None
    refused = api.send("BreakGlass", {"pathwayId": pid, "reason": "urgence"}, as_=token("siao", "coordinateur"))
    assert refused["code"] == "FORBIDDEN" and refused["field"] == "actor.role"
    no_reason = api.send("BreakGlass", {"pathwayId": pid, "reason": "  "}, as_=siao_doctor)
    assert no_reason["__typename"] == "CommandRefused" and no_reason["field"] == "reason"
    opened = api.send("BreakGlass", {"pathwayId": pid, "reason": "Malaise à l'accueil, traitement à connaître"},
                      as_=siao_doctor, settle=False)
    assert opened["__typename"] == "CommandAccepted", opened
    seen = api(NEED_Q, {"id": pid}, as_=siao_doctor)["pathway"]
    assert seen["needs"][0]["description"] == "Traitement de substitution" and seen["personRef"] == "P-abc123"
    assert {r.purpose for r in _audit(api, pid, "pathway") if r.role == "medecin" and r.agency == "siao"} >= {"ETREAT"}
    # Shown to the lead agency and to the DPO, with its reason and its end.
    shown = api(EMERGENCY_Q, as_=usmp)["emergencyAccesses"]
    assert [(a["agency"], a["reason"]) for a in shown] == [("siao", "Malaise à l'accueil, traitement à connaître")]
    opened_at, until = (datetime.fromisoformat(shown[0][k]) for k in ("openedAt", "until"))
    assert (until - opened_at).total_seconds() == 240 * 60
    assert len(api(EMERGENCY_Q, as_=token("siao", "dpo"))["emergencyAccesses"]) == 1
    assert api(EMERGENCY_Q, as_=token("usmp", "dpo"))["emergencyAccesses"] == []  # usmp's staff opened none
    assert api(EMERGENCY_Q, as_=token("siao", "coordinateur"))["emergencyAccesses"] == []  # siao leads none


def test_an_emergency_access_ends_after_the_settings_duration(api):
    from gateway import permissions as p

    access = p.PathwayAccess(participants={"usmp": p.ParticipantRole.LEAD, "siao": p.ParticipantRole.HOUSING},
                             consents={}, emergency={"dr-siao": datetime(2026, 1, 1, 12, tzinfo=timezone.utc)})
    doctor = p.Principal(agency="siao", professional="dr-siao", role=p.Role.MEDECIN)
    during = p.decide(doctor, access, now=datetime(2026, 1, 1, 11, tzinfo=timezone.utc))
    after = p.decide(doctor, access, now=datetime(2026, 1, 1, 13, tzinfo=timezone.utc))
    assert p.MEDICAL in during.visible and during.emergency
    assert p.MEDICAL not in after.visible and not after.emergency
