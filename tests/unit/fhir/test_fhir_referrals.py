"""FHIR export of referrals (Task + ServiceRequest, Gravity SDOH closed loop) from the read
models, and partner Tasks read back as Relais commands: valid FHIR, lossless statuses."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.task import Task
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.values import REFERRAL_STATUSES_NEEDING_REASON, REFERRAL_TRANSITIONS, NotWentReason, ReferralStatus
from projections import queries
from services.fhir.referrals import (
    SYSTEM_NOT_WENT,
    FhirRefused,
    command_for,
    export_json,
    export_territory,
    parse_task,
    referral_status,
    task,
    task_status,
    task_update,
)
from services.territory.load import load
from tests.unit.projections.conftest import World, open_pass_gp


def row(world: World, referral_id: str) -> dict[str, Any]:
    return next(r for r in queries.referrals(world.conn) if r["referral_id"] == referral_id)


def exported_task(world: World, referral_id: str) -> Task:
    """The referral's Task as a partner receives it: FHIR JSON parsed back by fhir.resources."""
    return Task.model_validate_json(export_json(task(row(world, referral_id),
                                                     queries.referral_steps(world.conn, referral_id))))


def apply_task(world: World, pathway_id: str, resource: Task, *, gp: bool, day: float) -> None:
    name, fields = command_for(task_update(resource), gp_orientation=gp)
    world.send(name, pathway_id, "pass", day, **fields)


def test_every_referral_of_a_synthetic_territory_exports_as_fhir_that_fhir_resources_parses_back(tmp_path: Path) -> None:
    world = World(tmp_path)
    try:
        load(world.handler, 24, progress=None)
        world.flush()
        pid = open_pass_gp(world)
        world.send("MakeReferral", pid, "pass", 1, referral_id=str(uuid4()), to_agency="csapa", service="addictologie")
        referrals = queries.referrals(world.conn, territory="76")
        bundle = Bundle.model_validate_json(export_json(export_territory(world.conn, "76")))
    finally:
        world.close()
    assert bundle.type == "collection"
    kinds = Counter(entry.resource.get_resource_type() for entry in bundle.entry)
    assert kinds == {"ServiceRequest": len(referrals), "Task": len(referrals)} and len(referrals) > 3
    tasks = [e.resource for e in bundle.entry if e.resource.get_resource_type() == "Task"]
    assert {t.status for t in tasks} <= {s.value for s in ReferralStatus}
    assert {t.status: r["status"] for t, r in zip(tasks, referrals)} == {r["status"]: r["status"] for r in referrals}
    for t, r in zip(tasks, referrals):
        assert t.focus.reference == f"ServiceRequest/{r['referral_id']}"
        assert t.for_fhir.identifier.value == r["pathway_id"]  # the pathway id, never the person's reference
        assert t.requester.identifier.value == r["made_by"]
        assert t.owner.type == ("Practitioner" if r["is_gp_orientation"] else "Organization")
    assert len({e.fullUrl for e in bundle.entry}) == len(bundle.entry)


def test_a_gp_orientation_not_honoured_carries_its_coded_reason_and_its_follow_up_calls(tmp_path: Path) -> None:
    world = World(tmp_path)
    try:
        pid, orientation = open_pass_gp(world), str(uuid4())
        world.send("OpenCoverage", pid, "pass", 1, scheme="ame", opened_on="2026-03-03", expires_on=None)
        world.send("OrientToGp", pid, "pass", 2, orientation_id=orientation, gp_ref="MG-012", gp_commune="Rouen",
                   accepts_phone_interpreting=True)
        world.send("RecordFollowUpCall", pid, "pass", 5, orientation_id=orientation, reached=False)
        world.send("RecordFollowUpCall", pid, "pass", 6, orientation_id=orientation, reached=True)
        world.send("RecordGpVisitOutcome", pid, "pass", 9, orientation_id=orientation, outcome="did_not_go",
                   reason="address_not_found", detail="n'a pas trouvé le cabinet")
        resource = exported_task(world, orientation)
    finally:
        world.close()
    assert resource.status == "failed"
    assert [(c.system, c.code) for c in resource.statusReason.coding] == [(SYSTEM_NOT_WENT, "address_not_found")]
    assert [o.type.coding[0].code for o in resource.output] == ["call_unanswered", "call_reached"]
    assert "cabinet" not in export_json(resource)  # free text typed by professionals stays in Relais
    assert resource.owner.identifier.value == "MG-012"


def test_every_relais_status_is_a_fhir_task_status_and_back() -> None:
    for status in ReferralStatus:
        assert referral_status(task_status(status)) is status


def test_a_task_status_relais_does_not_record_is_refused_with_the_known_ones() -> None:
    with pytest.raises(FhirRefused, match="'entered-in-error' is not a FHIR Task status.*in-progress"):
        referral_status("entered-in-error")


def test_a_body_that_is_not_a_fhir_task_is_refused_with_what_it_is() -> None:
    with pytest.raises(FhirRefused, match="got 'Patient'"):
        parse_task({"resourceType": "Patient"})
    with pytest.raises(FhirRefused, match="a FHIR Task is expected"):
        parse_task({"status": "completed"})
    with pytest.raises(FhirRefused, match="not a valid FHIR Task"):
        parse_task({"resourceType": "Task", "status": "completed", "intent": "order", "focus": "ServiceRequest/x"})


