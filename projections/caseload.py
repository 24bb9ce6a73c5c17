"""Participants and caseloads: who takes part in which pathway, per agency and per professional.

``caseload_pathways`` — pathway_id, kind, territory, lead_agency, state (``open``/``closed``),
opened_at, last_activity_at, last_agency, last_professional, last_role (the last actor: the
"per professional" caseload is the pathways whose last actor is that professional).
``caseload_participants`` — pathway_id, agency, role (ParticipantRole value), joined_at.
"""

from __future__ import annotations

from projections.base import OPENING_EVENTS, PathwayEvent, Projection, Statement, Table, dispatch


class Caseload(Projection):
    name = "caseload"
    title = "File active par structure et par professionnel"
    tables = (
        Table(
            "caseload_pathways",
            "pathway_id TEXT NOT NULL, kind TEXT NOT NULL, territory TEXT NOT NULL, lead_agency TEXT NOT NULL, "
            "state TEXT NOT NULL, opened_at TEXT NOT NULL, last_activity_at TEXT NOT NULL, last_agency TEXT, "
            "last_professional TEXT, last_role TEXT",
            ("pathway_id",),
            (("last_professional",), ("opened_at", "pathway_id")),
        ),
        Table(
            "caseload_participants",
            "pathway_id TEXT NOT NULL, agency TEXT NOT NULL, role TEXT NOT NULL, joined_at TEXT NOT NULL",
            ("pathway_id", "agency"),
            (("agency",),),
        ),
    )

    def apply(self, event: PathwayEvent) -> list[Statement]:
        if event.name in OPENING_EVENTS:
            e, lead = event, event.get("lead_agency")
            out = [
                Statement(
                    f"INSERT INTO {self.t['caseload_pathways']} (pathway_id, kind, territory, lead_agency, state, "
                    "opened_at, last_activity_at, last_agency, last_professional, last_role) "
                    "VALUES (%s, %s, %s, %s, 'open', %s, %s, %s, %s, %s) ON CONFLICT (pathway_id) DO NOTHING",
                    (e.pathway_id, OPENING_EVENTS[e.name], e.get("territory"), lead, e.occurred_at, e.occurred_at,
                     e.agency, e.professional, e.role),
                ),
                self._join(e, lead, "lead"),
            ]
            if e.agency and e.agency not in (lead, "relais"):
                out.append(self._join(e, e.agency, "coordination"))
            return out
        out = dispatch(self, event)
        e = event
        out.append(Statement(
            f"UPDATE {self.t['caseload_pathways']} SET "
            "last_activity_at = CASE WHEN last_activity_at < %s THEN %s ELSE last_activity_at END, "
            "last_agency = %s, last_professional = %s, last_role = %s WHERE pathway_id = %s",
            (e.occurred_at, e.occurred_at, e.agency, e.professional, e.role, e.pathway_id),
        ))
        return out

    def _join(self, e: PathwayEvent, agency: str, role: str, replace: bool = False) -> Statement:
        conflict = "DO UPDATE SET role = excluded.role" if replace else "DO NOTHING"
        return Statement(
            f"INSERT INTO {self.t['caseload_participants']} (pathway_id, agency, role, joined_at) "
            f"VALUES (%s, %s, %s, %s) ON CONFLICT (pathway_id, agency) {conflict}",
            (e.pathway_id, agency, role, e.occurred_at),
        )

    def on_AgencyJoined(self, e: PathwayEvent) -> list[Statement]:
        return [self._join(e, e.get("agency"), e.get("role"), replace=True)]

    def on_LeadHandedOver(self, e: PathwayEvent) -> list[Statement]:
        return [self._join(e, e.get("from_agency"), e.get("former_lead_role"), replace=True),
                self._join(e, e.get("agency"), "lead", replace=True),
                Statement(f"UPDATE {self.t['caseload_pathways']} SET lead_agency = %s WHERE pathway_id = %s",
                          (e.get("agency"), e.pathway_id))]

    def on_PmiLinked(self, e: PathwayEvent) -> list[Statement]:
        return [self._join(e, e.get("pmi_agency"), "maternal_child")]

    def on_AgencyLeft(self, e: PathwayEvent) -> list[Statement]:
        return [Statement(f"DELETE FROM {self.t['caseload_participants']} WHERE pathway_id = %s AND agency = %s",
                          (e.pathway_id, e.get("agency")))]

    def on_PathwayClosed(self, e: PathwayEvent) -> list[Statement]:
        return [Statement(f"UPDATE {self.t['caseload_pathways']} SET state = 'closed' WHERE pathway_id = %s",
                          (e.pathway_id,))]

    def on_PathwayReopened(self, e: PathwayEvent) -> list[Statement]:
        return [Statement(f"UPDATE {self.t['caseload_pathways']} SET state = 'open' WHERE pathway_id = %s",
                          (e.pathway_id,))]
