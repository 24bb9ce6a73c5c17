"""The catalogue's personal fields (issue 11): what `split_personal` takes out of an event is
exactly its personal fields (the professional's id of `actor` included), and `merge_personal`
puts them back unchanged; the structure the indicators need stays out of it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from domain import disclosure
from domain.disclosure import PERSONAL_FIELDS, merge_personal, split_personal

values = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=20), st.lists(st.text(max_size=5)))
names = st.one_of(st.sampled_from(sorted(PERSONAL_FIELDS)), st.text(min_size=1, max_size=12).filter(
    lambda n: n not in PERSONAL_FIELDS and n != "actor"))
events = st.dictionaries(names, values, max_size=12)
actors = st.fixed_dictionaries({"agency": st.text(max_size=8), "professional": st.text(max_size=8),
                                "role": st.text(max_size=8)})


@given(events, st.one_of(st.none(), actors))
def test_split_then_merge_gives_back_the_event_and_the_rest_holds_no_personal_field(event, actor) -> None:
    if actor is not None:
        event = {**event, "actor": actor}
    rest, personal = split_personal(event)
    assert merge_personal(rest, personal) == event
    assert not PERSONAL_FIELDS & set(rest)
    assert "professional" not in rest.get("actor", {})
    assert set(personal) == (PERSONAL_FIELDS & set(event)) | ({"actor.professional"} if actor else set())


@given(events)
def test_an_erased_event_merges_with_every_personal_field_none_and_its_structure_intact(event) -> None:
    rest, personal = split_personal(event)
    erased = merge_personal(rest, dict.fromkeys(personal))
    assert {k: v for k, v in erased.items() if k not in PERSONAL_FIELDS} == rest
    assert all(erased[k] is None for k in personal)


def test_the_structure_indicators_and_disclosure_read_is_never_personal() -> None:
    # Categories are computed from these (domain.disclosure.own_category), indicators count them.
    structure = {"category", "rule_id", "subject", "severity", "outcome", "status", "territory", "lead_agency",
                 "to_agency", "need_id", "referral_id", "alert_id", "occurred_at", "timestamp", "originator_id",
                 "originator_version", "agency", "role", "categories"}
    assert not structure & PERSONAL_FIELDS
    assert "PersonalDataErased" in disclosure.EVENTS and "ErasePersonalData" in disclosure.COMMANDS