# --------------------------------------------------------------------------- round trip
@st.composite
def status_walks(draw: st.DrawFn) -> list[tuple[ReferralStatus, str | None, bool]]:
    """A path through the referral statuses Relais allows, from `requested`: (status, reason,
    recorded as an outcome rather than a status change)."""
    steps, current = [], ReferralStatus.REQUESTED
    for _ in range(draw(st.integers(0, 4))):
        nexts = sorted(REFERRAL_TRANSITIONS.get(current, frozenset()))
        if not nexts:
            break
        current = draw(st.sampled_from(nexts))
        needs_reason = current in REFERRAL_STATUSES_NEEDING_REASON
        reason = draw(st.sampled_from(["plus de place", "la personne a déménagé", "n'a pas trouvé l'adresse"])
                      if needs_reason else st.none() | st.just("rendez-vous fixé"))
        as_outcome = current in (ReferralStatus.COMPLETED, ReferralStatus.FAILED) and draw(st.booleans())
        steps.append((current, reason, as_outcome))
    return steps


def record(world: World, pid: str, rid: str, status: ReferralStatus, reason: str | None, as_outcome: bool,
           day: float) -> None:
    if as_outcome:
        world.send("RecordReferralOutcome", pid, "pass", day, referral_id=rid, reason=reason,
                   outcome="honoured" if status is ReferralStatus.COMPLETED else "not_honoured")
    else:
        world.send("UpdateReferralStatus", pid, "pass", day, referral_id=rid, status=status.value, reason=reason)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(walk=status_walks())
def test_relais_statuses_through_fhir_tasks_and_back_are_lossless(tmp_path_factory: pytest.TempPathFactory,
                                                                   walk: list[tuple[ReferralStatus, str | None, bool]]) -> None:
    """Each status of the original referral goes out as a Task; the Task, read back as a partner
    answer, brings a twin referral to the same status with the same reason."""
    world = World(tmp_path_factory.mktemp("fhir"))
    try:
        pid, original, twin = open_pass_gp(world), str(uuid4()), str(uuid4())
        for rid in (original, twin):
            world.send("MakeReferral", pid, "pass", 1, referral_id=rid, to_agency="csapa", service="addictologie")
        for day, (status, reason, as_outcome) in enumerate(walk, start=2):
            record(world, pid, original, status, reason, as_outcome, day)
            out = exported_task(world, original)
            assert out.status == status.value
            answer = out.model_dump(by_alias=True, exclude_none=True)
            answer["identifier"][0]["value"] = twin  # the same answer, for the twin
            answer.pop("focus")
            apply_task(world, pid, parse_task(answer), gp=False, day=day)
            back, sent = row(world, twin), row(world, original)
            assert (back["status"], back["status_reason"]) == (sent["status"], sent["status_reason"]) == (
                status.value, reason)
    finally:
        world.close()


@pytest.mark.parametrize("reason", [r.value for r in NotWentReason])
def test_a_gp_visit_outcome_goes_out_and_comes_back_with_its_reason(tmp_path: Path, reason: str) -> None:
    world = World(tmp_path)
    try:
        pid = open_pass_gp(world)
        world.send("OpenCoverage", pid, "pass", 1, scheme="ame", opened_on="2026-03-03", expires_on=None)
        original, twin = str(uuid4()), str(uuid4())
        for rid in (original, twin):
            world.send("OrientToGp", pid, "pass", 2, orientation_id=rid, gp_ref="MG-1", gp_commune="Rouen")
        world.send("RecordGpVisitOutcome", pid, "pass", 9, orientation_id=original, outcome="did_not_go", reason=reason)
        answer = exported_task(world, original).model_dump(by_alias=True, exclude_none=True)
        answer["identifier"][0]["value"] = twin
        apply_task(world, pid, parse_task(answer), gp=True, day=10)
        back = row(world, twin)
    finally:
        world.close()
    assert (back["status"], back["status_reason"], back["outcome"]) == ("failed", reason, "not_honoured")


def test_relais_fhir_export_without_read_models_says_in_one_line_what_to_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from services.cli import main

    monkeypatch.setenv("RELAIS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("RELAIS_MODE", "embedded")
    assert main(["fhir", "export", "--territory", "76"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("relais fhir export : ERREUR : pas de modèle de lecture des orientations")
    assert "relais projections rebuild referrals --embedded" in err and len(err.splitlines()) == 1


def test_relais_fhir_export_writes_the_territory_bundle_on_stdout_with_progress_on_stderr(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from services.cli import main

    world = World(tmp_path, read_models=tmp_path / "read_models.sqlite3")  # where the embedded mode keeps them
    try:
        load(world.handler, 12, progress=None)
        world.flush()
        expected = len(queries.referrals(world.conn, territory="76"))
    finally:
        world.close()
    assert expected
    monkeypatch.setenv("RELAIS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("RELAIS_MODE", "embedded")
    assert main(["fhir", "export", "--territory", "76"]) == 0
    captured = capsys.readouterr()
    bundle = Bundle.model_validate_json(captured.out)
    assert len(bundle.entry) == 2 * expected
    assert f"{expected}/{expected} orientations" in captured.err
