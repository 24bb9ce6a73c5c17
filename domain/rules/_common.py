"""Helpers shared by the rules: local time, owners, French formatting, candidates.

A rule computes *candidates*: the findings its facts make possible, each with the moment it
starts to apply (`start`; None for a rule that fires on the fact alone). `check` keeps those
whose moment has come; `next_deadline` is the earliest moment still to come. Both come from
the same candidates, so the deadline and the findings cannot disagree.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from domain.disclosure import agency_may_act
from domain.rules.settings import TerritorySettings
from domain.rules.types import RiskFinding
from domain.values import SYSTEM_AGENCY, ParticipantRole

UTC = timezone.utc


@dataclass(frozen=True)
class Candidate:
    start: datetime | None  # None: fires as soon as the fact is there
    finding: RiskFinding


def aware(moment: datetime) -> datetime:
    """A naive datetime is read as UTC (never as the machine's local time: no hidden clock)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def like(moment: datetime, reference: datetime) -> datetime:
    """`moment` in the same awareness as `reference` (naive UTC if `reference` is naive)."""
    moment = aware(moment).astimezone(UTC)
    return moment.replace(tzinfo=None) if reference.tzinfo is None else moment


def local_day_start(day: date, settings: TerritorySettings) -> datetime:
    """The first instant of `day` in the territory, in UTC."""
    return datetime.combine(day, time(0, 0), tzinfo=settings.tz).astimezone(UTC)


def local_date(moment: datetime, settings: TerritorySettings) -> date:
    return aware(moment).astimezone(settings.tz).date()


def fmt_day(day: date) -> str:
    return day.strftime("%d/%m")


def fmt_moment(moment: datetime, settings: TerritorySettings) -> str:
    local = aware(moment).astimezone(settings.tz)
    return f"{local:%d/%m} à {local.hour}h{local.minute:02d}"


def fired(candidates: Iterable[Candidate], now: datetime) -> list[RiskFinding]:
    now = aware(now)
    return [c.finding for c in candidates if c.start is None or aware(c.start) <= now]


def earliest(candidates: Iterable[Candidate], now: datetime) -> datetime | None:
    now_a = aware(now)
    future = [aware(c.start) for c in candidates if c.start is not None and aware(c.start) > now_a]
    return like(min(future), now) if future else None


def is_active(pathway: Any) -> bool:
    return not getattr(pathway, "is_closed", False)


def participant_with_role(pathway: Any, *roles: ParticipantRole) -> str | None:
    for agency, role in pathway.participants.items():
        if role in roles and agency != SYSTEM_AGENCY:
            return agency
    return None


def acting_owner(pathway: Any, rule_id: str, subject: str, *candidates: str | None) -> str:
    """The owner of an alert: the first of `candidates` (the agencies responsible for the next
    step, in the rule's order) that takes part in the pathway and has staff able to act on it
    (read its text, send a command that resolves it: `disclosure.agency_may_act`); else the
    lead agency. Never an agency outside the pathway: nobody there would see the alert."""
    for agency in candidates:
        if agency and agency != SYSTEM_AGENCY and agency_may_act(pathway.participants.get(agency), rule_id, subject):
            return agency
    return pathway.lead_agency


def participants_with_role(pathway: Any, *roles: ParticipantRole) -> list[str]:
    return [a for a, r in pathway.participants.items() if r in roles and a != SYSTEM_AGENCY]


def fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)).lower()


def mentions(texts: Iterable[str | None], markers: Iterable[str]) -> bool:
    """Whether one of `markers` appears as a word in one of `texts` (case and accents ignored)."""
    words = [fold(m) for m in markers if m]
    for text in texts:
        if not text:
            continue
        folded = fold(text)
        if any(re.search(rf"(?<![a-z0-9]){re.escape(w)}(?![a-z0-9])", folded) for w in words):
            return True
    return False


def days(n: int) -> timedelta:
    return timedelta(days=n)
