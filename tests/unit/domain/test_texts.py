"""Texts per category (domain.texts): each reader reads only the parts it may see."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from domain import texts
from domain.values import InformationCategory

categories = st.sampled_from(list(InformationCategory))
words = st.text(alphabet="abcdéèà ", min_size=1, max_size=12).filter(lambda w: w.strip())
parts = st.lists(st.tuples(words, categories, st.sampled_from(["", " autre "])), min_size=1, max_size=5).map(
    lambda drawn: [texts.Part(f"⟨{n}:{w}⟩", c, i) for n, (w, c, i) in enumerate(drawn)])  # each text its own


@given(parts=parts, own=categories, visible=st.sets(categories))
def test_a_reader_reads_every_part_it_may_see_and_none_it_may_not(parts, own, visible) -> None:
    stored = texts.compose(*parts, category=own)
    read = texts.render(stored, visible, own) or ""
    for p in parts:
        if p.category in visible:
            assert " ".join(p.text.split()) in read
        else:
            assert " ".join(p.text.split()) not in read
    assert texts.render(stored, set(InformationCategory), own) == texts.full(stored, own)


def test_a_plain_text_is_one_part_of_the_category_it_is_given() -> None:
    assert texts.render("Confirmer l'hébergement.", {InformationCategory.SOCIAL}, "social") == "Confirmer l'hébergement."
    assert texts.render("Confirmer l'hébergement.", {InformationCategory.MEDICAL}, "social") is None
    assert texts.compose("Un texte ", "sans parties.", category="social") == "Un texte sans parties."


def test_the_neutral_wording_replaces_the_medical_part() -> None:
    stored = texts.compose("Confirmer l'hébergement avant ",
                           texts.part("le rendez-vous cardiologie du 04/12", "medical", "la sortie du 04/12"), ".",
                           category="social")
    assert texts.render(stored, {InformationCategory.SOCIAL}, "social") == "Confirmer l'hébergement avant la sortie du 04/12."
    assert texts.full(stored) == "Confirmer l'hébergement avant le rendez-vous cardiologie du 04/12."
