"""GraphQL of the territory settings: `territorySettings(territory)` and `changeTerritorySettings`.

Role `admin_territoire` only, and for the territory of the caller's agency only (an ARS
administrator of the 76 changes the 76). The resolvers translate; the versioning and the
validation are services.risk.territory_settings'. Every call is audited, refusals included
(outcome 4): the settings hold no personal data, but who changed what a territory is warned
of is accountable.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Union

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from domain.disclosure import Role
from domain.rules.settings import TerritorySettings
from gateway.audit import EXECUTE
from gateway.context import Context
from gateway.hardening import PublicError
from services.risk.territory_settings import SettingsRefused, SettingsVersion, validate_document


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
