"""Texts per category: THE one way a generated text (an alert's suggested action, its
resolution, a timeline sentence) is built when its parts reveal different things.

A text is a sequence of :class:`Part`, each carrying a category of the disclosure catalogue
(:mod:`domain.disclosure`) and, optionally, what a reader who may not see that category reads
in its place (`instead`). Each reader gets only the parts its role and the person's consent
allow (:func:`render`), so an owner without medical need still reads an actionable sentence:
"Confirmer l'hébergement avant l'échéance du 04/12." where the care team reads "… avant le
rendez-vous cardiologie du 04/12.".

The parts travel as one string (:func:`compose`: a small JSON document marked by its first
characters), so events, commands and read models keep one text column; a plain string (a
text written before parts existed, or by hand) is one part of the category it is given.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from domain.values import InformationCategory

Category = InformationCategory

#: The first characters of a composed text (never those of a French sentence).
MARK = '{"relais.parts":'


@dataclass(frozen=True)
class Part:
    text: str
    category: Category
    #: What a reader who may not see `category` reads instead ("": nothing).
    instead: str = ""


def part(text: str, category: Category | str, instead: str = "") -> Part:
    return Part(text, Category(category), instead)


def compose(*parts: Part | str, category: Category | str) -> str:
    """The text of `parts` as one string; a plain `str` part takes `category` (the text's own,
    e.g. the rule's). A text whose parts all carry `category` stays a plain string."""
    own = Category(category)
    made = [p if isinstance(p, Part) else Part(p, own) for p in parts if p]
    if all(p.category is own and not p.instead for p in made):
        return "".join(p.text for p in made)
    return MARK + json.dumps([[p.text, p.category.value, p.instead] for p in made], ensure_ascii=False,
                             separators=(",", ":")) + "}"


def parts_of(value: str, category: Category | str) -> tuple[Part, ...]:
    """The parts of a stored text; a plain string is one part of `category`."""
    if value.startswith(MARK) and value.endswith("}"):
        try:
            return tuple(Part(str(t), Category(c), str(i)) for t, c, i in json.loads(value[len(MARK):-1]))
        except (ValueError, TypeError):
            pass  # not ours after all: shown as written, under its own category
    return (Part(value, Category(category)),)


def render(value: str | None, visible: Iterable[Category], category: Category | str,
           shown: set[Category] | None = None) -> str | None:
    """What a reader who sees `visible` reads of `value` (None: nothing at all); adds to
    `shown` the categories of the parts it reads."""
    if value is None:
        return None
    can_see = set(visible)
    out: list[str] = []
    for p in parts_of(value, category):
        if p.category in can_see:
            out.append(p.text)
            if shown is not None:
                shown.add(p.category)
        else:
            out.append(p.instead)
    text = " ".join("".join(out).split())
    return text or None


def full(value: str | None, category: Category | str = Category.ADMINISTRATIVE) -> str | None:
    """The whole text, every part (for whoever may see everything: logs stay out of it)."""
    return render(value, Category, category)


def categories_of(value: str | None, category: Category | str) -> frozenset[Category]:
    """Every category a text's parts carry (what reading it whole reveals)."""
    if value is None:
        return frozenset()
    return frozenset(p.category for p in parts_of(value, category))
