"""Rules about referrals (closed-loop orientations, FHIR Task statuses).

referral-unverified: a referral (a GP orientation from the PASS included) has no outcome
recorded N days after it was made (MdM Rouen: the follow-up call that checks it happened).
Silent while the person cannot be reached (contact-lost): the next step is the same — reach
the person — and one alert says it (MdM Rouen: of 48 orientations a year, 21 people were never
reached; each is one alert, not two). Owner: the referring agency.

referral-declined: the receiving service declined (FHIR `rejected`), or stopped accepting (the
GP no longer takes new patients, or refused to work with an interpreter): a new orientation is
needed. Resolved by a new referral for the same need (or the same service), or the need met.
Owner: the referring agency. On a pathway searching a GP, the text names the nearest accepting
GPs from the directory's match (the ServiceFinder port), when the engine has the directory.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.rules._common import Candidate, acting_owner, aware, days, earliest, fired, fmt_day, is_active, local_date
from domain.rules.contact import contact_lost
from domain.rules.settings import TerritorySettings
from domain.rules.types import FactRef, RiskFinding
from domain.values import AlertSeverity, NeedStatus, NotWentReason, ReferralStatus

UNVERIFIED_RULE = "referral-unverified"
DECLINED_RULE = "referral-declined"

#: Sent and not over: the loop is still open.
AWAITING_REFERRAL = frozenset({ReferralStatus.REQUESTED, ReferralStatus.ACCEPTED, ReferralStatus.IN_PROGRESS,
                               ReferralStatus.ON_HOLD})
#: Reasons of a failed orientation that mean the receiving side no longer takes the person.
_STOPPED_ACCEPTING = frozenset({NotWentReason.GP_NOT_TAKING_PATIENTS.value, NotWentReason.NO_INTERPRETER.value})

_REASON_LABEL = {
    NotWentReason.GP_NOT_TAKING_PATIENTS.value: "ne prend plus de nouveaux patients",
    NotWentReason.NO_INTERPRETER.value: "pas d'interprétariat possible",
}


def _made_fact(referral: Any) -> FactRef:
    return FactRef(fact="referral_made", ref=f"referral:{referral.referral_id}",
                   events=("ReferralMade", "OrientedToGp"), at=referral.made_at)


def _owner(pathway: Any, referral: Any, rule_id: str) -> str:
    return acting_owner(pathway, rule_id, f"referral:{referral.referral_id}", referral.made_by)


def _unverified_candidates(pathway: Any, settings: TerritorySettings) -> list[Candidate]:
    if not is_active(pathway) or contact_lost(pathway, settings):
        return []
    out = []
    for referral in pathway.referrals.values():
        if referral.status not in AWAITING_REFERRAL or referral.outcome is not None:
            continue
        start = aware(referral.made_at) + days(settings.referral_unverified_days)
        out.append(Candidate(start=start, finding=RiskFinding(
            rule_id=UNVERIFIED_RULE,
            subject=f"referral:{referral.referral_id}",
            owner_agency=_owner(pathway, referral, UNVERIFIED_RULE),
            suggested_action=(
                f"Vérifier auprès de la personne et de {settings.agency_name(referral.to_agency)} si l'orientation du "
                f"{fmt_day(local_date(referral.made_at, settings))} ({referral.service}) a abouti, et enregistrer l'issue."
            ),
            severity=AlertSeverity.MEDIUM,
            triggering_facts=(_made_fact(referral),),
            since=start,
        )))
    return out


def declined(referral: Any) -> bool:
    if referral.status is ReferralStatus.REJECTED:
        return True
    return referral.status is ReferralStatus.FAILED and (
        referral.outcome_reason in _STOPPED_ACCEPTING or referral.status_reason in _STOPPED_ACCEPTING
    )


def reoriented(pathway: Any, referral: Any) -> Any | None:
    """The fact that answers a declined referral: a later referral for the same need (or the
    same service when no need is named) that is not itself declined; or the need met."""
    for other in pathway.referrals.values():
        if other.referral_id == referral.referral_id or declined(other):
            continue
        if aware(other.made_at) < aware(referral.made_at):
            continue
        same = (other.need_id == referral.need_id) if referral.need_id is not None else (other.service == referral.service)
        if same:
            return other
    if referral.need_id is not None:
        need = pathway.needs.get(referral.need_id)
        if need is not None and need.status is NeedStatus.MET:
            return need
    return None


def _declined_candidates(pathway: Any, settings: TerritorySettings) -> list[Candidate]:
    if not is_active(pathway):
        return []
    out = []
    for referral in pathway.referrals.values():
        if not declined(referral) or reoriented(pathway, referral) is not None:
            continue
        code = referral.outcome_reason or referral.status_reason
        why = _REASON_LABEL.get(code, code) if code else None
        because = f" (motif : {why})" if why else ""
        out.append(Candidate(start=None, finding=RiskFinding(
            rule_id=DECLINED_RULE,
            subject=f"referral:{referral.referral_id}",
            owner_agency=_owner(pathway, referral, DECLINED_RULE),
            suggested_action=(
                f"Nouvelle orientation nécessaire : {settings.agency_name(referral.to_agency)} n'a pas pris la personne en charge "
                f"({referral.service}){because}.{_other_gps(pathway, referral, settings)}"
            ),
            severity=AlertSeverity.HIGH,
            triggering_facts=(
                _made_fact(referral),
                FactRef(fact=f"referral_{referral.status.value}", ref=f"referral:{referral.referral_id}",
                        events=("ReferralStatusChanged", "ReferralOutcomeRecorded", "GpVisitOutcomeRecorded"),
                        at=referral.status_changed_at),
            ),
            since=aware(referral.status_changed_at or referral.made_at),
        )))
    return out


def _other_gps(pathway: Any, referral: Any, settings: TerritorySettings) -> str:
    """For a pathway searching a GP: " Médecins acceptant de nouveaux patients : …" from the
    directory's match on the person's commune and languages (the declining one left out)."""
    search = getattr(pathway, "gp_search", None)
    if search is None or settings.directory is None:
        return ""
    at = aware(referral.status_changed_at or referral.made_at)
    names = [n for n in settings.directory.accepting_gps(search.commune, search.languages, at)
             if not n.startswith(f"{referral.service} (")]
    return f" Médecins acceptant de nouveaux patients : {' ; '.join(names)}." if names else ""


def check_referral_unverified(pathway: Any, now: datetime, settings: TerritorySettings) -> list[RiskFinding]:
    return fired(_unverified_candidates(pathway, settings), now)


def next_deadline_referral_unverified(pathway: Any, now: datetime, settings: TerritorySettings) -> datetime | None:
    return earliest(_unverified_candidates(pathway, settings), now)


def check_referral_declined(pathway: Any, now: datetime, settings: TerritorySettings) -> list[RiskFinding]:
    return fired(_declined_candidates(pathway, settings), now)


def next_deadline_referral_declined(pathway: Any, now: datetime, settings: TerritorySettings) -> datetime | None:
    return None  # fires on the fact alone
