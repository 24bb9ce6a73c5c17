"""Pathway summary: one row per pathway for lists and dashboards.

``pathway_summary`` — pathway_id, kind, territory, lead_agency, person_ref (pseudonymous
reference: identity category), state (``open``/``closed``),
closure_outcome, opened_at, closed_at, next milestone (``next_milestone``: ``release`` /
``discharge`` / ``sas_day_21``, ``next_milestone_on``: its date; null once the exit is
recorded), exited_on, next_appointment_at (earliest appointment still booked),
open_needs_count, open_alerts_count, last activity (``last_activity_at``: latest
``occurred_at``, never moved back by a late entry; ``last_agency``, ``last_professional``,
``last_role``, ``last_event``), ``last_seq`` (pathway version applied).

``pathway_summary_needs`` — every need (pathway_id, need_id, category, description, status
``open``/``met``, recorded_at, recorded_by, met_at): the list behind ``open_needs_count``.
``pathway_summary_agencies`` — the agencies taking part (pathway_id, agency, role): the
``agency`` filter of pathway lists.
``pathway_summary_actions`` — actions assigned at case conferences (pathway_id, action_id,
conference_id, owner_agency, description, due_on, done 1/0, done_at, assigned_at).
``pathway_summary_alerts`` and ``pathway_summary_appointments`` are the working sets the two
other counters are recounted from (id, status).
"""

from __future__ import annotations

from datetime import date, timedelta

from projections.base import OPENING_EVENTS, PathwayEvent, Projection, Statement, Table, dispatch, utc_iso

SAS_MAX_STAY_DAYS = 21  # domain.sas.SAS_MAX_STAY
EXIT_MILESTONE = {"detention": "release", "maternity": "discharge", "sas": "sas_day_21"}
OPEN_ALERT = ("raised", "acknowledged", "escalated")


