"""rights-not-open: an exit date or a care appointment is within N days and health coverage
is not open; or AME/CSS expire within 30 days with no renewal filed.

Subjects: "coverage" (one alert whatever the exit or appointments that make it urgent: the
fix is the same, opening rights) and "renewal:<scheme>" per expiring right.

Owners: an application filed and not yet granted is the CPAM's to decide; otherwise the PASS
taking part in the pathway (opening rights is its mission), else the lead agency, files the
application or the renewal. Ordinary care needs rights; an appointment at a service that sees
people without coverage (PASS, CLAT, PMI, CSAPA... — a territory setting) does not trigger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.rules._common import (
    Candidate,
    acting_owner,
    aware,
    days,
    earliest,
    fired,
    fmt_day,
    fmt_moment,
    is_active,
    like,
    local_date,
    local_day_start,
    mentions,
    participant_with_role,
)
from domain.rules.facts import COVERAGE_SCHEMES, coverage_open, exit_day, exit_fact, exit_words, has_exited, pending_appointments
from domain.rules.settings import TerritorySettings
from domain.rules.types import FactRef, RiskFinding
from domain.disclosure import rule_entry
from domain.texts import Part, compose, part
from domain.values import AlertSeverity, CoverageScheme, CoverageStatus, InformationCategory, ParticipantRole

M = InformationCategory.MEDICAL

RULE_ID = "rights-not-open"
_OWN = rule_entry(RULE_ID).category  # the category of the text's own parts

_SCHEME_LABEL = {
    CoverageScheme.PUMA: "PUMa",
    CoverageScheme.CSS: "CSS",
    CoverageScheme.AME: "AME",
    CoverageScheme.URGENT_CARE: "soins urgents et vitaux",
}


def rights_filer(pathway: Any, settings: TerritorySettings) -> str:
    """Who files an application or a renewal: the PASS when it takes part (opening rights is
    its mission), else the lead agency's social worker."""
    for agency in pathway.participants:
        if mentions((agency,), (settings.pass_agency, "PASS")):
            return agency
    return pathway.lead_agency


def needs_rights(appointment: Any, settings: TerritorySettings) -> bool:
    """Ordinary care needs open rights; the PASS, CLAT, PMI, CSAPA... see people without."""
    return not mentions((appointment.with_agency, appointment.service), settings.free_care_markers)


def _coverage_candidate(pathway: Any, now: datetime, settings: TerritorySettings) -> Candidate | None:
    if coverage_open(pathway):
        return None
    # (start, due, words, fact, past): `words` say what to act before, or, when `past`, what
    # already happened; an action never says to act before a date gone by.
    triggers: list[tuple[datetime, datetime, str | Part, FactRef, bool]] = []
    day = exit_day(pathway)
    today = local_date(now, settings)
    if day is not None and not has_exited(pathway):
        late = day < today  # planned, gone by, the exit not recorded yet
        triggers.append((
            local_day_start(day - days(settings.rights_before_exit_days), settings),
            local_day_start(day, settings),
            f"{exit_words(pathway)} était prévue le {fmt_day(day)}" if late else f"{exit_words(pathway)} du {fmt_day(day)}",
            exit_fact(pathway),
            late,
        ))
    elif day is not None:
        # Already out without rights: the risk has started, it does not go away with time.
        triggers.append((local_day_start(day, settings), local_day_start(day, settings),
                         f"la personne est sortie le {fmt_day(day)} sans droits ouverts", exit_fact(pathway), True))
    for appointment in pending_appointments(pathway):
        if not needs_rights(appointment, settings):
            continue
        at = aware(appointment.scheduled_at)
        gone = at < aware(now)
        moment = fmt_moment(appointment.scheduled_at, settings)
        # The service names the care (medical): a reader without medical need reads the day.
        triggers.append((
            at - days(settings.rights_before_appointment_days),
            at,
            part(f"le rendez-vous {appointment.service} du {moment} est passé", M, f"l'échéance du {moment} est passée")
            if gone else part(f"le rendez-vous {appointment.service} du {moment}", M, f"l'échéance du {moment}"),
            FactRef(fact="appointment_booked", ref=f"appointment:{appointment.appointment_id}",
                    events=("AppointmentBooked",), at=appointment.scheduled_at),
            gone,
        ))
    if not triggers:
        return None
    triggers.sort(key=lambda t: (t[0], t[1]))
    start = triggers[0][0]
    # Which triggers are live at `now` decides the wording; the start is the earliest one.
    live = [t for t in triggers if t[0] <= aware(now)] or triggers[:1]
    ahead = [t for t in live if not t[4]] or live  # name what is still to come
    first_due = min(t[1] for t in ahead)
    named = min(ahead, key=lambda t: t[1])
    applied = [r for s, r in pathway.coverage.items() if s in COVERAGE_SCHEMES and r.status is CoverageStatus.APPLIED]
    if applied:
        right = applied[0]
        owner = acting_owner(pathway, RULE_ID, "coverage", participant_with_role(pathway, ParticipantRole.RIGHTS),
                             rights_filer(pathway, settings))
        filed = f" (dossier {_SCHEME_LABEL[right.scheme]} déposé le {fmt_day(right.applied_on)})" if right.applied_on else ""
        action = (compose(f"Ouvrir les droits santé sans attendre{filed} : ", named[2], ".", category=_OWN) if named[4]
                  else compose("Ouvrir les droits santé avant ", named[2], f"{filed}.", category=_OWN))
    else:
        owner = rights_filer(pathway, settings)
        # Everything gone by: say what happened, never "avant" a past date.
        action = (compose("Déposer la demande de droits santé (PUMa/CSS ou AME) sans attendre : ", named[2], ".",
                          category=_OWN) if named[4]
                  else compose("Déposer la demande de droits santé (PUMa/CSS ou AME) avant ", named[2], ".", category=_OWN))
    days_left = (local_date(first_due, settings) - local_date(now, settings)).days
    severity = AlertSeverity.HIGH if days_left <= settings.rights_high_days else AlertSeverity.MEDIUM
    finding = RiskFinding(
        rule_id=RULE_ID, subject="coverage", owner_agency=owner, suggested_action=action, severity=severity,
        triggering_facts=tuple(t[3] for t in live) + tuple(
            FactRef(fact=f"coverage_{r.status.value}", ref=f"coverage:{s.value}",
                    events=("CoverageApplied", "CoverageEnded"))
            for s, r in pathway.coverage.items() if s in COVERAGE_SCHEMES
        ),
        since=start, deadline=first_due,
    )
    return Candidate(start=start, finding=finding)


