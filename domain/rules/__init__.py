"""The rupture-risk rules: pure functions of (pathway state, now, territory settings).

Each rule of the catalogue (../shared/DOMAIN.md, "Rupture-risk rules") is
`check_<rule>(pathway, now, settings) -> list[RiskFinding]` with its
`next_deadline_<rule>(pathway, now, settings) -> datetime | None`: the earliest moment after
`now` when the rule could start firing with no new event (None for the rules that fire on a
fact alone). `evaluate` runs the whole catalogue, `next_deadline` is the min of the deadlines,
`new_findings` / `resolved_findings` compare findings with the open alerts.

No I/O, no clock: `now` is passed in. A closed pathway raises nothing.

How the risk engine uses it, on each event of a pathway and when its indexed deadline passes::

    findings = evaluate(pathway, now, settings)
    for finding in new_findings(pathway.open_alerts, findings):     # never twice while open
        pathway.raise_alert(..., rule_id=finding.rule_id, subject=finding.subject, ...)
    for resolution in resolved_findings(pathway.open_alerts, findings, pathway):
        pathway.resolve_alert(resolution.alert_id, reason=resolution.reason, ...)
    index(pathway.id, next_deadline(pathway, now, settings))        # None: wait for an event

`(rule_id, subject)` is the identity of a risk. Findings of the rules marked `deadline_driven`
only appear with time (never disappear with it): between two events, the findings can change
only at `next_deadline`. `RiskFinding.triggering_facts` name facts of the state with the event
types that establish them; the engine maps them to event ids (it sees the events).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.rules._common import aware, like
from domain.rules.appointments import (
    check_interpreter_missing,
    check_missed_appointment_unfollowed,
    next_deadline_interpreter_missing,
    next_deadline_missed_appointment_unfollowed,
)
from domain.rules.consent import check_consent_missing, next_deadline_consent_missing
from domain.rules.contact import check_contact_lost, next_deadline_contact_lost
from domain.rules.housing import (
    check_exit_without_housing,
    next_deadline_exit_without_housing,
    next_severity_change_exit_without_housing,
)
from domain.rules.newborn import check_newborn_without_follow_up, next_deadline_newborn_without_follow_up
from domain.rules.referrals import (
    check_referral_declined,
    check_referral_unverified,
    next_deadline_referral_declined,
    next_deadline_referral_unverified,
)
from domain.rules.refusal import check_care_refused, next_deadline_care_refused
from domain.rules.resolution import explain, new_findings, resolved_findings
from domain.rules.rights import (
    check_rights_not_open,
    next_deadline_rights_not_open,
    next_severity_change_rights_not_open,
)
from domain.rules.screening import check_screening_overdue, next_deadline_screening_overdue
from domain.rules.settings import DEFAULT_SETTINGS, TerritorySettings, settings_for
from domain.rules.stalled import check_stalled, next_deadline_stalled
from domain.rules.treatment import check_treatment_continuity, next_deadline_treatment_continuity
from domain.rules.types import FactRef, Resolution, RiskFinding, Rule

#: The catalogue, in the order of DOMAIN.md.
CATALOGUE: tuple[Rule, ...] = (
    Rule("exit-without-housing", check_exit_without_housing,
         next_deadline_exit_without_housing, deadline_driven=True),
    Rule("rights-not-open", check_rights_not_open,
         next_deadline_rights_not_open, deadline_driven=True),
    Rule("interpreter-missing", check_interpreter_missing,
         next_deadline_interpreter_missing, deadline_driven=True),
    Rule("referral-unverified", check_referral_unverified,
         next_deadline_referral_unverified, deadline_driven=True),
    Rule("missed-appointment-unfollowed", check_missed_appointment_unfollowed,
         next_deadline_missed_appointment_unfollowed, deadline_driven=True),
    Rule("contact-lost", check_contact_lost, next_deadline_contact_lost, deadline_driven=False),
    Rule("referral-declined", check_referral_declined,
         next_deadline_referral_declined, deadline_driven=False),
    Rule("treatment-continuity", check_treatment_continuity,
         next_deadline_treatment_continuity, deadline_driven=True),
    Rule("newborn-without-follow-up", check_newborn_without_follow_up,
         next_deadline_newborn_without_follow_up, deadline_driven=True),
    Rule("screening-overdue", check_screening_overdue,
         next_deadline_screening_overdue, deadline_driven=True),
    Rule("stalled", check_stalled, next_deadline_stalled, deadline_driven=True),
    Rule("consent-missing", check_consent_missing,
         next_deadline_consent_missing, deadline_driven=False),
    Rule("care-refused", check_care_refused,
         next_deadline_care_refused, deadline_driven=False),
)

RULES: dict[str, Rule] = {rule.rule_id: rule for rule in CATALOGUE}


def evaluate(pathway: Any, now: datetime, settings: TerritorySettings = DEFAULT_SETTINGS) -> list[RiskFinding]:
    """Every finding of the catalogue on `pathway` at `now` (none on a closed pathway)."""
    if getattr(pathway, "is_closed", False):
        return []
    findings: list[RiskFinding] = []
    for rule in CATALOGUE:
        if settings.rule_enabled(rule.rule_id):
            findings.extend(rule.check(pathway, now, settings))
    return findings


def next_deadline(pathway: Any, now: datetime, settings: TerritorySettings = DEFAULT_SETTINGS) -> datetime | None:
    """The earliest moment after `now` at which a rule could start firing with no new event:
    the engine indexes it and wakes the pathway then (None: only a new event can change things)."""
    if getattr(pathway, "is_closed", False):
        return None
    deadlines = [d for rule in CATALOGUE
                 if settings.rule_enabled(rule.rule_id) and (d := rule.next_deadline(pathway, now, settings)) is not None]
    return like(min(aware(d) for d in deadlines), now) if deadlines else None


def next_revision(pathway: Any, now: datetime, settings: TerritorySettings = DEFAULT_SETTINGS) -> datetime | None:
    """The earliest moment after `now` at which a finding already found changes with no new
    event (its severity band, as the deadline nears): the engine wakes the pathway then and
    updates the open alert (`AlertUpdated`) rather than raising a new one."""
    if getattr(pathway, "is_closed", False):
        return None
    moments = [m for m in (next_severity_change_exit_without_housing(pathway, now, settings),
                           next_severity_change_rights_not_open(pathway, now, settings)) if m is not None]
    return like(min(aware(m) for m in moments), now) if moments else None


__all__ = [
    "CATALOGUE", "DEFAULT_SETTINGS", "RULES", "FactRef", "Resolution", "RiskFinding", "Rule", "TerritorySettings",
    "check_care_refused", "check_consent_missing", "check_contact_lost", "check_exit_without_housing",
    "check_interpreter_missing", "check_missed_appointment_unfollowed", "check_newborn_without_follow_up",
    "check_referral_declined", "check_referral_unverified", "check_rights_not_open", "check_screening_overdue",
    "check_stalled", "check_treatment_continuity", "evaluate", "explain", "new_findings", "next_deadline",
    "next_deadline_care_refused", "next_deadline_consent_missing", "next_deadline_contact_lost",
    "next_deadline_exit_without_housing", "next_deadline_interpreter_missing",
    "next_deadline_missed_appointment_unfollowed", "next_deadline_newborn_without_follow_up",
    "next_deadline_referral_declined", "next_deadline_referral_unverified", "next_deadline_rights_not_open",
    "next_deadline_screening_overdue", "next_deadline_stalled", "next_deadline_treatment_continuity",
    "next_revision", "resolved_findings", "settings_for",
]
