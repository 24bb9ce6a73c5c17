"""Queries: pathways (filters, cursor pagination), one pathway (now or as of a past date),
caseload, alerts, the caller, and the audit trail (dpo); territory indicators are in
gateway/indicators.py (inherited)."""

from __future__ import annotations

from datetime import datetime, timezone
from uuid import UUID

import strawberry
from strawberry.types import Info

from gateway import types as t
from gateway.audit import AuditQuery
from gateway.context import Context
from gateway.directory import SEVERITY_RANK, Entry
from gateway.hardening import PublicError, check_page_size
from gateway.indicators import IndicatorsQuery
from gateway.permissions import CASE_ROLES, ROLE_NEEDS, Role
from domain.values import OPEN_ALERT_STATUSES
from gateway.views import Pathway, pathway_view

# --------------------------------------------------------------------------- inputs
@strawberry.input(description="Filtres de la liste des parcours (tous facultatifs).")
class PathwayFilter:
    kind: t.PathwayKind | None = None
    territory: str | None = None
    agency: str | None = strawberry.field(default=None, description="Parcours où cette structure participe aussi.")
    state: t.PathwayState | None = None
    has_open_alert: bool | None = None


@strawberry.input(description="Filtres des alertes.")
class AlertFilter:
    pathway_id: UUID | None = None
    rule_id: str | None = None
    severity: t.AlertSeverity | None = None
    owned_by_my_agency: bool = False


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
    total_count: int | None = strawberry.field(description="Nombre total (null si l'index ne compte pas).")

    @strawberry.field
    def nodes(self) -> list[Pathway]:
        return [e.node for e in self.edges]


@strawberry.type
class AlertEdge:
    cursor: str
    node: t.Alert


@strawberry.type
class AlertConnection:
    edges: list[AlertEdge]
    page_info: t.PageInfo
    total_count: int | None = strawberry.field(description="Nombre total (null si la vue de lecture ne compte pas).")


@strawberry.type(description="Le professionnel authentifié.")
class Me:
    agency: str
    professional: str
    role: t.Role
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


@strawberry.type
class AuditConnection:
    events: list[AuditEvent]
    end_cursor: str | None
    has_next_page: bool


# --------------------------------------------------------------------------- helpers
def _ctx(info: Info) -> Context:
    return info.context


def _visible_entries(context: Context, agency: str) -> list[Entry]:
    return [e for e in context.services.directory.entries() if agency in e.participants]


def _page(items: list, key, first: int, after: str | None, parts: int):  # noqa: ANN001, ANN202
    first = check_page_size(first)
    decoded = t.decode_cursor(after, parts)
    if decoded == []:
        raise PublicError("Curseur « after » invalide.", "BAD_CURSOR")
    start = 0
    if decoded is not None:
        keys = [key(i) for i in items]
        start = next((n for n, k in enumerate(keys) if k > tuple(decoded)), len(items))
    window = items[start:start + first + 1]
    return window[:first], len(window) > first


def _sort_key(entry: Entry) -> tuple[str, str]:
    # Newest first: invert the timestamp so that an ascending key walks newest -> oldest.
    return (f"{10**11 - int(entry.opened_at.timestamp()):012d}", str(entry.pathway_id))


async def _views(context: Context, entries: list[Entry], operation: str) -> list[tuple[Entry, Pathway]]:
    principal = context.principal
    histories = await context.pathway_loader.load_many([(e.pathway_id, None) for e in entries])
    out = []
    for entry, history in zip(entries, histories, strict=True):
        if history is None:
            continue
        view = pathway_view(history, principal)
        if view is None:  # left the pathway since the index saw it: the fresh read decides
            continue
        context.audit_read(operation, entry.pathway_id, view._returned)  # noqa: SLF001
        out.append((entry, view))
    return out