def _renewal_candidates(pathway: Any, settings: TerritorySettings) -> list[Candidate]:
    out = []
    for scheme in (CoverageScheme.AME, CoverageScheme.CSS):
        right = pathway.coverage.get(scheme)
        if right is None or right.status is not CoverageStatus.OPEN:
            continue
        if right.expires_on is None or right.renewal_filed_on is not None:
            continue
        label = _SCHEME_LABEL[scheme]
        start = local_day_start(right.expires_on - days(settings.coverage_renewal_days), settings)
        out.append(Candidate(start=start, finding=RiskFinding(
            rule_id=RULE_ID, subject=f"renewal:{scheme.value}", owner_agency=rights_filer(pathway, settings),
            suggested_action=f"Déposer le renouvellement de l'{label} qui expire le {fmt_day(right.expires_on)}."
            if scheme is CoverageScheme.AME else
            f"Déposer le renouvellement de la {label} qui expire le {fmt_day(right.expires_on)}.",
            severity=AlertSeverity.MEDIUM,
            triggering_facts=(FactRef(fact="coverage_expires", ref=f"coverage:{scheme.value}",
                                      events=("CoverageOpened",)),),
            since=start, deadline=local_day_start(right.expires_on, settings),
        )))
    return out


def _candidates(pathway: Any, now: datetime, settings: TerritorySettings) -> list[Candidate]:
    if not is_active(pathway):
        return []
    out = _renewal_candidates(pathway, settings)
    coverage = _coverage_candidate(pathway, now, settings)
    if coverage is not None:
        out.append(coverage)
    return out


def next_severity_change_rights_not_open(pathway: Any, now: datetime, settings: TerritorySettings) -> datetime | None:
    """When the medium coverage finding found now turns high (`rights_high_days` before what
    makes it urgent): the engine wakes the pathway then to update the alert."""
    moments = [
        local_day_start(local_date(f.deadline, settings) - days(settings.rights_high_days), settings)
        for f in check_rights_not_open(pathway, now, settings)
        if f.subject == "coverage" and f.severity is AlertSeverity.MEDIUM and f.deadline is not None
    ]
    future = [m for m in moments if m > aware(now)]
    return like(min(future), now) if future else None


def check_rights_not_open(pathway: Any, now: datetime, settings: TerritorySettings) -> list[RiskFinding]:
    return fired(_candidates(pathway, now, settings), now)


def next_deadline_rights_not_open(pathway: Any, now: datetime, settings: TerritorySettings) -> datetime | None:
    return earliest(_candidates(pathway, now, settings), now)
