"""Which open alerts to resolve, which findings to raise, and the fact that removed a risk.

An alert is resolved "by a fact that removes the risk": when the rules no longer find its
`(rule_id, subject)`, the reason names that fact when the pathway state shows it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from uuid import UUID

from domain.disclosure import (
    CLOSURE_OUTCOME_LABELS,
    REFERRAL_OUTCOME_LABELS,
    REFERRAL_STATUS_LABELS,
    rule_entry,
    rule_label,
    value_label,
)
from domain.rules._common import fmt_day
from domain.texts import compose, part
from domain.rules.facts import coverage_open, housing_destination, housing_solution
from domain.rules.referrals import AWAITING_REFERRAL
from domain.rules.types import Resolution, RiskFinding
from domain.values import (
    AppointmentStatus,
    CoverageScheme,
    CoverageStatus,
    HousingStatus,
    InformationCategory,
    NeedStatus,
    PhoneStatus,
)

GENERIC = "Le risque n'est plus constaté."

_APPOINTMENT_STATUS = {
    AppointmentStatus.SEEN: "Rendez-vous honoré.",
    AppointmentStatus.NO_SHOW:
        f"Rendez-vous manqué (suivi par l'alerte « {rule_label('missed-appointment-unfollowed')} »).",
    AppointmentStatus.EXCUSED: "Rendez-vous excusé.",
    AppointmentStatus.CANCELLED: "Rendez-vous annulé.",
}


def _key(alert: Any) -> tuple[str, str]:
    return (alert.rule_id, alert.subject)


def new_findings(open_alerts: Iterable[Any], findings: Iterable[RiskFinding]) -> list[RiskFinding]:
    """Findings with no open alert for their key: the ones to raise (never twice while open)."""
    open_keys = {_key(a) for a in open_alerts}
    out, seen = [], set()
    for finding in findings:
        if finding.key not in open_keys and finding.key not in seen:
            seen.add(finding.key)
            out.append(finding)
    return out


def resolved_findings(
    open_alerts: Iterable[Any], findings: Iterable[RiskFinding], pathway: Any | None = None,
    agency_names: Mapping[str, str] | None = None,
) -> list[Resolution]:
    """Open alerts whose risk is no longer found, with the reason (the fact, if `pathway` shows
    it; agencies named by `agency_names`, the registry's display names, when given)."""
    found = {f.key for f in findings}
    out = []
    for alert in open_alerts:
        if _key(alert) in found:
            continue
        reason = explain(pathway, alert.rule_id, alert.subject, agency_names) if pathway is not None else GENERIC
        out.append(Resolution(alert_id=getattr(alert, "alert_id", None), rule_id=alert.rule_id,
                              subject=alert.subject, reason=reason))
    return out


def _id(subject: str) -> UUID | None:
    try:
        return UUID(subject.rsplit(":", 1)[-1])
    except ValueError:
        return None


def explain(pathway: Any, rule_id: str, subject: str,  # noqa: C901 - one branch per rule
            agency_names: Mapping[str, str] | None = None) -> str:
    names = agency_names or {}
    if getattr(pathway, "is_closed", False):
        outcome = getattr(pathway, "closure_outcome", None)
        return f"Parcours clos ({value_label(CLOSURE_OUTCOME_LABELS, outcome)})." if outcome is not None else "Parcours clos."
    ident = _id(subject)
    if rule_id in ("exit-without-housing",) or subject == "newborn:housing":
        if housing_solution(pathway):
            confirmed = [h for h in pathway.housing_requests.values() if h.status is HousingStatus.CONFIRMED]
            if confirmed:
                place = confirmed[-1].offer_place
                return f"Hébergement confirmé{f' ({place})' if place else ''}."
            return f"Orientation décidée : {housing_destination(pathway)}."
        if getattr(pathway, "has_newborn", False):
            followed = rule_label("newborn-without-follow-up")
            return f"Nouveau-né enregistré : le risque est suivi par l'alerte « {followed} »."
    if subject == "newborn:pmi" and getattr(pathway, "pmi_linked", False):
        return f"Lien PMI fait ({names.get(pathway.pmi_agency, pathway.pmi_agency)})."
    if rule_id == "rights-not-open":
        if subject == "coverage" and coverage_open(pathway):
            opened = [f"{s.value.upper()} ouverte le {fmt_day(r.opened_on)}" if r.opened_on else s.value.upper()
                      for s, r in pathway.coverage.items() if r.status is CoverageStatus.OPEN]
            return f"Droits santé ouverts ({', '.join(opened)})."
        if subject.startswith("renewal:"):
            right = pathway.coverage.get(CoverageScheme(subject.split(":", 1)[1]))
            if right is not None and right.renewal_filed_on is not None:
                return f"Renouvellement déposé le {fmt_day(right.renewal_filed_on)}."
            if right is not None and right.status is CoverageStatus.OPEN and right.expires_on is not None:
                return f"Droits renouvelés jusqu'au {fmt_day(right.expires_on)}."
            if right is not None and right.status is CoverageStatus.ENDED:
                return "Droits clos."
    if subject.startswith("appointment:") and ident in pathway.appointments:
        appointment = pathway.appointments[ident]
        if rule_id == "interpreter-missing" and appointment.interpreter_booked:
            return f"Interprète réservé ({names.get(appointment.interpreter_provider, appointment.interpreter_provider)})."
        if rule_id == "missed-appointment-unfollowed":
            return "Personne recontactée ou nouveau rendez-vous pris."
        if appointment.status in _APPOINTMENT_STATUS:
            return _APPOINTMENT_STATUS[appointment.status]
    if subject.startswith("referral:") and ident in pathway.referrals:
        referral = pathway.referrals[ident]
        if rule_id == "referral-unverified":
            if referral.outcome is None and referral.status in AWAITING_REFERRAL:  # still awaited: contact lost
                return f"Personne injoignable : suivi par l'alerte « {rule_label('contact-lost')} »."
            if referral.outcome is not None:
                return f"Orientation {value_label(REFERRAL_OUTCOME_LABELS, referral.outcome)}."
            return f"Orientation passée au statut « {value_label(REFERRAL_STATUS_LABELS, referral.status)} »."
        if rule_id == "referral-declined":
            return "Nouvelle orientation faite ou besoin couvert."
    if rule_id == "contact-lost":
        if pathway.contact.phone is PhoneStatus.VALID:
            return "Nouveau numéro de téléphone enregistré."
        if pathway.contact.last_reached_at is not None:
            return f"Personne jointe le {fmt_day(pathway.contact.last_reached_at.date())}."
    if rule_id == "treatment-continuity":
        treatment = getattr(pathway, "treatments", {}).get(ident)
        if treatment is not None and treatment.follow_up_appointment_id in pathway.appointments:
            at = pathway.appointments[treatment.follow_up_appointment_id].scheduled_at
            return f"Rendez-vous de suivi après la sortie programmé le {fmt_day(at.date())}."
    if subject == "screening:tb":
        if getattr(pathway, "clat_screened_on", None) is not None:
            # The screening itself is medical (ClatScreeningDone): the social reader reads it is done.
            return compose(part(f"Dépistage CLAT réalisé le {fmt_day(pathway.clat_screened_on)}.",
                                InformationCategory.MEDICAL, "Dépistage réalisé."),
                           category=rule_entry("screening-overdue").category)
        return "Rendez-vous de dépistage pris."
    if subject == "screening:pass":
        return "Rendez-vous PASS pris ou besoins de santé couverts."
    if rule_id == "stalled":
        if not pathway.open_needs:
            return "Plus de besoin ouvert."
        return "Nouvelle activité sur le parcours."
    if rule_id == "consent-missing":
        agency = subject.split(":", 1)[1]
        if pathway.consents.get(agency):
            return f"Consentement recueilli pour {names.get(agency, agency)}."
        # Needed as a participant, or for a referral, a housing request or a treatment handed
        # over (consent.needed_agencies): say which ended, never "no longer involved" for an
        # agency that never joined.
        if any(r.to_agency == agency for r in pathway.referrals.values()):
            return f"Orientation vers {names.get(agency, agency)} terminée : son accord n'est plus nécessaire."
        return f"Plus aucune démarche en cours avec {names.get(agency, agency)} : son accord n'est plus nécessaire."
    if rule_id == "care-refused":
        if pathway.case_conferences:
            return "Synthèse tenue."
        return "Prise en charge reprise."
    if any(n.status is NeedStatus.MET for n in pathway.needs.values()) and rule_id == "referral-declined":
        return "Besoin couvert."
    return GENERIC
