"""What a rupture-risk rule returns: a finding, the facts behind it, and rule metadata."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from domain.disclosure import rule_entry, rule_label
from domain.values import AlertSeverity

if TYPE_CHECKING:
    from domain.rules.settings import TerritorySettings


class ServiceFinder(Protocol):
    """The directory of services as the rules' texts name it (a port: the engine receives the
    directory's adapter, services/directory/finder.py). Each answer is a list of display names
    ("ISM Interprétariat (Rouen)"), best first, of services that can take the person now."""

    def interpreting_services(self, language: str | None, at: datetime) -> list[str]: ...

    def accepting_gps(self, commune: str | None, languages: Sequence[str], at: datetime) -> list[str]: ...


class FactRef(BaseModel):
    """A fact of the pathway state that triggered (or is missing for) a finding.

    The rules see state, not events: `fact` names the fact, `ref` the entity it is about
    (`appointment:<id>`, `referral:<id>`, `pathway`...), `events` the event types that can
    have established it, so that the engine — which sees the events — maps the reference to
    event ids (the latest event of one of those types about `ref`).
    """

    model_config = ConfigDict(frozen=True)

    fact: str
    ref: str
    events: tuple[str, ...] = ()
    at: datetime | None = None

    def __str__(self) -> str:
        return f"{self.fact}@{self.ref}"


class RiskFinding(BaseModel):
    """One risk found on one pathway. `(rule_id, subject)` identifies the risk: the engine
    raises an alert for a key that has no open alert, and never a second one while it is open."""

    model_config = ConfigDict(frozen=True)

    rule_id: str
    #: What the risk is about: "exit", "coverage", "appointment:<id>", "referral:<id>"...
    subject: str
    owner_agency: str
    #: French: shown as is to the owner agency.
    suggested_action: str
    severity: AlertSeverity
    triggering_facts: tuple[FactRef, ...] = ()
    #: When the risk began: the threshold crossed, or the fact recorded.
    since: datetime
    #: By when the next step must be done (the exit, the appointment...), if there is such a moment.
    deadline: datetime | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule_id, self.subject)

    @property
    def fact_refs(self) -> list[str]:
        return [str(f) for f in self.triggering_facts]


class Resolution(BaseModel):
    """An open alert whose risk is no longer found, and why (in French)."""

    model_config = ConfigDict(frozen=True)

    alert_id: UUID | None
    rule_id: str
    subject: str
    reason: str


Check = Callable[[Any, datetime, "TerritorySettings"], list[RiskFinding]]
NextDeadline = Callable[[Any, datetime, "TerritorySettings"], "datetime | None"]


@dataclass(frozen=True)
class Rule:
    """A rule of the catalogue. `deadline_driven`: the rule can start firing by the mere passing
    of time (its `next_deadline` tells when); otherwise only a new fact makes it fire."""

    rule_id: str
    check: Check
    next_deadline: NextDeadline
    deadline_driven: bool

    def __post_init__(self) -> None:
        rule_entry(self.rule_id)  # a rule without a catalogue entry (title, category) cannot exist

    @property
    def title(self) -> str:
        """The French title, from the disclosure catalogue (the one definition)."""
        return rule_label(self.rule_id)
