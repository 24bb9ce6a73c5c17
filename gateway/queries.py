"""Queries: pathways (filters, cursor pagination), one pathway (now or as of a past date),
caseload, alerts, the caller, and the audit trail (dpo); territory indicators are in
gateway/indicators.py (inherited).

Every query reads the projections' read models through gateway.readside (blocking calls, run
through ReadSide.call); `asOf` replays the event store through the same projections. `atLeastVersion`
/ `atLeast` wait (deadline from settings) until the read models a query reads have applied
that version of that pathway: read-your-writes without polling by hand."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timezone
from uuid import UUID

import strawberry
from strawberry.types import Info

from gateway import types as t
from gateway.audit import AuditQuery
from gateway.context import Context
from gateway.hardening import MAX_PAGE, PublicError, check_page_size
from gateway.directory_api import DirectoryQuery
from gateway.indicators import IndicatorsQuery
from gateway.territory_settings import BacktestQuery, TerritorySettingsQuery
from gateway import permissions as p
from gateway.permissions import CASE_ROLES, ROLE_NEEDS, Role, decide
from gateway.readside import (
    ALERT_PROJECTIONS,
    PATHWAY_PROJECTIONS,
    TIMELINE_PROJECTIONS,
    AccessRows,
    access_of,
    replay,
)
from gateway.views import Pathway, _at, alert_view, pathway_view
from projections.queries import decode_cursor, encode_cursor


# --------------------------------------------------------------------------- inputs
@strawberry.input(description="Filtres de la liste des parcours (tous facultatifs).")
class PathwayFilter:
    kind: t.PathwayKind | None = None
    territory: str | None = None
    agency: str | None = strawberry.field(default=None, description="Parcours où cette structure participe aussi.")
    state: t.PathwayState | None = None
    has_open_alert: bool | None = None


@strawberry.input(description="Filtres des alertes (tous facultatifs, appliqués avant la pagination).")
class AlertFilter:
    pathway_id: UUID | None = strawberry.field(default=None, description="Les alertes de ce parcours seulement.")
    rule_id: str | None = strawberry.field(default=None, description="Les alertes de cette règle seulement "
                                                                     "(ex. housing-not-confirmed).")
    severity: t.AlertSeverity | None = strawberry.field(default=None, description="Les alertes de cette gravité seulement.")
    owned_by_my_agency: bool = strawberry.field(default=False, description="Seulement celles que votre structure "
                                                                           "porte ou qui lui ont été escaladées.")
    statuses: list[t.AlertStatus] | None = strawberry.field(
        default=None, description="Les alertes dans ces statuts ; par défaut, les ouvertes (RAISED, ACKNOWLEDGED, "
                                  "ESCALATED). Ex. [RESOLVED, DISMISSED] pour les alertes closes.")


@strawberry.input(description="Lire au moins cette version de ce parcours (celle qu'une mutation a renvoyée) : "
                              "la requête attend que les vues de lecture l'aient prise en compte.")
class PathwayVersion:
    pathway_id: UUID
    version: int


@strawberry.input(description="Filtres du journal d'audit.")
class AuditFilter:
    pathway_id: UUID | None = None
    agency: str | None = None
    professional: str | None = None
    since: datetime | None = None
    until: datetime | None = None


# --------------------------------------------------------------------------- outputs
@strawberry.type
class PathwayEdge:
    cursor: str
    node: Pathway


@strawberry.type
class PathwayConnection:
    edges: list[PathwayEdge]
    page_info: t.PageInfo
    total_count: int = strawberry.field(description="Nombre total de parcours correspondant aux filtres.")

    @strawberry.field
    def nodes(self) -> list[Pathway]:
        return [e.node for e in self.edges]


@strawberry.type
class AlertEdge:
    cursor: str
    node: t.Alert


@strawberry.type(description="Nombre d'alertes dans un statut.")
class AlertStatusCount:
    status: t.AlertStatus = strawberry.field(description="Le statut.")
    count: int = strawberry.field(description="Combien d'alertes des mêmes filtres sont dans ce statut.")


@strawberry.type(description="Une page d'alertes.")
class AlertConnection:
    edges: list[AlertEdge]
    page_info: t.PageInfo
    total_count: int = strawberry.field(description="Nombre total d'alertes correspondant aux filtres.")
    counts_by_status: list[AlertStatusCount] = strawberry.field(
        description="Pour chaque statut (même à zéro), le nombre d'alertes des mêmes filtres, le filtre de statut "
                    "mis à part : de quoi afficher « ouvertes 12 · prises en compte 3 · résolues 40 ».")


@strawberry.type(description="Le professionnel authentifié.")
class Me:
    agency: str
    professional: str
    role: t.Role
    role_code: str = strawberry.field(description="Le code du rôle tel que le jeton le porte (medecin, "
                                                  "coordinateur... ; le même que TimelineEntry.role et AuditEvent.role).")
    categories_needed: list[t.InformationCategory]


@strawberry.type(description="Trace d'accès (forme FHIR AuditEvent).")
class AuditEvent:
    id: str
    recorded: datetime
    professional: str
    agency: str
    role: str
    action: str
    operation: str
    purpose: str
    pathway_id: str | None
    categories: list[str]
    outcome: str
    consent_version: int | None = strawberry.field(
        default=None, description="Version du consentement de la personne en vigueur lors de l'accès "
        "(CSP D1110-3-1) ; null : accès sans parcours.")


@strawberry.type(description="Accès d'urgence (bris de glace) : qui l'a ouvert, pourquoi, quand, jusqu'à quand.")
class EmergencyAccess:
    pathway_id: UUID
    agency: str
    professional: str
    role: str
    reason: str
    opened_at: datetime
    until: datetime


@strawberry.type
class AuditConnection:
    events: list[AuditEvent]
    end_cursor: str | None
    has_next_page: bool


# --------------------------------------------------------------------------- helpers
def _ctx(info: Info) -> Context:
    return info.context


async def _at_least(context: Context, pathway_id: UUID | None, version: int | None,
                    projections: Sequence[str]) -> None:
    """Read-your-writes: wait until `projections` applied `version` of `pathway_id`."""
    if pathway_id is not None and version is not None:
        await asyncio.to_thread(context.services.read.wait_for, pathway_id, version, projections)


def _timeline_key(info: Info, pathway_id: UUID) -> tuple[UUID, int, int | None] | None:
    """The key the `timeline` resolver will load for this pathway, when the query selects the
    timeline exactly once, directly (no fragment, no directive), its arguments literals or
    variables, and with a valid page size: then the pathway query reads it in the same call as
    the pathway. None otherwise (the resolver then loads it itself, as it always can)."""
    from graphql import FieldNode, IntValueNode, NullValueNode, VariableNode

    raw = info._raw_info  # noqa: SLF001 - the AST of this field, to read the timeline's arguments
    node = raw.field_nodes[0] if len(raw.field_nodes) == 1 else None
    if node is None or node.selection_set is None:
        return None
    found = [s for s in node.selection_set.selections if isinstance(s, FieldNode) and s.name.value == "timeline"]
    if len(found) != 1 or found[0].directives:
        return None
    definition = raw.schema.get_type("Pathway").fields["timeline"].args  # type: ignore[union-attr]
    values = {name: arg.default_value for name, arg in definition.items()}
    variables = info.variable_values
    for argument in found[0].arguments or ():
        value = argument.value
        if isinstance(value, IntValueNode):
            values[argument.name.value] = int(value.value)
        elif isinstance(value, NullValueNode):
            values[argument.name.value] = None
        elif isinstance(value, VariableNode) and value.name.value in variables:
            values[argument.name.value] = variables[value.name.value]
        else:
            return None
    first, after = values.get("first"), values.get("after")
    if type(first) is not int or not 1 <= first <= MAX_PAGE or not (after is None or type(after) is int):
        return None
    return (pathway_id, first, after)


def _audited(view: Pathway, selected: frozenset[str] | None) -> set:
    """The set the read of `view` is audited with: the categories of what the query selected
    (the timeline resolver adds its entries' to it as it runs)."""
    if selected is not None:
        from gateway.types import CATEGORIES

        view._returned = p.returned_categories(view, selected, CATEGORIES)  # noqa: SLF001
    return view._returned  # noqa: SLF001


async def _views(context: Context, ids: list[UUID], operation: str,
                 selected: frozenset[str] | None = None) -> list[Pathway | None]:
    """The pathways of a page as the caller may see them (one batch of read-model queries
    for the whole page, through the request's DataLoader); each read is audited."""
    records = await context.record_loader.load_many(ids)
    out: list[Pathway | None] = []
    for pid, record in zip(ids, records, strict=True):
        view = pathway_view(record, context.principal, context.services.read) if record is not None else None
        if view is not None:
            context.audit_read(operation, pid, _audited(view, selected), disclosure=view._disclosure)  # noqa: SLF001
        out.append(view)
    return out


# --------------------------------------------------------------------------- the type
@strawberry.type
class Query(IndicatorsQuery, TerritorySettingsQuery, BacktestQuery, DirectoryQuery):
    @strawberry.field(description="Le professionnel authentifié, sa structure et son rôle.")
    def me(self, info: Info) -> Me:
        principal = _ctx(info).require()
        return Me(agency=principal.agency, professional=principal.professional, role=t.Role(principal.role.value),
                  role_code=principal.role.value,
                  categories_needed=sorted(ROLE_NEEDS[principal.role]))

    @strawberry.field(description="Parcours auxquels votre structure participe, filtrés et paginés (curseur), "
                                  "les plus récemment ouverts d'abord.")
    async def pathways(self, info: Info, filter: PathwayFilter | None = None, first: int = 20,  # noqa: A002
                       after: str | None = None, at_least: PathwayVersion | None = None) -> PathwayConnection:
        context = _ctx(info)
        principal = context.require(*CASE_ROLES)
        f = filter or PathwayFilter()
        first = check_page_size(first)
        if at_least is not None:
            await _at_least(context, at_least.pathway_id, at_least.version, PATHWAY_PROJECTIONS)
        read = context.services.read
        found = await read.call(
            read.pathways, agency=principal.agency, kind=f.kind.value if f.kind else None,
            territory=f.territory, other_agency=f.agency, state=f.state.value if f.state else None,
            has_open_alert=f.has_open_alert, first=first, after=after)
        views = await _views(context, found.ids, "pathways", p.selected_names_of(info))
        edges = [PathwayEdge(cursor=c, node=v) for c, v in zip(found.cursors, views, strict=True) if v is not None]
        return PathwayConnection(edges=edges, total_count=found.total_count,
                                 page_info=t.PageInfo(has_next_page=found.has_next_page, end_cursor=found.end_cursor))

    @strawberry.field(description="Un parcours ; avec asOf, tel qu'il était connu à cette date "
                                  "(reconstruit depuis le journal d'événements) ; avec atLeastVersion, au moins "
                                  "dans cette version (celle renvoyée par une mutation). "
                                  "Null si votre structure n'y participe pas.")
    async def pathway(self, info: Info, id: UUID, as_of: datetime | None = None,  # noqa: A002
                      at_least_version: int | None = None) -> Pathway | None:
        context = _ctx(info)
        principal = context.require(*CASE_ROLES)
        read = context.services.read
        if as_of is not None:
            if as_of.tzinfo is None:
                as_of = as_of.replace(tzinfo=timezone.utc)
            if as_of > datetime.now(timezone.utc):
                raise PublicError("« asOf » doit être une date passée.", "BAD_DATE")
        await _at_least(context, id, at_least_version, (*PATHWAY_PROJECTIONS, *TIMELINE_PROJECTIONS))
        view = None
        if as_of is None:
            record = await context.load_pathway(id, _timeline_key(info, id))
            view = pathway_view(record, principal, read) if record is not None else None
        else:
            events = await asyncio.to_thread(context.services.reader.history, id, as_of)
            if events:
                past = await asyncio.to_thread(replay, events)
                record = (await asyncio.to_thread(past.records, [id])).get(id)
                # Membership and consent: the CURRENT ones (a withdrawal also hides the past).
                current = (await asyncio.to_thread(read.access, [id]))[id]
                if record is not None:
                    view = pathway_view(record, principal, past, as_of, access=current)
        if view is None:
            context.audit_read("pathway", id, set(), outcome="4")
            return None
        context.audit_read("pathway" if as_of is None else "pathway.asOf", id,
                           _audited(view, p.selected_names_of(info)), disclosure=view._disclosure)  # noqa: SLF001
        return view

    @strawberry.field(description="File active de votre structure : parcours ouverts, les plus urgents d'abord "
                                  "(la plus haute gravité des alertes ouvertes que votre structure porte ou qui "
                                  "lui ont été escaladées, puis la prochaine échéance la plus proche — libération, "
                                  "sortie de maternité, 21e jour de SAS ; sans échéance en dernier —, puis "
                                  "l'identifiant). Le curseur suit cet ordre.")
    async def caseload(self, info: Info, first: int = 20, after: str | None = None,
                       at_least: PathwayVersion | None = None) -> PathwayConnection:
        context = _ctx(info)
        principal = context.require(*CASE_ROLES)
        first = check_page_size(first)
        if at_least is not None:
            await _at_least(context, at_least.pathway_id, at_least.version, PATHWAY_PROJECTIONS)
        read = context.services.read
        found = await read.call(read.caseload, principal.agency, first=first, after=after)
        views = await _views(context, found.ids, "caseload", p.selected_names_of(info))
        edges = [PathwayEdge(cursor=c, node=v) for c, v in zip(found.cursors, views, strict=True) if v is not None]
        return PathwayConnection(edges=edges, total_count=found.total_count,
                                 page_info=t.PageInfo(has_next_page=found.has_next_page, end_cursor=found.end_cursor))

    @strawberry.field(description="Alertes ouvertes des parcours de votre structure, les plus graves d'abord "
                                  "(critique, élevée, moyenne, faible), puis les plus anciennes ; filtres appliqués "
                                  "avant la pagination.")
    async def alerts(self, info: Info, filter: AlertFilter | None = None, first: int = 20,  # noqa: A002
                     after: str | None = None, at_least: PathwayVersion | None = None) -> AlertConnection:
        context = _ctx(info)
        principal = context.require(*CASE_ROLES)
        f = filter or AlertFilter()
        first = check_page_size(first)
        read = context.services.read
        if at_least is not None:
            await _at_least(context, at_least.pathway_id, at_least.version, ALERT_PROJECTIONS)
        found = await read.call(
            read.alerts, principal.agency, first=first, after=after, pathway_id=f.pathway_id, rule_id=f.rule_id,
            severity=f.severity.value if f.severity else None, owned_only=f.owned_by_my_agency,
            statuses=None if f.statuses is None else [s.value for s in f.statuses])
        pids = list(dict.fromkeys(UUID(str(r["pathway_id"])) for r in found.rows))
        accesses = await read.call(read.access, pids)
        disclosures = {pid: decide(principal, accesses.get(pid) or access_of(AccessRows())) for pid in pids}
        returned: dict[UUID, set] = {pid: set() for pid in pids}
        edges = []
        for row, cursor in zip(found.rows, found.cursors, strict=True):
            pid = UUID(str(row["pathway_id"]))
            if disclosures[pid].can_see_pathway:
                edges.append(AlertEdge(cursor=cursor, node=alert_view(row, disclosures[pid], returned[pid])))
        for pid in pids:
            if disclosures[pid].can_see_pathway:
                context.audit_read("alerts", pid, returned[pid], disclosure=disclosures[pid])
        counts = [AlertStatusCount(status=status, count=found.counts_by_status.get(status.value, 0))
                  for status in t.AlertStatus]
        return AlertConnection(edges=edges, total_count=found.total_count, counts_by_status=counts,
                               page_info=t.PageInfo(has_next_page=found.has_next_page, end_cursor=found.end_cursor))

    @strawberry.field(description="Une alerte, par son identifiant, telle que votre structure et votre rôle peuvent "
                                  "la voir (ouverte ou close). Null si elle est inconnue ou si votre structure ne "
                                  "participe pas à son parcours.")
    async def alert(self, info: Info, id: UUID, at_least: PathwayVersion | None = None) -> t.Alert | None:  # noqa: A002
        context = _ctx(info)
        principal = context.require(*CASE_ROLES)
        read = context.services.read
        if at_least is not None:
            await _at_least(context, at_least.pathway_id, at_least.version, ALERT_PROJECTIONS)
        row = await read.call(read.alert, None, id)
        if row is not None:
            pid = UUID(str(row["pathway_id"]))
            disclosure = decide(principal, (await read.call(read.access, [pid])).get(pid) or access_of({}, {}))
            if disclosure.can_see_pathway:
                returned: set = set()
                view = alert_view(row, disclosure, returned)
                context.audit_read("alert", pid, returned, disclosure=disclosure)
                return view
        # Unknown and not-yours answer the same (nothing tells a non-member the alert exists).
        context.audit_read("alert", None, set(), outcome="4")
        return None

    @strawberry.field(description="Accès d'urgence (bris de glace), les plus récents d'abord : rôle dpo (ceux "
                                  "des professionnels de votre structure), dpo_regional (tous), ou un rôle de "
                                  "l'accompagnement (ceux des parcours dont votre structure est référente).")
    async def emergency_accesses(self, info: Info, first: int = 50) -> list[EmergencyAccess]:
        context = _ctx(info)
        principal = context.require(Role.DPO, Role.DPO_REGIONAL, *CASE_ROLES)
        first = check_page_size(first)
        scope: dict[str, str] = {}
        if principal.role is Role.DPO:
            scope["agency"] = principal.agency
        elif principal.role is not Role.DPO_REGIONAL:
            scope["lead_agency"] = principal.agency
        read = context.services.read
        rows = await read.call(read.emergency_accesses, limit=first, **scope)
        for pid in dict.fromkeys(str(r["pathway_id"]) for r in rows):
            context.audit_read("emergencyAccesses", pid, {p.ADMINISTRATIVE})
        if not rows:
            context.audit_read("emergencyAccesses", None, set())
        return [EmergencyAccess(pathway_id=UUID(str(r["pathway_id"])), agency=r["agency"],
                                professional=r["professional"], role=r["role"], reason=r["reason"],
                                opened_at=_at(r["opened_at"]), until=_at(r["until"])) for r in rows]

    @strawberry.field(description="Journal d'audit des accès aux données personnelles : rôle dpo (les "
                                  "enregistrements de votre structure) ou dpo_regional (toutes).")
    async def audit_events(self, info: Info, filter: AuditFilter | None = None, first: int = 50,  # noqa: A002
                           after: str | None = None) -> AuditConnection:
        context = _ctx(info)
        principal = context.require(Role.DPO, Role.DPO_REGIONAL)
        f = filter or AuditFilter()
        agency = f.agency
        if principal.role is Role.DPO:  # a DPO reads its own organisation's records
            if agency is not None and agency != principal.agency:
                context.audit_read("auditEvents", None, set(), outcome="4")
                raise PublicError("Accès refusé : un DPO consulte le journal de sa structure seulement "
                                  "(rôle dpo_regional pour toutes).", "FORBIDDEN")
            agency = principal.agency
        first = check_page_size(first)
        try:
            decoded = None if after is None else decode_cursor(after, 2)
        except ValueError:
            raise PublicError("Curseur « after » invalide.", "BAD_CURSOR") from None
        context.audit_read("auditEvents", None if f.pathway_id is None else str(f.pathway_id), set())
        query = AuditQuery(pathway_id=None if f.pathway_id is None else str(f.pathway_id), agency=agency,
                           professional=f.professional, since=f.since, until=f.until, limit=first + 1,
                           before=tuple(decoded) if decoded else None)
        records = await asyncio.to_thread(context.services.audit.search, query)
        page = records[:first]
        events = [AuditEvent(id=r.id, recorded=r.recorded_at, professional=r.professional, agency=r.agency,
                             role=r.role, action=r.action, operation=r.operation, purpose=r.purpose,
                             pathway_id=r.pathway_id, categories=list(r.categories), outcome=r.outcome,
                             consent_version=r.consent_version) for r in page]
        end = encode_cursor(page[-1].recorded_at.isoformat(), page[-1].id) if page else None
        return AuditConnection(events=events, end_cursor=end, has_next_page=len(records) > first)
