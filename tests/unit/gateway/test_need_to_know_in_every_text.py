"""Property (issue 11): for every role without medical need, no medical text in any field of the
pathway it reads (the query, the `asOf` view and the subscription frames are built by the same
views), over generated pathways, with the disclosure catalogue as the oracle.

Every free text of the generated commands is replaced by a token of its own, so a token found
in an answer says which event it came from; the catalogue says which events are medical
(`domain.disclosure.Subjects`, in the pathway's order). The reader is given every consent, so
only the role's need to know can hide anything.
"""

from __future__ import annotations

from enum import Enum
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain import disclosure
from domain.values import InformationCategory
from gateway import permissions as p
from gateway.readside import replay
from gateway.store import EventStoreReader
from gateway.views import pathway_view, timeline_entry
from services.bootstrap import build_pathways_application
from services.settings import Settings
from tests.unit.pathways.strategies import AGENCIES, KINDS, LEAD, command_sequences, play

#: Fields naming an agency, a person, a place or a code list: not free text (and shared by
#: events of several categories by design).
NOT_TEXT = {"agency", "to_agency", "with_agency", "via_agency", "owner_agency", "escalated_to", "provider",
            "proposed_by", "prescribed_by", "handed_over_to", "pmi_agency", "person_ref", "territory",
            "lead_agency", "language", "subject", "rule_id", "collected_by"}
WITHOUT_MEDICAL_NEED = [role for role, needs in disclosure.ROLE_NEEDS.items()
                        if needs and InformationCategory.MEDICAL not in needs]


def _tokenised(commands: list[Any]) -> list[Any]:
    out = []
    for n, command in enumerate(commands):
        update = {name: f"⟪{n}.{name}⟫" for name, value in command
                  if isinstance(value, str) and not isinstance(value, Enum) and name not in NOT_TEXT}
        out.append(command.model_copy(update=update))
    return out


def _tokens(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value} if value.startswith("⟪") else set()
    if isinstance(value, list | tuple):
        return set().union(*(_tokens(v) for v in value)) if value else set()
    return set()


def _medical_tokens(history: list[tuple[str, Any]]) -> set[str]:
    """The tokens only medical events carry (the oracle)."""
    subjects = disclosure.Subjects()
    medical: set[str] = set()
    other: set[str] = set()
    for _, event in history:
        data = disclosure.event_data(event)
        category = subjects.categorise(type(event).__name__, data)
        found = set().union(*(_tokens(v) for v in data.values()))
        (medical if category is InformationCategory.MEDICAL else other).update(found)
    return medical - other


def _texts(obj: Any) -> list[str]:
    """Every text of a view (a strawberry dataclass tree), private fields aside."""
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, list | tuple):
        return [t for item in obj for t in _texts(item)]
    fields = getattr(type(obj), "__dataclass_fields__", None)
    if fields is None:
        return []
    return [t for name in fields if not name.startswith("_") for t in _texts(getattr(obj, name))]


@pytest.fixture
def app(tmp_path):
    return build_pathways_application(Settings(state_dir=tmp_path))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), kind=st.sampled_from(KINDS))
def test_no_role_without_medical_need_reads_a_medical_text_anywhere(app, data: st.DataObject, kind: str) -> None:
    pathway_id = uuid4()
    play(app, kind, pathway_id, _tokenised(data.draw(command_sequences(kind, pathway_id))))
    history = EventStoreReader(app).history(pathway_id)
    medical = _medical_tokens(history)
    read = replay(history)
    record = read.records([pathway_id])[pathway_id]
    rows, _ = read.timeline(pathway_id, first=500, after=None)
    for agency in (LEAD, AGENCIES[1]):
        everything = {a: list(InformationCategory) for a in record.participants}
        access = p.PathwayAccess(participants=record.access.participants, consents=everything)
        for role in WITHOUT_MEDICAL_NEED:
            reader = p.Principal(agency=agency, professional="lecteur", role=role)
            view = pathway_view(record, reader, read, access=access)
            if view is None:  # an agency the sequence removed reads nothing at all
                assert agency not in record.participants
                continue
            shown = _texts(view) + _texts([timeline_entry(r, view._disclosure, None) for r in rows])  # noqa: SLF001
            leaked = {token for token in medical for text in shown if token in text}
            assert not leaked, (role.value, agency, sorted(leaked))