class PathwaySummary(Projection):
    name = "pathway_summary"
    title = "Synthèse des parcours (état, prochaine échéance, besoins et alertes ouverts)"
    tables = (
        Table(
            "pathway_summary",
            "pathway_id TEXT NOT NULL, kind TEXT NOT NULL, territory TEXT NOT NULL, lead_agency TEXT NOT NULL, "
            "person_ref TEXT, state TEXT NOT NULL, closure_outcome TEXT, opened_at TEXT NOT NULL, closed_at TEXT, "
            "next_milestone TEXT, next_milestone_on TEXT, exited_on TEXT, next_appointment_at TEXT, "
            "open_needs_count BIGINT NOT NULL DEFAULT 0, open_alerts_count BIGINT NOT NULL DEFAULT 0, "
            "last_activity_at TEXT NOT NULL, last_agency TEXT, last_professional TEXT, last_role TEXT, "
            "last_event TEXT, last_seq BIGINT NOT NULL",
            ("pathway_id",),
            (("opened_at", "pathway_id"), ("territory", "kind", "state")),
        ),
        Table(
            "pathway_summary_needs",
            "pathway_id TEXT NOT NULL, need_id TEXT NOT NULL, category TEXT NOT NULL, description TEXT, "
            "status TEXT NOT NULL, recorded_at TEXT NOT NULL, recorded_by TEXT, met_at TEXT",
            ("pathway_id", "need_id"),
        ),
        Table(
            "pathway_summary_agencies",
            "pathway_id TEXT NOT NULL, agency TEXT NOT NULL, role TEXT NOT NULL",
            ("pathway_id", "agency"),
            (("agency",),),
        ),
        Table("pathway_summary_alerts", "pathway_id TEXT NOT NULL, alert_id TEXT NOT NULL, status TEXT NOT NULL",
              ("pathway_id", "alert_id")),
        Table(
            "pathway_summary_actions",
            "pathway_id TEXT NOT NULL, action_id TEXT NOT NULL, conference_id TEXT NOT NULL, "
            "owner_agency TEXT NOT NULL, description TEXT, due_on TEXT, done BIGINT NOT NULL, done_at TEXT, "
            "assigned_at TEXT NOT NULL",
            ("pathway_id", "action_id"),
            (("owner_agency", "done"),),
        ),
        Table(
            "pathway_summary_appointments",
            "pathway_id TEXT NOT NULL, appointment_id TEXT NOT NULL, scheduled_at TEXT NOT NULL, status TEXT NOT NULL",
            ("pathway_id", "appointment_id"),
        ),
    )

    def apply(self, event: PathwayEvent) -> list[Statement]:
        if event.name in OPENING_EVENTS:
            return self._opened(event)
        out = dispatch(self, event)
        out.append(self._touch(event))
        return out

    # ------------------------------------------------------------------ shared
    def _touch(self, e: PathwayEvent) -> Statement:
        return Statement(
            f"UPDATE {self.t['pathway_summary']} SET "
            "last_activity_at = CASE WHEN last_activity_at < %s THEN %s ELSE last_activity_at END, "
            "last_agency = %s, last_professional = %s, last_role = %s, last_event = %s, last_seq = %s "
            "WHERE pathway_id = %s",
            (e.occurred_at, e.occurred_at, e.agency, e.professional, e.role, e.name, e.seq, e.pathway_id),
        )

    def _set(self, e: PathwayEvent, assignments: str, *params: object) -> Statement:
        return Statement(f"UPDATE {self.t['pathway_summary']} SET {assignments} WHERE pathway_id = %s",
                         (*params, e.pathway_id))

    def _opened(self, e: PathwayEvent) -> list[Statement]:
        kind = OPENING_EVENTS[e.name]
        milestone_on = None
        if kind == "detention":
            milestone_on = e.get("release_date")
        elif kind == "maternity":
            milestone_on = e.get("discharge_date")
        elif kind == "sas" and e.get("arrived_on"):
            milestone_on = (date.fromisoformat(e.get("arrived_on")) + timedelta(days=SAS_MAX_STAY_DAYS)).isoformat()
        lead = e.get("lead_agency")
        out = [
            Statement(
                f"INSERT INTO {self.t['pathway_summary']} (pathway_id, kind, territory, lead_agency, person_ref, state, "
                "opened_at, next_milestone, next_milestone_on, last_activity_at, last_agency, last_professional, "
                "last_role, last_event, last_seq) VALUES (%s, %s, %s, %s, %s, 'open', %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (pathway_id) DO NOTHING",
                (e.pathway_id, kind, e.get("territory"), lead, e.get("person_ref"), e.occurred_at,
                 EXIT_MILESTONE.get(kind) if milestone_on else None, milestone_on, e.occurred_at,
                 e.agency, e.professional, e.role, e.name, e.seq),
            ),
            self._agency(e, lead, "lead"),
        ]
        if e.agency and e.agency != lead and e.agency != "relais":
            out.append(self._agency(e, e.agency, "coordination"))
        return out

    def _agency(self, e: PathwayEvent, agency: str, role: str, replace: bool = False) -> Statement:
        conflict = "DO UPDATE SET role = excluded.role" if replace else "DO NOTHING"
        return Statement(
            f"INSERT INTO {self.t['pathway_summary_agencies']} (pathway_id, agency, role) VALUES (%s, %s, %s) "
            f"ON CONFLICT (pathway_id, agency) {conflict}",
            (e.pathway_id, agency, role),
        )

    # ------------------------------------------------------------------ participants
    def on_AgencyJoined(self, e: PathwayEvent) -> list[Statement]:
        return [self._agency(e, e.get("agency"), e.get("role"), replace=True)]

    def on_AgencyLeft(self, e: PathwayEvent) -> list[Statement]:
        return [Statement(f"DELETE FROM {self.t['pathway_summary_agencies']} WHERE pathway_id = %s AND agency = %s",
                          (e.pathway_id, e.get("agency")))]

    def on_PmiLinked(self, e: PathwayEvent) -> list[Statement]:
        return [self._agency(e, e.get("pmi_agency"), "maternal_child")]

    # ------------------------------------------------------------------ needs
    def _recount_needs(self, e: PathwayEvent) -> Statement:
        return self._set(
            e, f"open_needs_count = (SELECT COUNT(*) FROM {self.t['pathway_summary_needs']} n "
               f"WHERE n.pathway_id = %s AND n.status = 'open')", e.pathway_id)

    def on_NeedRecorded(self, e: PathwayEvent) -> list[Statement]:
        return [
            Statement(
                f"INSERT INTO {self.t['pathway_summary_needs']} (pathway_id, need_id, category, description, status, "
                "recorded_at, recorded_by) VALUES (%s, %s, %s, %s, 'open', %s, %s) "
                "ON CONFLICT (pathway_id, need_id) DO NOTHING",
                (e.pathway_id, e.get("need_id"), e.get("category"), e.get("description"), e.occurred_at, e.agency),
            ),
            self._recount_needs(e),
        ]

    def on_NeedMet(self, e: PathwayEvent) -> list[Statement]:
        return [
            Statement(
                f"UPDATE {self.t['pathway_summary_needs']} SET status = 'met', met_at = %s "
                "WHERE pathway_id = %s AND need_id = %s",
                (e.occurred_at, e.pathway_id, e.get("need_id")),
            ),
            self._recount_needs(e),
        ]

    # ------------------------------------------------------------------ alerts
    def _alert_status(self, e: PathwayEvent, status: str) -> list[Statement]:
        return [
            Statement(
                f"UPDATE {self.t['pathway_summary_alerts']} SET status = %s WHERE pathway_id = %s AND alert_id = %s",
                (status, e.pathway_id, e.get("alert_id")),
            ),
            self._recount_alerts(e),
        ]

    def _recount_alerts(self, e: PathwayEvent) -> Statement:
        return self._set(
            e, f"open_alerts_count = (SELECT COUNT(*) FROM {self.t['pathway_summary_alerts']} a "
               "WHERE a.pathway_id = %s AND a.status IN ('raised', 'acknowledged', 'escalated'))", e.pathway_id)

    def on_AlertRaised(self, e: PathwayEvent) -> list[Statement]:
        return [
            Statement(
                f"INSERT INTO {self.t['pathway_summary_alerts']} (pathway_id, alert_id, status) "
                "VALUES (%s, %s, 'raised') ON CONFLICT (pathway_id, alert_id) DO NOTHING",
                (e.pathway_id, e.get("alert_id")),
            ),
            self._recount_alerts(e),
        ]

    def on_AlertAcknowledged(self, e: PathwayEvent) -> list[Statement]:
        return self._alert_status(e, "acknowledged")

    def on_AlertEscalated(self, e: PathwayEvent) -> list[Statement]:
        return self._alert_status(e, "escalated")

    def on_AlertResolved(self, e: PathwayEvent) -> list[Statement]:
        return self._alert_status(e, "resolved")

    def on_AlertDismissed(self, e: PathwayEvent) -> list[Statement]:
        return self._alert_status(e, "dismissed")

    # ------------------------------------------------------------------ case-conference actions
    def on_ActionAssigned(self, e: PathwayEvent) -> list[Statement]:
        return [Statement(
            f"INSERT INTO {self.t['pathway_summary_actions']} (pathway_id, action_id, conference_id, owner_agency, "
            "description, due_on, done, assigned_at) VALUES (%s, %s, %s, %s, %s, %s, 0, %s) "
            "ON CONFLICT (pathway_id, action_id) DO NOTHING",
            (e.pathway_id, e.get("action_id"), e.get("conference_id"), e.get("owner_agency"), e.get("description"),
             e.get("due_on"), e.occurred_at),
        )]

    def on_ActionCompleted(self, e: PathwayEvent) -> list[Statement]:
        return [Statement(
            f"UPDATE {self.t['pathway_summary_actions']} SET done = 1, done_at = %s WHERE pathway_id = %s AND action_id = %s",
            (e.occurred_at, e.pathway_id, e.get("action_id")),
        )]

    # ------------------------------------------------------------------ appointments
    def _recount_appointments(self, e: PathwayEvent) -> Statement:
        return self._set(
            e, f"next_appointment_at = (SELECT MIN(scheduled_at) FROM {self.t['pathway_summary_appointments']} a "
               "WHERE a.pathway_id = %s AND a.status = 'booked')", e.pathway_id)

    def on_AppointmentBooked(self, e: PathwayEvent) -> list[Statement]:
        return [
            Statement(
                f"INSERT INTO {self.t['pathway_summary_appointments']} (pathway_id, appointment_id, scheduled_at, "
                "status) VALUES (%s, %s, %s, 'booked') ON CONFLICT (pathway_id, appointment_id) DO NOTHING",
                (e.pathway_id, e.get("appointment_id"), utc_iso(e.get("scheduled_at"))),
            ),
            self._recount_appointments(e),
        ]

    def _appointment_status(self, e: PathwayEvent, status: str) -> list[Statement]:
        return [
            Statement(
                f"UPDATE {self.t['pathway_summary_appointments']} SET status = %s "
                "WHERE pathway_id = %s AND appointment_id = %s",
                (status, e.pathway_id, e.get("appointment_id")),
            ),
            self._recount_appointments(e),
        ]

    def on_AppointmentSeen(self, e: PathwayEvent) -> list[Statement]:
        return self._appointment_status(e, "seen")

    def on_AppointmentMissed(self, e: PathwayEvent) -> list[Statement]:
        return self._appointment_status(e, "no-show")

    def on_AppointmentExcused(self, e: PathwayEvent) -> list[Statement]:
        return self._appointment_status(e, "excused")

    def on_AppointmentCancelled(self, e: PathwayEvent) -> list[Statement]:
        return self._appointment_status(e, "cancelled")

    # ------------------------------------------------------------------ milestones
    def _milestone(self, e: PathwayEvent, milestone: str, on: str | None) -> list[Statement]:
        return [self._set(e, "next_milestone = %s, next_milestone_on = %s", milestone if on else None, on)]

    def on_ReleaseDateSet(self, e: PathwayEvent) -> list[Statement]:
        return self._milestone(e, "release", e.get("release_date") or e.get("new_date"))

    def on_DischargeDateSet(self, e: PathwayEvent) -> list[Statement]:
        return self._milestone(e, "discharge", e.get("discharge_date"))

    def _exited(self, e: PathwayEvent, on: str | None) -> list[Statement]:
        return [self._set(e, "exited_on = %s, next_milestone = NULL, next_milestone_on = NULL", on)]

    def on_Released(self, e: PathwayEvent) -> list[Statement]:
        return self._exited(e, e.get("released_on"))

    def on_Discharged(self, e: PathwayEvent) -> list[Statement]:
        return self._exited(e, e.get("discharged_on"))

    def on_SasLeft(self, e: PathwayEvent) -> list[Statement]:
        return self._exited(e, e.get("left_on"))

    # ------------------------------------------------------------------ closure
    def on_PathwayClosed(self, e: PathwayEvent) -> list[Statement]:
        return [self._set(e, "state = 'closed', closure_outcome = %s, closed_at = %s", e.get("outcome"), e.occurred_at)]

    def on_PathwayReopened(self, e: PathwayEvent) -> list[Statement]:
        return [self._set(e, "state = 'open', closure_outcome = NULL, closed_at = NULL")]
