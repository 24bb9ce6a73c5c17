"""contact-lost: contact attempts failed N times in a row, or the phone number is known to be
gone (changed or lost) and the person has not been reached since (MdM Rouen: "changement ou
absence de numéro de portable"). Owner: the lead agency, which finds another way (the shelter,
the domiciliation, a street team) and records the new number."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.rules._common import Candidate, aware, fired, fmt_day, is_active, local_date
from domain.rules.settings import TerritorySettings
from domain.rules.types import FactRef, RiskFinding
from domain.values import AlertSeverity, PhoneStatus

RULE_ID = "contact-lost"


def phone_gone(contact: Any) -> bool:
    if contact.phone not in (PhoneStatus.CHANGED, PhoneStatus.LOST):
        return False
    reached, changed = contact.last_reached_at, contact.phone_changed_at
    return not (reached is not None and changed is not None and aware(reached) > aware(changed))


def contact_lost(pathway: Any, settings: TerritorySettings) -> bool:
    """The person cannot be reached (the phone is gone, or the attempts failed N times)."""
    contact = pathway.contact
    return phone_gone(contact) or contact.failed_attempts >= settings.contact_failed_attempts


def _candidates(pathway: Any, settings: TerritorySettings) -> list[Candidate]:
    if not is_active(pathway) or not contact_lost(pathway, settings):
        return []
    contact = pathway.contact
    gone = phone_gone(contact)
    failing = contact.failed_attempts >= settings.contact_failed_attempts
    facts = []
    parts = []
    if gone:
        word = "a changé" if contact.phone is PhoneStatus.CHANGED else "n'existe plus"
        parts.append(f"le numéro de téléphone {word}")
        facts.append(FactRef(fact=f"phone_{contact.phone.value}", ref="contact",
                             events=("PhoneStatusRecorded", "GpVisitOutcomeRecorded"), at=contact.phone_changed_at))
    if failing:
        parts.append(f"{contact.failed_attempts} tentatives de contact sans réponse")
        facts.append(FactRef(fact="contact_attempts_failed", ref="contact",
                             events=("ContactAttempted", "FollowUpCallMade"), at=contact.last_attempt_at))
    last = (
        f" ; dernier contact abouti le {fmt_day(local_date(contact.last_reached_at, settings))}"
        if contact.last_reached_at is not None else ""
    )
    since = max(aware(f.at) for f in facts if f.at is not None) if any(f.at for f in facts) else aware(pathway.opened_at)
    return [Candidate(start=None, finding=RiskFinding(
        rule_id=RULE_ID,
        subject="contact",
        owner_agency=pathway.lead_agency,
        suggested_action=(
            f"Personne injoignable ({' et '.join(parts)}{last}) : la retrouver par la structure "
            "d'hébergement, la domiciliation ou une équipe de rue, puis enregistrer le nouveau numéro."
        ),
        severity=AlertSeverity.HIGH,
        triggering_facts=tuple(facts),
        since=since,
    ))]


def check_contact_lost(pathway: Any, now: datetime, settings: TerritorySettings) -> list[RiskFinding]:
    return fired(_candidates(pathway, settings), now)


def next_deadline_contact_lost(pathway: Any, now: datetime, settings: TerritorySettings) -> datetime | None:
    return None  # fires on the fact alone
