"""The write matrix's one oracle: what THE write table (domain.writepolicy) decides for one
command sent by one professional role of one participant of a pathway, and the sample
fields the matrix sends. The handler and ingest walk (tests/unit/pathways/test_write_policy_matrix.py)
and the GraphQL walks (tests/unit/gateway/test_write_matrix_graphql.py, exhaustive in
tests/integration/test_write_matrix_graphql.py) all compare what they observe with
:func:`expected`, so that no route can drift from the table unnoticed.

The oracle is composed from the table's own parts (`WRITE_POLICY`, `participant_may_send`,
`role_may_send`) in the order the policy promises (membership, agency, role), not by calling
`check_write`, so that a route which skips or reorders a check disagrees with it.
"""

from __future__ import annotations

import enum
import types as pytypes
import typing
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Union

from domain import disclosure, writepolicy
from domain.values import ParticipantRole

NOW = datetime.now(timezone.utc)
#: Codes a policy refusal answers (the domain's own refusals have other codes).
POLICY_CODES = frozenset({"FORBIDDEN", writepolicy.UNKNOWN_PATHWAY_CODE})
#: Every professional role a token or an inbound message may carry, the non-case ones included
#: (dpo, analyste, the administrators): the table must refuse them every write.
ROLES = tuple(disclosure.Role)
#: Every place an agency may have in a pathway; None: it takes no part in it.
PARTICIPANTS: tuple[ParticipantRole | None, ...] = (None, *ParticipantRole)


def participant_id(participant: ParticipantRole | None) -> str:
    return participant.value if participant is not None else "non_membre"


@dataclass(frozen=True)
class Outcome:
    """A command let through by the write table (the domain may still refuse it on its own
    rules: a closed pathway, an unknown appointment) or refused by it with `code` on `field`
    (the command's snake-case path, as the policy names it)."""

    refused: bool
    code: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        return f"refusé {self.code} sur {self.field}" if self.refused else "laissé passer"


LET_THROUGH = Outcome(refused=False)


def expected(name: str, role: str, participant: ParticipantRole | None) -> Outcome:
    """What the table decides for command `name` sent by `role` of an agency taking part as
    `participant` (the lead for LEAD; an alert, if the command names one, is the lead's)."""
    writer = writepolicy.WRITE_POLICY[name].writer
    if participant is None:
        return Outcome(True, writepolicy.UNKNOWN_PATHWAY_CODE, "pathway_id")
    if not writepolicy.participant_may_send(name, participant, is_lead=participant is ParticipantRole.LEAD,
                                            owns_alert=False):
        return Outcome(True, "FORBIDDEN", "alert_id" if writer is writepolicy.Writer.ALERT_OWNER else "actor.agency")
    if not writepolicy.role_may_send(name, role, disclosure.command_category(name, {"category": "housing"})):
        return Outcome(True, "FORBIDDEN", "actor.role")
    return LET_THROUGH


def observed(accepted: bool, code: str | None, field: str | None) -> Outcome:
    """A route's answer in the oracle's terms: refused by the policy, or let through."""
    return Outcome(True, code, field) if not accepted and code in POLICY_CODES else LET_THROUGH


def _sample(annotation: Any, enum_by_name: bool) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _sample(typing.get_args(annotation)[0], enum_by_name)
    if origin in (Union, pytypes.UnionType):
        return _sample(next(a for a in typing.get_args(annotation) if a is not type(None)), enum_by_name)
    if origin is list:
        return [_sample(typing.get_args(annotation)[0], enum_by_name)]
    if annotation is uuid.UUID:
        return str(uuid.uuid4())
    if annotation is bool:
        return False
    if annotation is date:
        return NOW.date().isoformat()
    if isinstance(annotation, type) and issubclass(annotation, datetime) or "atetime" in getattr(annotation, "__name__", ""):
        return NOW.isoformat()
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        first = next(iter(annotation))
        return first.name if enum_by_name else first.value
    return "x-valeur"


def sample_fields(name: str, *, graphql: bool = False) -> dict[str, Any]:
    """Well-typed fields of command `name`, envelope aside (their content may still be refused
    by the domain): snake-case keys and enum values, or, with `graphql`, the schema's camelCase
    keys and enum names."""
    from gateway.mutations import camel
    from services.pathways.commands import COMMANDS, ENVELOPE

    fields = {camel(f) if graphql else f: _sample(info.annotation, graphql)
              for f, info in COMMANDS[name].model_fields.items() if f not in ENVELOPE}
    if name == "RecordNeed":  # a category every case role may write: the role check is the table's
        fields["category"] = "HOUSING" if graphql else "housing"
    return fields


def refused_at_the_entrance(want: Outcome, code: str, field: str | None) -> Outcome:
    """What a route answers when it refuses a command before the pathway is even loaded (ingest:
    an engine-only command type; GraphQL: a role without any case need): only what the table
    refuses anyway may be refused there, and the answer names no pathway."""
    assert want.refused, f"refusé à l'entrée alors que la table le laisse passer ({code})"
    return Outcome(True, code, field)
