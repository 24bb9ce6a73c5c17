"""The write matrix through GraphQL: every command sent as a client would, by every professional
role (the dpo, the analyst and the administrators included) of an agency in every place of a
pathway, answered exactly as THE write table decides (tests/write_matrix.py: the same oracle
as the handler and ingest walk). Here every command is sent by roles and participants drawn by
hypothesis; the exhaustive product runs in the integration suite
(tests/integration/test_write_matrix_graphql.py)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain import disclosure, writepolicy
from domain.values import ParticipantRole
from gateway.mutations import NOT_MUTATIONS, camel_path
from tests.tokens import token
from tests.unit.gateway.conftest import Api, mutation_query, served
from tests.write_matrix import (NOW, PARTICIPANTS, ROLES, Outcome, expected, observed, refused_at_the_entrance,
                                sample_fields)

LEAD, MEMBER = "usmp", "siao"
ENGINE = {"agency": "relais", "professional": "risk-engine", "role": "moteur de règles"}
#: Erasure has no per-pathway mutation (erasePerson, by person, for the DPO: test_privacy_erasure_gateway.py).
GRAPHQL_COMMANDS = sorted(n for n in disclosure.COMMANDS if writepolicy.WRITE_POLICY[n].writer is not writepolicy.Writer.OPENER
                          and n not in NOT_MUTATIONS)


@functools.cache
def bearer(agency: str, role: str) -> str:
    """One token per agency and role for the whole walk (signing is the walk's dearest step)."""
    return token(agency, role, ttl_seconds=3 * 3600)


def _handle(api: Api, name: str, actor: dict[str, str], pid: str, /, **fields: Any) -> None:
    """The setting up (opening, joining, the engine's alert): straight to the runtime's command
    handler, which reads the event store as the mutations do, so nothing waits on the read models."""
    body = {**sample_fields(name), **fields, "command_id": str(uuid.uuid4()), "pathway_id": pid, "actor": actor,
            "occurred_at": fields.get("occurred_at", NOW.isoformat())}
    result = api.client.app.state.gateway.pathways.handle_payload(name, body)
    assert result.accepted, (name, result.rejection)


def pathway_with(api: Api, participant: ParticipantRole | None) -> str:
    """A detention pathway led by `usmp`, the `siao` taking part as `participant` (None: not at all)."""
    pid = str(uuid.uuid4())
    lead = {"agency": LEAD, "professional": "pro-lead", "role": "medecin"}
    _handle(api, "OpenDetentionPathway", lead, pid, person_ref="P-abc", territory="76", lead_agency=LEAD, prison="CP",
            occurred_at=(datetime.now(timezone.utc) - timedelta(hours=1)).isoformat())
    if participant not in (None, ParticipantRole.LEAD):
        _handle(api, "AddAgency", lead, pid, agency=MEMBER, role=participant.value)
    return pid


def through_graphql(api: Api, name: str, role: str, participant: ParticipantRole | None) -> tuple[Outcome, Outcome, Any]:
    """Command `name` sent through the GraphQL mutation by `role` of the agency placed as
    `participant` on a fresh pathway: (what the table decides, what GraphQL answered in the
    same terms, the raw answer)."""
    pid = pathway_with(api, participant)
    fields = {**sample_fields(name, graphql=True), "pathwayId": pid, "commandId": str(uuid.uuid4()),
              "occurredAt": datetime.now(timezone.utc).isoformat()}
    if writepolicy.WRITE_POLICY[name].writer is writepolicy.Writer.ALERT_OWNER:
        alert = str(uuid.uuid4())  # the lead's alert, not the member's
        _handle(api, "RaiseAlert", ENGINE, pid, alert_id=alert, rule_id="stalled", subject="s-1", owner_agency=LEAD,
                severity="high", triggering_event_ids=[])
        fields["alertId"] = alert
    agency = LEAD if participant is ParticipantRole.LEAD else MEMBER
    response = api.post(mutation_query(name), {"input": fields}, as_=bearer(agency, role))
    assert response.status_code == 200, response.text
    body = response.json()
    want = expected(name, role, participant)
    want = Outcome(want.refused, want.code, camel_path(want.field)) if want.refused else want
    if body.get("errors"):
        # A role without any case need is refused at the door, before the pathway is loaded.
        codes = [e.get("extensions", {}).get("code") for e in body["errors"]]
        assert role not in disclosure.CASE_ROLES and codes == ["FORBIDDEN"], body
        return (refused_at_the_entrance(want, "FORBIDDEN", None),) * 2 + (body,)
    out = body["data"][name[0].lower() + name[1:]]
    return want, observed(out["__typename"] == "CommandAccepted", out.get("code"), out.get("field")), out


@pytest.fixture(scope="module")
def matrix_api(tmp_path_factory) -> Iterator[Api]:
    """One gateway for the whole walk: every cell works on pathways of its own."""
    with served(tmp_path_factory.mktemp("write-matrix")) as api:
        limiter = api.client.app.state.gateway.rate_limiter
        limiter.capacity, limiter.rate = 1e9, 1e9  # thousands of requests from a handful of tokens
        yield api


@pytest.mark.parametrize("name", GRAPHQL_COMMANDS)
@settings(max_examples=8, deadline=None)
@given(role=st.sampled_from(ROLES), participant=st.sampled_from(PARTICIPANTS))
def test_through_graphql_each_command_is_answered_as_the_write_table_says(matrix_api, name, role, participant):
    want, got, raw = through_graphql(matrix_api, name, role, participant)
    assert got == want, f"{name} par {role} ({participant}) : {got} au lieu de {want} — {raw}"


def test_the_graphql_walk_covers_every_mutation_of_the_catalogue():
    assert set(GRAPHQL_COMMANDS) | set(NOT_MUTATIONS) | {n for n, r in writepolicy.WRITE_POLICY.items()
                                                          if r.writer is writepolicy.Writer.OPENER} == set(writepolicy.WRITE_POLICY)
    assert {"dpo", "analyste", "admin_structure", "admin_territoire", "dpo_regional"} <= set(ROLES)
