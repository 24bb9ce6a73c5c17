"""The write matrix: every command x professional role x participant role, from THE table
(domain.writepolicy), through the handler's payload path, through ingest's translation of an
inbound partner message (the route of `relais.inbound.<agency>`), and through GraphQL
(tests/unit/gateway/test_trust_boundary.py)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from domain import writepolicy
from domain.values import ParticipantRole
from services.pathways.commands import COMMANDS, OpenPathway
from services.pathways.handler import PathwaysHandler
from tests.write_matrix import (NOW, PARTICIPANTS, ROLES, Outcome, expected, observed, participant_id,
                                refused_at_the_entrance, sample_fields)

CARE_COMMANDS = sorted(name for name, cls in COMMANDS.items() if not issubclass(cls, OpenPathway))


def payload(name: str, pathway_id: str, by_agency: str, by_role: str, /, **over: Any) -> dict[str, Any]:
    """A well-typed payload of command `name` (its content may still be refused by the domain)."""
    return {**sample_fields(name), "command_id": str(uuid.uuid4()), "pathway_id": pathway_id,
            "actor": {"agency": by_agency, "professional": "pro-1", "role": by_role},
            "occurred_at": NOW.isoformat(), **over}


def open_pathway(handler: PathwaysHandler, member: str | None, participant: ParticipantRole | None) -> str:
    """A SAS pathway led by `sas`, with `member` taking part as `participant` (None: not at all)."""
    pid = str(uuid.uuid4())
    opened = handler.handle_payload("OpenSasPathway", payload(
        "OpenSasPathway", pid, "sas", "coordinateur", person_ref="P-1", territory="76", lead_agency="sas",
        arrived_on=NOW.date().isoformat(), occurred_at=(NOW - timedelta(hours=1)).isoformat()))
    assert opened.accepted, opened.rejection
    if member is not None and participant is not None and participant is not ParticipantRole.LEAD:
        joined = handler.handle_payload("AddAgency", payload("AddAgency", pid, "sas", "coordinateur",
                                                             agency=member, role=participant.value))
        assert joined.accepted, joined.rejection
    return pid


ENGINE = {"agency": "relais", "professional": "risk-engine", "role": "moteur de règles"}


def raise_alert(handler: PathwaysHandler, pid: str, owner: str) -> str:
    alert = str(uuid.uuid4())
    raised = handler.handle_payload("RaiseAlert", payload(
        "RaiseAlert", pid, "relais", "x", actor=ENGINE, alert_id=alert, rule_id="stalled",
        subject=f"s-{alert}", owner_agency=owner, severity="high"))
    assert raised.accepted, raised.rejection
    return alert


@pytest.fixture(scope="module")
def module_handler(tmp_path_factory) -> PathwaysHandler:
    from services.bootstrap import build_pathways_application
    from services.settings import Settings

    settings = Settings(mode="embedded", state_dir=tmp_path_factory.mktemp("matrix"))
    return PathwaysHandler(build_pathways_application(settings))


def through_ingest(handler: PathwaysHandler, name: str, body: dict[str, Any]) -> tuple[Outcome | None, str]:
    """`body` sent as a partner message of type `name` on the inbound topic of its actor's
    agency, through ingest's own translation (services.ingest: type, actor from the topic,
    command id from the message id) into the handler: (what the policy answered, why); None
    for a type ingest refuses at the entrance (engine-only: dead-lettered before any pathway)."""
    from services.ingest.messages import TYPE_PREFIX, TYPE_VERSION, InboundRefused, command_name, to_command_payload

    agency = body["actor"]["agency"]
    data = {k: v for k, v in body.items() if k != "command_id"}
    data["actor"] = {k: v for k, v in body["actor"].items() if k != "agency"}
    try:
        command = command_name(f"{TYPE_PREFIX}{name}.{TYPE_VERSION}")
        translated = to_command_payload(agency=agency, ce_id=str(uuid.uuid4()), subject=body["pathway_id"], data=data)
    except InboundRefused as refused:
        assert "reserved" in refused.reason, refused.reason
        return None, refused.reason
    return through_payload(handler, command, translated)


def through_payload(handler: PathwaysHandler, name: str, body: dict[str, Any]) -> tuple[Outcome | None, str]:
    result = handler.handle_payload(name, body)
    rejection = result.rejection
    return (observed(result.accepted, getattr(rejection, "code", None), getattr(rejection, "field", None)),
            str(rejection))


@pytest.mark.parametrize("route", [through_payload, through_ingest], ids=["handler", "ingest"])
@pytest.mark.parametrize("participant", PARTICIPANTS, ids=participant_id)
@pytest.mark.parametrize("role", ROLES)
def test_every_command_is_refused_or_let_through_as_the_write_table_says(module_handler, role, participant, route):
    wrong = []
    for name in CARE_COMMANDS:
        agency = "sas" if participant is ParticipantRole.LEAD else "membre"
        pid = open_pathway(module_handler, agency, participant)
        over = {}
        if writepolicy.WRITE_POLICY[name].writer is writepolicy.Writer.ALERT_OWNER:
            over["alert_id"] = raise_alert(module_handler, pid, owner="sas")  # the lead's, not the member's
        got, why = route(module_handler, name, payload(name, pid, agency, role, **over))
        want = expected(name, role, participant)
        if got is None:
            got = want = refused_at_the_entrance(want, "RESERVED_FOR_RELAIS", "type")
        if got != want:
            wrong.append(f"{name}: {got} au lieu de {want} ({why})")
    assert not wrong, "\n".join(wrong)


def test_the_matrix_covers_every_command_of_the_catalogue_the_new_ones_included():
    assert set(CARE_COMMANDS) | {n for n, c in COMMANDS.items() if issubclass(c, OpenPathway)} == set(writepolicy.WRITE_POLICY)
    assert {"ConfirmConferencePresence", "HandOverLead"} <= set(CARE_COMMANDS)


def test_a_non_member_hears_the_same_as_for_a_pathway_that_does_not_exist(module_handler):
    pid = open_pathway(module_handler, None, None)
    for name in ("RecordNeed", "ScheduleRelease", "ClosePathway", "RaiseAlert"):  # ScheduleRelease: wrong kind
        on_real = module_handler.handle_payload(name, payload(name, pid, "intrus", "medecin")).rejection
        on_none = module_handler.handle_payload(name, payload(name, str(uuid.uuid4()), "intrus", "medecin")).rejection
        assert (on_real.field, on_real.reason, on_real.code) == (on_none.field, on_none.reason, on_none.code)
        assert "sas" not in on_real.reason and "détention" not in on_real.reason


def test_alerts_are_raised_escalated_and_updated_by_the_engine_only(module_handler):
    for name in ("RaiseAlert", "EscalateAlert", "UpdateAlert"):
        pid = open_pathway(module_handler, None, None)
        result = module_handler.handle_payload(name, payload(name, pid, "sas", "coordinateur"))
        assert result.rejection.code == "FORBIDDEN" and "moteur de règles" in result.rejection.reason


def test_a_pathway_opens_with_the_callers_agency_as_lead(module_handler):
    pid = str(uuid.uuid4())
    result = module_handler.handle_payload("OpenPassGpPathway", payload(
        "OpenPassGpPathway", pid, "pass-rouen", "medecin", person_ref="P", territory="76", lead_agency="siao"))
    assert not result.accepted and result.rejection.field == "lead_agency"


def test_a_pathway_opens_only_in_a_territory_of_the_registry(tmp_path):
    from services.bootstrap import build_pathways_application, build_pathways_handler
    from services.settings import Settings

    settings = Settings(mode="embedded", state_dir=tmp_path)
    handler = build_pathways_handler(settings, build_pathways_application(settings))
    result = handler.handle_payload("OpenPassGpPathway", payload(
        "OpenPassGpPathway", str(uuid.uuid4()), "pass", "medecin", person_ref="P", territory="99x", lead_agency="pass"))
    assert not result.accepted and result.rejection.field == "territory" and "Territoire" in result.rejection.reason


@pytest.mark.parametrize("when", ["2999-01-01T00:00:00+00:00", (NOW + timedelta(hours=1)).isoformat()])
def test_a_fact_dated_in_the_future_is_refused_naming_the_field(module_handler, when):
    pid = open_pathway(module_handler, None, None)
    result = module_handler.handle_payload("RecordPhoneStatus", payload("RecordPhoneStatus", pid, "sas", "coordinateur",
                                                                        occurred_at=when))
    assert not result.accepted and result.rejection.field == "occurred_at" and "futur" in result.rejection.reason


def test_a_fact_dated_before_the_pathway_opened_is_refused(module_handler):
    pid = open_pathway(module_handler, None, None)
    result = module_handler.handle_payload("RecordPhoneStatus", payload(
        "RecordPhoneStatus", pid, "sas", "coordinateur", occurred_at=(NOW - timedelta(days=3)).isoformat()))
    assert not result.accepted and result.rejection.field == "occurred_at" and "ouverture" in result.rejection.reason


def test_only_the_owner_or_the_lead_closes_an_alert(module_handler):
    pid = open_pathway(module_handler, "usmp", ParticipantRole.HEALTH_CARE)
    module_handler.handle_payload("AddAgency", payload("AddAgency", pid, "sas", "coordinateur", agency="asso",
                                                       role="social_support"))
    alert = raise_alert(module_handler, pid, owner="usmp")
    by_other = module_handler.handle_payload("ResolveAlert", payload("ResolveAlert", pid, "asso", "benevole",
                                                                     alert_id=alert, reason="fait"))
    assert by_other.rejection.code == "FORBIDDEN" and by_other.rejection.field == "alert_id"
    by_owner = module_handler.handle_payload("ResolveAlert", payload("ResolveAlert", pid, "usmp", "medecin",
                                                                     alert_id=alert, reason="fait"))
    assert by_owner.accepted, by_owner.rejection
