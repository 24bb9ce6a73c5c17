"""Every read model of Relais, by name (`relais projections list`)."""

from __future__ import annotations

from projections.alerts import Alerts
from projections.base import Projection
from projections.caseload import Caseload
from projections.consent import Consents
from projections.referrals import Referrals
from projections.summary import PathwaySummary
from projections.territory import TerritoryIndicators
from projections.timeline import Timeline

PROJECTIONS: dict[str, type[Projection]] = {
    p.name: p for p in (PathwaySummary, Timeline, Caseload, Alerts, Referrals, TerritoryIndicators, Consents)
}


class UnknownProjection(KeyError):
    def __str__(self) -> str:
        return f"projection inconnue : {self.args[0]} (connues : {', '.join(PROJECTIONS)})"


def projection_class(name: str) -> type[Projection]:
    try:
        return PROJECTIONS[name]
    except KeyError:
        raise UnknownProjection(name) from None
