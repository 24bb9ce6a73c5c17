"""Which pathways a list query returns: the gateway's own index (gateway.directory), or the
projections' `pathway_summary` read model (projections.queries.pathways) when the
composition root hands the gateway a read-model connection (`Relais.readmodels`).

Either way the index only selects ids; every pathway shown is then read from the event store
and goes through gateway.permissions, so a lagging read model can hide a pathway for a moment
but never show what the caller may not see.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from gateway import types as t
from gateway.directory import Directory, Entry
from gateway.hardening import PublicError


@dataclass
class PathwayFilterValues:
    agency: str  # the caller's agency: it must take part
    kind: str | None = None
    territory: str | None = None
    other_agency: str | None = None
    state: str | None = None  # "open" / "closed"
    has_open_alert: bool | None = None


@dataclass
class IdPage:
    ids: list[UUID]
    cursors: list[str]
    end_cursor: str | None
    has_next_page: bool
    total_count: int | None


def _sort_key(entry: Entry) -> tuple[str, str]:
    # Newest first: invert the timestamp so that an ascending key walks newest -> oldest.
    return (f"{10**11 - int(entry.opened_at.timestamp()):012d}", str(entry.pathway_id))


class DirectoryIndex:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def pathways(self, f: PathwayFilterValues, first: int, after: str | None) -> IdPage:
        entries = [e for e in self.directory.entries()
                   if f.agency in e.participants
                   and (f.kind is None or e.kind == f.kind)
                   and (f.territory is None or e.territory == f.territory)
                   and (f.other_agency is None or f.other_agency in e.participants)
                   and (f.state is None or e.closed == (f.state == "closed"))
                   and (f.has_open_alert is None or bool(e.open_alerts) == f.has_open_alert)]
        entries.sort(key=_sort_key)
        decoded = t.decode_cursor(after, 2)
        if decoded == []:
            raise PublicError("Curseur « after » invalide.", "BAD_CURSOR")
        start = 0
        if decoded is not None:
            start = next((n for n, e in enumerate(entries) if _sort_key(e) > tuple(decoded)), len(entries))
        window = entries[start:start + first + 1]
        page = window[:first]
        cursors = [t.encode_cursor(*_sort_key(e)) for e in page]
        return IdPage([e.pathway_id for e in page], cursors, cursors[-1] if cursors else None,
                      len(window) > first, len(entries))


class ReadModelIndex:
    """`projections.queries.pathways` on a read-model connection (PostgreSQL with its
    search_path set, or the embedded SQLite file). The caller's agency is the `agency` filter
    of the read model; a second agency filter is applied on the page."""

    def __init__(self, connect: Callable[[], AbstractContextManager[Any]]) -> None:
        self.connect = connect

    def pathways(self, f: PathwayFilterValues, first: int, after: str | None) -> IdPage:
        from projections import queries

        with self.connect() as conn:
            try:
                page = queries.pathways(conn, kind=f.kind, territory=f.territory, agency=f.agency, state=f.state,
                                        has_open_alert=f.has_open_alert, first=first, after=after)
            except ValueError:
                raise PublicError("Curseur « after » invalide.", "BAD_CURSOR") from None
            except Exception as error:
                if "pathway_summary" in str(error):  # read model not built yet (projections not run)
                    raise PublicError("Liste indisponible : les vues de lecture ne sont pas encore construites "
                                      "(relais projections run).", "UNAVAILABLE") from None
                raise
            rows = page.items
            if f.other_agency is not None and rows:
                members = queries.participants(conn, [r["pathway_id"] for r in rows])
                rows = [r for r in rows if f.other_agency in members.get(r["pathway_id"], {})]
        cursors = [queries.encode_cursor(r["opened_at"], r["pathway_id"]) for r in rows]
        return IdPage([UUID(str(r["pathway_id"])) for r in rows], cursors, page.end_cursor, page.has_next_page, None)

    def caseload(self, agency: str, first: int, after: str | None) -> IdPage:
        """`projections.queries.caseload_by_agency`: the open pathways `agency` takes part in,
        newest opened first (the read model's order; no total count)."""
        from projections import queries

        with self.connect() as conn:
            page = self._call(lambda: queries.caseload_by_agency(conn, agency, state="open", first=first, after=after),
                              "caseload_pathways")
        rows = page.items
        cursors = [queries.encode_cursor(r["opened_at"], r["pathway_id"]) for r in rows]
        return IdPage([UUID(str(r["pathway_id"])) for r in rows], cursors, page.end_cursor, page.has_next_page, None)

    def alerts(self, agency: str, first: int, after: str | None, *, pathway_id: UUID | None = None,
               rule_id: str | None = None, severity: str | None = None,
               owned_only: bool = False) -> tuple[list[tuple[UUID, str, str]], str | None, bool]:
        """`projections.queries.alerts`: the open alerts of the pathways `agency` takes part in
        (from `caseload_by_agency`), newest raised first. Returns ((pathway id, alert id,
        cursor)...), end cursor, has next page. Severity and ownership are applied on the page."""
        from projections import queries

        with self.connect() as conn:
            if pathway_id is not None:
                ids = [str(pathway_id)]
            else:
                ids, cursor = [], None
                while True:  # every pathway of the agency, open or closed (alerts outlive nothing)
                    part = self._call(lambda c=cursor: queries.caseload_by_agency(
                        conn, agency, state=None, first=queries.MAX_PAGE, after=c), "caseload_pathways")
                    ids += [str(r["pathway_id"]) for r in part.items]
                    if not part.has_next_page:
                        break
                    cursor = part.end_cursor
            page = self._call(lambda: queries.alerts(conn, pathway_ids=ids, is_open=True, rule_id=rule_id,
                                                     first=first, after=after), "alerts")
        rows = [r for r in page.items
                if (severity is None or r["severity"] == severity)
                and (not owned_only or agency in (r["owner_agency"], r.get("escalated_to")))]
        return ([(UUID(str(r["pathway_id"])), str(r["alert_id"]), queries.encode_cursor(r["raised_at"], r["alert_id"]))
                 for r in rows], page.end_cursor, page.has_next_page)

    @staticmethod
    def _call(read: Callable[[], Any], table: str) -> Any:
        try:
            return read()
        except ValueError:
            raise PublicError("Curseur « after » invalide.", "BAD_CURSOR") from None
        except Exception as error:
            if table in str(error):  # read model not built yet (projections not run)
                raise PublicError("Liste indisponible : les vues de lecture ne sont pas encore construites "
                                  "(relais projections run).", "UNAVAILABLE") from None
            raise


def postgres_readmodels(database_url: str, schema: str, max_size: int = 8) -> Callable[[], AbstractContextManager[Any]]:
    """A connection factory for the distributed read models (`relais projections run` writes
    them in `schema`): a small pool whose connections have `search_path` set to it."""
    from psycopg import sql
    from psycopg_pool import ConnectionPool

    def configure(conn: Any) -> None:
        conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))

    pool = ConnectionPool(database_url, min_size=1, max_size=max_size, open=True, configure=configure,
                          kwargs={"autocommit": True}, name="gateway-readmodels")
    return pool.connection
