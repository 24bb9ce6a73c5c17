"""`territoryIndicators`: the de-identified counts of a territory for the ARS / DREETS.

Served from the territory read model only (`projections.queries.territory_indicators`), where
small counts are suppressed together with every figure that would let them be worked out
(totals, other cells, months, funnel stages). No count is computed here: the gateway only maps
the read model's answer to GraphQL.

Who may ask: every authenticated role but `dpo` (whose job is the audit trail). The answer
holds no personal data (counts of at least the threshold, no pathway, no agency, no person);
each read is still audited (operation `territoryIndicators`, no pathway, no category), so that
the DPO can see who follows a territory's figures closely enough to difference them over time.

`Query` (gateway/queries.py) inherits `IndicatorsQuery`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from typing import Any

import strawberry
from strawberry.types import Info

from gateway.context import Context
from gateway.hardening import PublicError
from gateway.permissions import Role
from projections import queries

#: Roles that may read the indicators.
INDICATOR_ROLES = tuple(set(Role) - {Role.DPO})


@strawberry.type(description="Un compte (null si masqué : inférieur au seuil du secret statistique, "
                             "ou permettant de retrouver un compte masqué).")
class Count:
    key: str
    count: int | None


@strawberry.type(description="Indicateur mensuel désidentifié.")
class MonthlyIndicator:
    month: str
    indicator: str
    label: str
    detail: str | None
    count: int | None = strawberry.field(description="Null si masqué (secret statistique).")
    median_days: float | None
    suppressed: bool


@strawberry.type(description="Orientations (vers un service ou un médecin traitant) et leur suivi : "
                             "réalisées, personnes jointes lors du suivi, honorées, non honorées et pourquoi "
                             "(entonnoir de Médecins du Monde Rouen : 48 → 27 → 17).")
class OrientationFunnel:
    made: int | None = strawberry.field(description="Orientations réalisées (orientations vers un service "
                                                    "et vers un médecin traitant).")
    reached: int | None = strawberry.field(description="Personnes jointes lors de l'appel de suivi "
                                                       "(ou dont l'issue est connue).")
    honoured: int | None = strawberry.field(description="Honorées : la personne y est allée.")
    not_honoured: int | None = strawberry.field(description="Non honorées : la personne n'y est pas allée.")
    not_honoured_by_reason: list[Count] = strawberry.field(description="Non honorées, par raison.")


@strawberry.type(description="Indicateurs désidentifiés d'un territoire (ARS / DREETS), depuis la vue de lecture "
                             "« territory_indicators ». Un compte null est masqué (secret statistique) : "
                             "aucun compte masqué ne peut être retrouvé par différence avec les autres.")
class TerritoryIndicators:
    territory: str
    computed_at: datetime
    small_count_threshold: int
    pathways_opened: int | None = strawberry.field(description="Parcours ouverts depuis le début.")
    pathways_by_kind: list[Count]
    open_pathways: int | None
    closed_pathways: int | None
    closed_by_outcome: list[Count]
    open_alerts: int | None
    open_alerts_by_rule: list[Count]
    alerts_raised: int | None = strawberry.field(description="Alertes levées depuis le début.")
    alerts_raised_by_rule: list[Count]
    orientations: OrientationFunnel
    monthly: list[MonthlyIndicator]


def _counts(items: list[dict[str, Any]]) -> list[Count]:
    return [Count(key=str(i["key"]), count=i["count"]) for i in items]


def _read(connect: Callable[[], AbstractContextManager[Any]], territory: str) -> dict[str, Any]:
    with connect() as conn:
        try:
            return queries.territory_indicators(conn, territory)
        except Exception as error:
            if "territory_" in str(error):  # read model not built yet (projections not run, or older)
                raise PublicError("Indicateurs indisponibles : la vue de lecture des indicateurs n'est pas encore "
                                  "construite (relais projections run ; après une mise à jour : relais projections "
                                  "rebuild territory_indicators).", "UNAVAILABLE") from None
            raise


@strawberry.type
class IndicatorsQuery:
    @strawberry.field(description="Indicateurs désidentifiés d'un territoire : comptes seulement, les petits "
                                  "effectifs masqués, et tout compte qui permettrait de les retrouver.")
    async def territory_indicators(self, info: Info, territory: str) -> TerritoryIndicators:
        context: Context = info.context
        context.require(*INDICATOR_ROLES)
        found = await asyncio.to_thread(_read, context.services.read.connect, territory)
        context.audit_read("territoryIndicators", None, set())
        p, a, o = found["pathways"], found["alerts"], found["orientations"]
        return TerritoryIndicators(
            territory=territory, computed_at=datetime.now(timezone.utc), small_count_threshold=found["threshold"],
            pathways_opened=p["opened"], pathways_by_kind=_counts(p["by_kind"]), open_pathways=p["open"],
            closed_pathways=p["closed"], closed_by_outcome=_counts(p["closed_by_outcome"]),
            open_alerts=a["open"], open_alerts_by_rule=_counts(a["open_by_rule"]),
            alerts_raised=a["raised"], alerts_raised_by_rule=_counts(a["raised_by_rule"]),
            orientations=OrientationFunnel(made=o["made"], reached=o["reached"], honoured=o["honoured"],
                                           not_honoured=o["not_honoured"],
                                           not_honoured_by_reason=_counts(o["not_honoured_by_reason"])),
            monthly=[MonthlyIndicator(month=r["month"], indicator=r["indicator"], label=r["label"],
                                      detail=r["detail"], count=r["count"], median_days=r["median_days"],
                                      suppressed=r["suppressed"]) for r in found["monthly"]],
        )
