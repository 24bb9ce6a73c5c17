"""The published list of error codes (docs/graphql/errors.md) is the code's: every code raised by
name has its meaning, none is listed that nothing raises, and the file is the generated one."""

from __future__ import annotations

import pytest

from domain.errors import INPUT_ERRORS, input_error
from gateway.errorcodes import EDGE_ERRORS, ROOT, domain_refusals, markdown, raised_codes
from gateway.hardening import _variable_error
from graphql import GraphQLError
from services.pathways.handler import CommandRejected, parse_command


def test_the_published_error_list_is_the_generated_one() -> None:
    assert (ROOT / "docs" / "graphql" / "errors.md").read_text(encoding="utf-8") == markdown(), \
        "régénérez : python -m gateway.errorcodes > docs/graphql/errors.md"


def test_every_code_raised_by_name_is_in_the_published_list() -> None:
    listed = set(EDGE_ERRORS) | set(INPUT_ERRORS) | set(domain_refusals())
    unlisted = {code: files for code, files in raised_codes().items() if code not in listed}
    assert unlisted == {}, "ajoutez leur signification à gateway.errorcodes.EDGE_ERRORS"


def test_no_code_is_listed_that_nothing_raises() -> None:
    assert set(EDGE_ERRORS) - set(raised_codes()) == set()


def test_every_listed_code_follows_the_one_convention_and_has_a_meaning() -> None:
    for code, meaning in {**EDGE_ERRORS, **INPUT_ERRORS, **domain_refusals()}.items():
        assert code == code.upper() and " " not in code and meaning.strip(), code


@pytest.mark.parametrize(("message", "payload", "kind"), [
    ("Variable '$input' got invalid value 'x' at 'input.pathwayId'; Value cannot represent a UUID: 'x'.",
     {"pathway_id": "x"}, "uuid_parsing"),
    ("Variable '$input' got invalid value {} at 'input'; Field 'releaseDate' of required type 'Date!' was not provided.",
     {"release_date": None, "drop": "release_date"}, "missing"),
    ("Variable '$input' got invalid value 'x' at 'input.surprise'; Field 'surprise' is not defined by type 'X'.",
     {"surprise": 1}, "extra_forbidden"),
])
def test_a_variable_and_a_kafka_payload_with_the_same_mistake_get_the_same_code_and_reason(
        message: str, payload: dict, kind: str) -> None:
    french, code, _field = _variable_error(GraphQLError(message))
    expected_code, reason = input_error(kind)
    assert code == expected_code and reason in french
    body = {"command_id": "00000000-0000-4000-8000-000000000001", "pathway_id": "00000000-0000-4000-8000-000000000002",
            "actor": {"agency": "pass", "professional": "p", "role": "medecin"},
            "occurred_at": "2026-03-03T10:00:00+01:00", "release_date": "2026-04-01"}
    drop = payload.pop("drop", None)
    body |= payload
    if drop:
        body.pop(drop)
    with pytest.raises(CommandRejected) as refused:
        parse_command("ScheduleRelease", body)
    assert refused.value.code == code and refused.value.reason == reason
