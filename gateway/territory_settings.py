"""GraphQL of the territory settings: `territorySettings(territory)` and `changeTerritorySettings`.

Role `admin_territoire` only, and for the territory of the caller's agency only (an ARS
administrator of the 76 changes the 76). The resolvers translate; the versioning and the
validation are services.risk.territory_settings'. Every call is audited, refusals included
(outcome 4): the settings hold no personal data, but who changed what a territory is warned
of is accountable.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Union

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from domain.disclosure import Role
from domain.rules.settings import TerritorySettings
from gateway.audit import EXECUTE
from gateway.context import Context
from gateway.hardening import PublicError
from services.risk import backtest as bt
from services.risk.territory_settings import SettingsRefused, SettingsSource, SettingsVersion, validate_document

#: A back-test through the API holds a worker thread: a synthetic territory this large at most
#: (~10 s on one core); larger ones run with `relais rules backtest`.
API_SYNTHETIC_LIMIT = 2000


@strawberry.type(description="Une version des réglages d'alerte d'un territoire.")
class TerritorySettingsVersion:
    territory: str
    version: int = strawberry.field(description="0 : aucun réglage enregistré, les valeurs par défaut s'appliquent.")
    changed_by: str | None
    changed_by_agency: str | None
    changed_at: datetime | None
    document: JSON = strawberry.field(description="Les réglages propres au territoire (les autres sont par défaut).")
    settings: JSON = strawberry.field(description="Tous les réglages en vigueur (seuils, bandes de gravité, "
                                                  "règles actives, heure du récapitulatif).")


@strawberry.type(description="Un réglage refusé : le champ et la raison.")
class SettingsFieldRefusal:
    field: str
    reason: str


@strawberry.type(description="Réglages refusés : rien n'a été enregistré.")
class TerritorySettingsRefused:
    code: str
    message: str
    refusals: list[SettingsFieldRefusal]


@strawberry.type(description="Les chiffres d'une règle (ou de toutes) sous un jeu de règles.")
class BacktestRule:
    rule_id: str
    alerts: int
    alerts_per_week: float
    alerts_per_worker_week: float = strawberry.field(description="Par semaine et par professionnel des "
                                                                 "structures qui en ont la charge.")
    dismissed_share: float | None = strawberry.field(description="Part des alertes écartées ensuite par leur "
                                                                 "responsable (0 à 1).")
    breaks_alerted_share: float | None = strawberry.field(description="Part des parcours rompus (perdu de vue, "
                                                                      "sortie à la rue, sortie manquée) qui avaient "
                                                                      "eu cette alerte avant la rupture.")
    median_lead_days: float | None = strawberry.field(description="Délai médian entre la première alerte et la "
                                                                  "rupture, en jours.")


@strawberry.type
class BacktestRuleSet:
    name: str
    rules: list[BacktestRule]


@strawberry.type(description="Back-test d'un jeu de règles candidat à côté de celui en vigueur.")
class RulesBacktest:
    territory: str
    source: str
    pathways: int
    weeks: float
    seconds: float
    breaks: JSON = strawberry.field(description="Parcours rompus par nature de rupture.")
    rule_sets: list[BacktestRuleSet]
    report: str = strawberry.field(description="Le rapport en markdown (français).")


TerritorySettingsChange = Annotated[Union[TerritorySettingsVersion, TerritorySettingsRefused],
                                    strawberry.union("TerritorySettingsChange")]


def _view(territory: str, found: SettingsVersion | None) -> TerritorySettingsVersion:
    settings = found.settings if found else validate_document(territory, {})
    return TerritorySettingsVersion(
        territory=territory, version=found.version if found else 0,
        changed_by=found.changed_by if found else None, changed_by_agency=found.agency if found else None,
        changed_at=found.changed_at if found else None, document=dict(found.document) if found else {},
        settings=public_settings(settings))


def public_settings(settings: TerritorySettings) -> dict[str, Any]:
    """The settings as JSON (agency names are the registry's, not a setting)."""
    return settings.model_dump(mode="json", exclude={"agency_names"})


def territory_admin(context: Context, operation: str, territory: str) -> Any:
    """The caller if it administers `territory` (role admin_territoire of an agency there)."""
    principal = context.require(Role.TERRITORY_ADMIN)
    agencies = context.services.agencies
    agency = agencies.get(principal.agency) if agencies is not None else None
    if agency is None or agency.territory != territory:
        context.audit_read(operation, None, set(), outcome="4", action=EXECUTE)
        raise PublicError(f"Accès refusé : votre structure n'administre pas le territoire « {territory[:10]} ».",
                          "FORBIDDEN")
    if context.services.territory_settings is None:
        raise PublicError("Réglages de territoire indisponibles sur cette instance.", "UNAVAILABLE")
    return principal


@strawberry.type
class TerritorySettingsQuery:
    @strawberry.field(description="Réglages d'alerte en vigueur d'un territoire et leur historique "
                                  "(rôle admin_territoire, votre territoire).")
    async def territory_settings(self, info: Info, territory: str) -> TerritorySettingsVersion:
        context: Context = info.context
        territory_admin(context, "territorySettings", territory)
        found = await asyncio.to_thread(context.services.territory_settings.current, territory)
        context.audit_read("territorySettings", None, set())
        return _view(territory, found)

    @strawberry.field(description="Toutes les versions des réglages d'un territoire, la plus ancienne d'abord.")
    async def territory_settings_history(self, info: Info, territory: str) -> list[TerritorySettingsVersion]:
        context: Context = info.context
        territory_admin(context, "territorySettingsHistory", territory)
        versions = await asyncio.to_thread(context.services.territory_settings.history, territory)
        context.audit_read("territorySettingsHistory", None, set())
        return [_view(territory, v) for v in versions]


BacktestOutcome = Annotated[Union[RulesBacktest, TerritorySettingsRefused], strawberry.union("BacktestOutcome")]


@strawberry.type
class BacktestQuery:
    @strawberry.field(description="Rejoue l'historique du territoire (ou un territoire synthétique de "
                                  f"`synthetic` parcours, {API_SYNTHETIC_LIMIT} au plus) avec les réglages "
                                  "candidats à côté de ceux en vigueur (rôle admin_territoire, votre territoire).")
    async def rules_backtest(self, info: Info, territory: str, settings: JSON, synthetic: int | None = None,
                             from_: Annotated[date | None, strawberry.argument(name="from")] = None,
                             to: date | None = None) -> BacktestOutcome:
        context: Context = info.context
        territory_admin(context, "rulesBacktest", territory)
        if synthetic is not None and not 1 <= synthetic <= API_SYNTHETIC_LIMIT:
            context.audit_read("rulesBacktest", None, set(), outcome="4")
            return TerritorySettingsRefused(code="INVALID_SETTINGS", message="Back-test refusé.", refusals=[
                SettingsFieldRefusal(field="synthetic", reason=f"entre 1 et {API_SYNTHETIC_LIMIT} parcours "
                                                               "(au-delà : relais rules backtest)")])
        try:
            candidate = validate_document(territory, settings)
        except SettingsRefused as refused:
            context.audit_read("rulesBacktest", None, set(), outcome="4")
            return TerritorySettingsRefused(code=refused.code, message=str(refused), refusals=[
                SettingsFieldRefusal(field=f, reason=r) for f, r in refused.refusals])
        in_force = SettingsSource(context.services.territory_settings, ttl_s=0)
        app = context.services.pathways.app
        report = await asyncio.to_thread(
            lambda: bt.backtest(territory, candidate, in_force(territory), synthetic=synthetic, app=app,
                                start=None if from_ is None else datetime.combine(from_, time(0), UTC),
                                end=None if to is None else datetime.combine(to, time(23, 59, 59), UTC)))
        context.audit_read("rulesBacktest", None, set())
        return RulesBacktest(
            territory=territory, source=report.source, pathways=report.pathways, weeks=report.weeks,
            seconds=report.seconds, breaks=dict(report.breaks), report=bt.markdown(report),
            rule_sets=[BacktestRuleSet(name=name, rules=[
                BacktestRule(rule_id=f.rule_id, alerts=f.alerts, alerts_per_week=f.per_week,
                             alerts_per_worker_week=f.per_worker_week, dismissed_share=f.dismissed_share,
                             breaks_alerted_share=f.breaks_alerted_share, median_lead_days=f.median_lead_days)
                for f in report.figures[name]]) for name in report.rule_sets])


async def change_territory_settings(info: Info, territory: str, settings: JSON,
                                    expected_version: int | None = None) -> TerritorySettingsChange:
    context: Context = info.context
    operation = "mutation.changeTerritorySettings"
    principal = territory_admin(context, operation, territory)
    try:
        version = await asyncio.to_thread(context.services.territory_settings.change, territory, settings,
                                          changed_by=principal.professional, agency=principal.agency,
                                          expected_version=expected_version)
    except SettingsRefused as refused:
        context.audit_read(operation, None, set(), outcome="4", action=EXECUTE)
        return TerritorySettingsRefused(code=refused.code, message=str(refused),
                                        refusals=[SettingsFieldRefusal(field=f, reason=r) for f, r in refused.refusals])
    context.audit_read(operation, None, set(), action=EXECUTE)
    return _view(territory, version)


MUTATION_FIELDS: dict[str, Any] = {
    "change_territory_settings": strawberry.mutation(
        resolver=change_territory_settings,
        description="Modifie les réglages d'alerte de votre territoire (rôle admin_territoire) : les champs "
                    "donnés remplacent ceux en vigueur (null : valeur par défaut) ; une nouvelle version est "
                    "enregistrée avec son auteur et sa date. `expectedVersion` refuse la modification si "
                    "quelqu'un d'autre a changé les réglages entre-temps."),
}
