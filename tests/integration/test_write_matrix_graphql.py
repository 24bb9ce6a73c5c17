"""The write matrix through GraphQL, exhaustive: every command x every professional role x every
place of an agency in a pathway (about 11 700 mutations, some five minutes on two cores, hence
here and not in the unit suite, which draws a sample of it: tests/unit/gateway/test_write_matrix_graphql.py),
each answered exactly as THE write table decides (tests/write_matrix.py, the oracle the handler
and ingest walk use too)."""

from __future__ import annotations

import pytest

from domain.values import ParticipantRole
from tests.unit.gateway.test_write_matrix_graphql import GRAPHQL_COMMANDS, matrix_api, through_graphql  # noqa: F401 - fixture
from tests.write_matrix import PARTICIPANTS, ROLES, participant_id

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("participant", PARTICIPANTS, ids=participant_id)
@pytest.mark.parametrize("role", ROLES)
def test_through_graphql_every_command_is_answered_as_the_write_table_says(matrix_api, role: str,
                                                                           participant: ParticipantRole | None):
    wrong = []
    for name in GRAPHQL_COMMANDS:
        want, got, raw = through_graphql(matrix_api, name, role, participant)
        if got != want:
            wrong.append(f"{name} : {got} au lieu de {want} — {raw}")
    assert not wrong, "\n".join(wrong)