# --------------------------------------------------------------------------- the type
@strawberry.type
class Query(IndicatorsQuery):
    @strawberry.field(description="Le professionnel authentifié, sa structure et son rôle.")
    def me(self, info: Info) -> Me:
        principal = _ctx(info).require()
        return Me(agency=principal.agency, professional=principal.professional, role=principal.role,
                  categories_needed=sorted(ROLE_NEEDS[principal.role]))

    @strawberry.field(description="Parcours auxquels votre structure participe, filtrés et paginés (curseur).")
    async def pathways(self, info: Info, filter: PathwayFilter | None = None, first: int = 20,  # noqa: A002
                       after: str | None = None) -> PathwayConnection:
        import asyncio

        from gateway.index import PathwayFilterValues

        context = _ctx(info)
        principal = context.require(*CASE_ROLES)
        f = filter or PathwayFilter()
        first = check_page_size(first)
        values = PathwayFilterValues(agency=principal.agency, kind=f.kind.value if f.kind else None,
                                     territory=f.territory, other_agency=f.agency,
                                     state=f.state.value if f.state else None, has_open_alert=f.has_open_alert)
        found = await asyncio.to_thread(context.services.index.pathways, values, first, after)
        histories = await context.pathway_loader.load_many([(pid, None) for pid in found.ids])
        edges = []
        for pid, cursor, history in zip(found.ids, found.cursors, histories, strict=True):
            view = pathway_view(history, context.principal) if history is not None else None
            if view is None:  # the fresh read decides (an agency that just left sees nothing)
                continue
            context.audit_read("pathways", pid, view._returned)  # noqa: SLF001
            edges.append(PathwayEdge(cursor=cursor, node=view))
        return PathwayConnection(edges=edges, total_count=found.total_count,
                                 page_info=t.PageInfo(has_next_page=found.has_next_page, end_cursor=found.end_cursor))

    @strawberry.field(description="Un parcours ; avec asOf, tel qu'il était connu à cette date "
                                  "(reconstruit depuis le journal d'événements). Null si votre structure n'y participe pas.")
    async def pathway(self, info: Info, id: UUID, as_of: datetime | None = None) -> Pathway | None:  # noqa: A002
        context = _ctx(info)
        principal = context.require(*CASE_ROLES)
        if as_of is not None:
            if as_of.tzinfo is None:
                as_of = as_of.replace(tzinfo=timezone.utc)
            if as_of > datetime.now(timezone.utc):
                raise PublicError("« asOf » doit être une date passée.", "BAD_DATE")
        history = await context.pathway_loader.load((id, as_of))
        current = history if as_of is None else await context.pathway_loader.load((id, None))
        view = None
        if history is not None and current is not None:
            view = pathway_view(history, principal, as_of, current=current.pathway)
        if view is None:
            context.audit_read("pathway", id, set(), outcome="4")
            return None
        context.audit_read("pathway" if as_of is None else "pathway.asOf", id, view._returned)  # noqa: SLF001
        return view

    @strawberry.field(description="File active de votre structure : parcours ouverts, les plus urgents d'abord.")
    async def caseload(self, info: Info, first: int = 20, after: str | None = None) -> PathwayConnection:
        import asyncio

        context = _ctx(info)
        principal = context.require(*CASE_ROLES)
        agency = principal.agency
        index = context.services.index
        if hasattr(index, "caseload"):  # the projections' read model (newest opened first)
            first = check_page_size(first)
            found = await asyncio.to_thread(index.caseload, agency, first, after)
            histories = await context.pathway_loader.load_many([(pid, None) for pid in found.ids])
            edges = []
            for pid, cursor, history in zip(found.ids, found.cursors, histories, strict=True):
                view = pathway_view(history, principal) if history is not None else None
                if view is None or view.state is not t.PathwayState.OPEN:  # the fresh read decides
                    continue
                context.audit_read("caseload", pid, view._returned)  # noqa: SLF001
                edges.append(PathwayEdge(cursor=cursor, node=view))
            return PathwayConnection(edges=edges, total_count=None, page_info=t.PageInfo(
                has_next_page=found.has_next_page, end_cursor=found.end_cursor))

        def urgency(e: Entry) -> tuple[str, str, str]:
            owned = [a for a in e.open_alerts.values() if agency in (a.owner_agency, a.escalated_to)]
            top = max((SEVERITY_RANK.get(a.severity, 0) for a in owned), default=0)
            last = e.last_activity_at or e.opened_at
            return (f"{9 - top}", f"{int(last.timestamp()):012d}", str(e.pathway_id))

        entries = sorted((e for e in _visible_entries(context, agency) if not e.closed), key=urgency)
        page, more = _page(entries, urgency, first, after, 3)
        views = await _views(context, page, "caseload")
        edges = [PathwayEdge(cursor=t.encode_cursor(*urgency(e)), node=v) for e, v in views]
        end = t.encode_cursor(*urgency(page[-1])) if page else None
        return PathwayConnection(edges=edges, total_count=len(entries),
                                 page_info=t.PageInfo(has_next_page=more, end_cursor=end))

    @strawberry.field(description="Alertes ouvertes des parcours de votre structure, les plus graves d'abord.")
    async def alerts(self, info: Info, filter: AlertFilter | None = None, first: int = 20,  # noqa: A002
                     after: str | None = None) -> AlertConnection:
        import asyncio

        context = _ctx(info)
        principal = context.require(*CASE_ROLES)
        f = filter or AlertFilter()
        index = context.services.index
        if hasattr(index, "alerts"):  # the projections' read model (newest raised first)
            first = check_page_size(first)
            found, end, more = await asyncio.to_thread(
                index.alerts, principal.agency, first, after, pathway_id=f.pathway_id, rule_id=f.rule_id,
                severity=f.severity.value if f.severity else None, owned_only=f.owned_by_my_agency)
            pids = list(dict.fromkeys(pid for pid, _, _ in found))
            histories = await context.pathway_loader.load_many([(pid, None) for pid in pids])
            views = {}
            for pid, history in zip(pids, histories, strict=True):
                view = pathway_view(history, principal) if history is not None else None
                if view is not None:  # the fresh read decides
                    context.audit_read("alerts", pid, view._returned)  # noqa: SLF001
                    views[pid] = view
            edges = []
            for pid, alert_id, cursor in found:
                view = views.get(pid)
                alert = next((x for x in view.alerts if str(x.alert_id) == alert_id
                              and x.status in OPEN_ALERT_STATUSES), None) if view else None
                if alert is not None:
                    edges.append(AlertEdge(cursor=cursor, node=alert))
            return AlertConnection(edges=edges, total_count=None,
                                   page_info=t.PageInfo(has_next_page=more, end_cursor=end))
        rows = []
        for e in _visible_entries(context, principal.agency):
            if f.pathway_id is not None and e.pathway_id != f.pathway_id:
                continue
            for a in e.open_alerts.values():
                if f.rule_id is not None and a.rule_id != f.rule_id:
                    continue
                if f.severity is not None and a.severity != f.severity.value:
                    continue
                if f.owned_by_my_agency and principal.agency not in (a.owner_agency, a.escalated_to):
                    continue
                rows.append((e, a))

        def key(row) -> tuple[str, str, str]:  # noqa: ANN001
            e, a = row
            return (f"{9 - SEVERITY_RANK.get(a.severity, 0)}", f"{a.position:012d}", str(a.alert_id))

        rows.sort(key=key)
        page, more = _page(rows, key, first, after, 3)
        views = {e.pathway_id: v for e, v in await _views(context, list({e.pathway_id: e for e, _ in page}.values()),
                                                          "alerts")}
        edges = []
        for row in page:
            e, a = row
            view = views.get(e.pathway_id)
            alert = next((x for x in view.alerts if x.alert_id == a.alert_id), None) if view else None
            if alert is not None:
                edges.append(AlertEdge(cursor=t.encode_cursor(*key(row)), node=alert))
        end = t.encode_cursor(*key(page[-1])) if page else None
        return AlertConnection(edges=edges, total_count=len(rows), page_info=t.PageInfo(has_next_page=more, end_cursor=end))

    @strawberry.field(description="Journal d'audit des accès aux données personnelles (rôle dpo).")
    async def audit_events(self, info: Info, filter: AuditFilter | None = None, first: int = 50,  # noqa: A002
                           after: str | None = None) -> AuditConnection:
        import asyncio

        context = _ctx(info)
        context.require(Role.DPO)
        f = filter or AuditFilter()
        first = check_page_size(first)
        decoded = t.decode_cursor(after, 2)
        if decoded == []:
            raise PublicError("Curseur « after » invalide.", "BAD_CURSOR")
        query = AuditQuery(pathway_id=None if f.pathway_id is None else str(f.pathway_id), agency=f.agency,
                           professional=f.professional, since=f.since, until=f.until, limit=first + 1,
                           before=tuple(decoded) if decoded else None)
        records = await asyncio.to_thread(context.services.audit.search, query)
        page = records[:first]
        events = [AuditEvent(id=r.id, recorded=r.recorded_at, professional=r.professional, agency=r.agency,
                             role=r.role, action=r.action, operation=r.operation, purpose=r.purpose,
                             pathway_id=r.pathway_id, categories=list(r.categories), outcome=r.outcome) for r in page]
        end = t.encode_cursor(page[-1].recorded_at.isoformat(), page[-1].id) if page else None
        return AuditConnection(events=events, end_cursor=end, has_next_page=len(records) > first)
