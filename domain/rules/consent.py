"""consent-missing: an agency needed for the next step is not covered by the person's consent
to share (secret professionnel partagé: only between professionals taking part in the care, the
person informed and able to object).

Needed: every agency taking part in the pathway but the lead (which holds the record and
collects consent), the receiving agency of a referral still in progress, the SIAO of a housing
request, the agency a treatment was handed over to. Covered: consent to at least one category
of information. Owner: the lead agency (ask the person, or take the agency off the pathway)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.rules._common import Candidate, aware, fired, is_active
from domain.rules.settings import TerritorySettings
from domain.rules.types import FactRef, RiskFinding
from domain.values import SYSTEM_AGENCY, AlertSeverity, ReferralStatus

RULE_ID = "consent-missing"

_IN_PROGRESS = frozenset({ReferralStatus.REQUESTED, ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS, ReferralStatus.ON_HOLD})


def needed_agencies(pathway: Any) -> dict[str, tuple[FactRef, datetime | None]]:
    """agency -> (why it is needed, since when if known), in a stable order."""
    needed: dict[str, tuple[FactRef, datetime | None]] = {}

    def need(agency: str | None, fact: FactRef, at: datetime | None) -> None:
        if agency and agency != pathway.lead_agency and agency != SYSTEM_AGENCY:
            needed.setdefault(agency, (fact, at))

    for agency in pathway.participants:
        need(agency, FactRef(fact="participant", ref=f"agency:{agency}",
                             events=("AgencyJoined", "PmiLinked", "ConsentWithdrawn")), None)
    for referral in pathway.referrals.values():
        if referral.status in _IN_PROGRESS:
            need(referral.to_agency, FactRef(fact="referral_made", ref=f"referral:{referral.referral_id}",
                                             events=("ReferralMade", "OrientedToGp"), at=referral.made_at),
                 referral.made_at)
    for request in pathway.housing_requests.values():
        need(request.via_agency, FactRef(fact="housing_requested", ref=f"housing:{request.request_id}",
                                         events=("HousingRequested",), at=request.requested_at), request.requested_at)
    for treatment in getattr(pathway, "treatments", {}).values():
        need(treatment.handed_over_to, FactRef(fact="treatment_handed_over", ref=f"treatment:{treatment.treatment_id}",
                                               events=("TreatmentHandedOver",)), None)
    return needed


def _candidates(pathway: Any, settings: TerritorySettings) -> list[Candidate]:
    if not is_active(pathway):
        return []
    out = []
    for agency, (fact, at) in needed_agencies(pathway).items():
        if pathway.consents.get(agency):
            continue
        out.append(Candidate(start=None, finding=RiskFinding(
            rule_id=RULE_ID,
            subject=f"consent:{agency}",
            owner_agency=pathway.lead_agency,
            suggested_action=(
                f"Recueillir l'accord de la personne pour partager les informations utiles avec {settings.agency_name(agency)}, "
                "ou retirer cette structure du parcours."
            ),
            severity=AlertSeverity.MEDIUM,
            triggering_facts=(fact,),
            since=aware(at or pathway.opened_at),
        )))
    return out


def check_consent_missing(pathway: Any, now: datetime, settings: TerritorySettings) -> list[RiskFinding]:
    return fired(_candidates(pathway, settings), now)


def next_deadline_consent_missing(pathway: Any, now: datetime, settings: TerritorySettings) -> datetime | None:
    return None  # fires on the fact alone
