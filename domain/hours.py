"""Opening hours in the OpenStreetMap `opening_hours` format (data·inclusion `horaires_accueil`),
parsed and evaluated by `opening-hours-py` with the French public holidays (`PH off`)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache

from opening_hours import OpeningHours, ParserError

from domain import errors


class InvalidOpeningHours(errors.DomainError):
    default_reason = "Horaires invalides : format OpenStreetMap attendu (ex. « Mo-Fr 08:30-12:30; PH off »)."
    default_field = "horaires_accueil"


@lru_cache(maxsize=4096)
def _parsed(expression: str) -> OpeningHours:
    return OpeningHours(expression, country="FR")


def check_opening_hours(expression: str, field: str = "horaires_accueil") -> None:
    try:
        _parsed(expression)
    except (ParserError, SyntaxError, ValueError):
        raise InvalidOpeningHours(field=field) from None


def is_open(expression: str, at: datetime) -> bool:
    """Open at `at` (local wall-clock time of the service: the directory is one territory's).
    Remembered per expression and minute: a match asks it of thousands of services at once,
    most sharing a handful of expressions."""
    return _is_open(expression, at.replace(tzinfo=None, second=0, microsecond=0))


@lru_cache(maxsize=65536)
def _is_open(expression: str, minute: datetime) -> bool:
    return bool(_parsed(expression).is_open(minute))


def next_opening(expression: str, at: datetime) -> datetime | None:
    """When it opens next after `at` (None: never, as far as the expression says)."""
    moment = at.replace(tzinfo=None)
    oh = _parsed(expression)
    if oh.is_open(moment):
        return moment
    change = oh.next_change(moment)
    return change.replace(tzinfo=None) if change is not None else None
