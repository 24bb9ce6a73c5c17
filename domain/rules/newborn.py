"""newborn-without-follow-up: maternity discharge with a newborn and no PMI link or no housing.

Two subjects, so each missing fact resolves its own alert: "newborn:pmi" (owner: the maternity,
whose social worker makes the PMI link; from N days before discharge) and "newborn:housing"
(owner: the SIAO handling the request, or taking part, else the maternity; from the
exit-without-housing delay before discharge — that rule stays silent for a mother with a
newborn, so there is one alert, not two). Both are social: the maternity's social worker
makes the PMI link (`LinkPmi`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.maternity import MaternityPathway
from domain.rules._common import Candidate, acting_owner, days, earliest, fired, fmt_day, is_active, local_day_start
from domain.rules.facts import exit_day, exit_fact, has_exited, housing_facts, housing_owner, housing_solution
from domain.rules.housing import housing_action
from domain.rules.settings import TerritorySettings
from domain.rules.types import FactRef, RiskFinding
from domain.values import AlertSeverity

RULE_ID = "newborn-without-follow-up"


def _candidates(pathway: Any, settings: TerritorySettings) -> list[Candidate]:
    if not isinstance(pathway, MaternityPathway) or not is_active(pathway) or not pathway.has_newborn:
        return []
    day = exit_day(pathway)
    if day is None:
        return []
    newborn = FactRef(fact="newborn", ref="newborn", events=("NewbornRegistered",))
    due = local_day_start(day, settings)
    what = f"la sortie de maternité du {fmt_day(day)}"
    out = []
    if not pathway.pmi_linked:
        start = local_day_start(day - days(settings.newborn_pmi_days), settings)
        out.append(Candidate(start=start, finding=RiskFinding(
            rule_id=RULE_ID, subject="newborn:pmi",
            owner_agency=acting_owner(pathway, RULE_ID, "newborn:pmi", pathway.lead_agency),
            suggested_action=(
                f"Faire le lien avec la PMI avant {what} (visite à domicile ou consultation du nouveau-né)."
                if not has_exited(pathway) else
                f"Sortie le {fmt_day(day)} avec un nouveau-né sans lien PMI : le faire sans attendre."
            ),
            severity=AlertSeverity.HIGH,
            triggering_facts=(exit_fact(pathway), newborn),
            since=start, deadline=due,
        )))
    if not housing_solution(pathway):
        start = local_day_start(day - days(settings.exit_without_housing_days), settings)
        if has_exited(pathway):
            # Out already: no date left to act before (as exit-without-housing after an exit).
            owner, _ = housing_owner(pathway, settings, RULE_ID, "newborn:housing")
            action = (f"Mère et nouveau-né sortis le {fmt_day(day)} sans hébergement confirmé : mobiliser le "
                      f"{settings.agency_name(settings.siao_agency)} (115) et retrouver la famille.")
        else:
            owner, action = housing_action(pathway, settings, what, RULE_ID, "newborn:housing")
            action = f"Mère et nouveau-né sans hébergement confirmé. {action}"
        out.append(Candidate(start=start, finding=RiskFinding(
            rule_id=RULE_ID, subject="newborn:housing", owner_agency=owner,
            suggested_action=action,
            severity=AlertSeverity.CRITICAL,
            triggering_facts=(exit_fact(pathway), newborn, *housing_facts(pathway)),
            since=start, deadline=due,
        )))
    return out


def check_newborn_without_follow_up(pathway: Any, now: datetime, settings: TerritorySettings) -> list[RiskFinding]:
    return fired(_candidates(pathway, settings), now)


def next_deadline_newborn_without_follow_up(pathway: Any, now: datetime, settings: TerritorySettings) -> datetime | None:
    return earliest(_candidates(pathway, settings), now)
