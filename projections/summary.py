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
``pathway_summary_actions`` — actions assigned at case conferences (pathway_id, action_id,
conference_id, owner_agency, description, due_on, done 1/0, done_at, assigned_at).
``pathway_summary_alerts`` is the working set ``open_alerts_count`` is recounted from (id, status).
``pathway_summary_appointments`` — every appointment (appointment_id, with_agency, service,
scheduled_at, status, status_reason, interpreter_needed 1/0, language, interpreter_booked 1/0).
``pathway_summary_coverage`` — health-coverage rights (scheme, status, applied_on, opened_on,
expires_on, renewal_filed_on). ``pathway_summary_housing`` — housing requests (request_id,
via_agency, status, needed_from, place, available_on, decline_reason).
``pathway_summary_conferences`` — case conferences (conference_id, held_at, agencies invited and
decisions as JSON lists). ``pathway_summary_presence`` — the agencies that confirmed they were
at a conference (conference_id, agency, confirmed_at; the convener's by holding it). ``pathway_summary_treatments`` — detention: treatments to continue
(treatment_id, name, kind, prescribed_by, handed_over_to, follow_up_appointment_id).
``pathway_summary_facts`` — the facts of one kind, one row each (pathway_id, name, value as
text): ``prison``, ``release_date``, ``maternity_ward``, ``discharge_date``, ``newborn_ref``,
``born_on``, ``pmi_agency``, ``arrived_on``, ``administrative_status``,
``tb_screening_needed`` (``True``/``False``), ``clat_screened_on``, ``orientation``,
``gp_commune``, ``gp_languages`` (JSON list). GP orientations are in ``referrals``.

``pathway_summary`` also carries what the gateway's pathway shows beside the lists:
closure_reason, interpreter_language, exit_date (planned exit: release / discharge / SAS day
21, kept after the exit), contact (phone, failed_attempts, last_attempt_at, last_reached_at).
"""

from __future__ import annotations

from datetime import date, timedelta

from projections.base import OPENING_EVENTS, PathwayEvent, Projection, Statement, Table, as_json, dispatch, utc_iso

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
            "last_event TEXT, last_seq BIGINT NOT NULL, closure_reason TEXT, interpreter_language TEXT, exit_date TEXT, "
            "phone TEXT, failed_attempts BIGINT NOT NULL DEFAULT 0, last_attempt_at TEXT, last_reached_at TEXT",
            ("pathway_id",),
            (("opened_at", "pathway_id"), ("territory", "kind", "state")),
        ),
        Table(
            "pathway_summary_needs",
            "pathway_id TEXT NOT NULL, need_id TEXT NOT NULL, category TEXT NOT NULL, description TEXT, "
            "status TEXT NOT NULL, recorded_at TEXT NOT NULL, recorded_by TEXT, met_at TEXT",
            ("pathway_id", "need_id"),
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
            "pathway_id TEXT NOT NULL, appointment_id TEXT NOT NULL, scheduled_at TEXT NOT NULL, status TEXT NOT NULL, "
            "with_agency TEXT, service TEXT, status_reason TEXT, interpreter_needed BIGINT NOT NULL DEFAULT 0, "
            "language TEXT, interpreter_booked BIGINT NOT NULL DEFAULT 0",
            ("pathway_id", "appointment_id"),
        ),
        Table(
            "pathway_summary_coverage",
            "pathway_id TEXT NOT NULL, scheme TEXT NOT NULL, status TEXT NOT NULL, applied_on TEXT, opened_on TEXT, "
            "expires_on TEXT, renewal_filed_on TEXT",
            ("pathway_id", "scheme"),
        ),
        Table(
            "pathway_summary_housing",
            "pathway_id TEXT NOT NULL, request_id TEXT NOT NULL, via_agency TEXT, status TEXT NOT NULL, "
            "needed_from TEXT, place TEXT, available_on TEXT, decline_reason TEXT, requested_at TEXT NOT NULL",
            ("pathway_id", "request_id"),
        ),
        Table(
            "pathway_summary_conferences",
            "pathway_id TEXT NOT NULL, conference_id TEXT NOT NULL, held_at TEXT NOT NULL, agencies TEXT NOT NULL, "
            "decisions TEXT NOT NULL",
            ("pathway_id", "conference_id"),
        ),
        Table(
            "pathway_summary_presence",
            "pathway_id TEXT NOT NULL, conference_id TEXT NOT NULL, agency TEXT NOT NULL, confirmed_at TEXT NOT NULL",
            ("pathway_id", "conference_id", "agency"),
        ),
        Table(
            "pathway_summary_treatments",
            "pathway_id TEXT NOT NULL, treatment_id TEXT NOT NULL, name TEXT, kind TEXT, prescribed_by TEXT, "
            "handed_over_to TEXT, follow_up_appointment_id TEXT, recorded_at TEXT NOT NULL",
            ("pathway_id", "treatment_id"),
        ),
        Table("pathway_summary_facts", "pathway_id TEXT NOT NULL, name TEXT NOT NULL, value TEXT",
              ("pathway_id", "name")),
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
                "last_role, last_event, last_seq, exit_date) "
                "VALUES (%s, %s, %s, %s, %s, 'open', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (pathway_id) DO NOTHING",
                (e.pathway_id, kind, e.get("territory"), lead, e.get("person_ref"), e.occurred_at,
                 EXIT_MILESTONE.get(kind) if milestone_on else None, milestone_on, e.occurred_at,
                 e.agency, e.professional, e.role, e.name, e.seq, milestone_on),
            ),
        ]
        if kind == "detention":
            out += [self._fact(e, "prison", e.get("prison")), self._fact(e, "release_date", e.get("release_date"))]
        elif kind == "maternity":
            out += [self._fact(e, "maternity_ward", e.get("maternity_ward")),
                    self._fact(e, "discharge_date", e.get("discharge_date"))]
        elif kind == "sas":
            out += [self._fact(e, "arrived_on", e.get("arrived_on")),
                    self._fact(e, "tb_screening_needed", str(bool(e.get("from_high_tb_endemicity"))))]
        return out

    # ------------------------------------------------------------------ participants
    # Who takes part is the caseload projection's ``caseload_participants`` (the one table of
    # them, the one the gateway's access decisions read); here only the PMI as a fact.
    def on_PmiLinked(self, e: PathwayEvent) -> list[Statement]:
        return [self._fact(e, "pmi_agency", e.get("pmi_agency"))]

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
                "status, with_agency, service, interpreter_needed, language) "
                "VALUES (%s, %s, %s, 'booked', %s, %s, %s, %s) ON CONFLICT (pathway_id, appointment_id) DO NOTHING",
                (e.pathway_id, e.get("appointment_id"), utc_iso(e.get("scheduled_at")), e.get("with_agency"),
                 e.get("service"), int(bool(e.get("interpreter_needed"))), e.get("language")),
            ),
            self._recount_appointments(e),
        ]

    def _appointment_status(self, e: PathwayEvent, status: str) -> list[Statement]:
        return [
            Statement(
                f"UPDATE {self.t['pathway_summary_appointments']} SET status = %s, status_reason = %s "
                "WHERE pathway_id = %s AND appointment_id = %s",
                (status, e.get("reason"), e.pathway_id, e.get("appointment_id")),
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
        on = e.get("release_date") or e.get("new_date")
        return [*self._milestone(e, "release", on), self._set(e, "exit_date = %s", on),
                self._fact(e, "release_date", on)]

    def on_DischargeDateSet(self, e: PathwayEvent) -> list[Statement]:
        on = e.get("discharge_date")
        return [*self._milestone(e, "discharge", on), self._set(e, "exit_date = %s", on),
                self._fact(e, "discharge_date", on)]

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
        return [self._set(e, "state = 'closed', closure_outcome = %s, closure_reason = %s, closed_at = %s",
                          e.get("outcome"), e.get("reason"), e.occurred_at)]

    def on_PathwayReopened(self, e: PathwayEvent) -> list[Statement]:
        return [self._set(e, "state = 'open', closure_outcome = NULL, closure_reason = NULL, closed_at = NULL")]

    # ------------------------------------------------------------------ interpreting
    def on_InterpreterNeedRecorded(self, e: PathwayEvent) -> list[Statement]:
        language = e.get("language")
        out = [self._set(e, "interpreter_language = %s", language)]
        for appointment_id in e.get("appointment_ids") or []:
            out.append(Statement(
                f"UPDATE {self.t['pathway_summary_appointments']} SET interpreter_needed = %s, "
                "language = COALESCE(language, %s) WHERE pathway_id = %s AND appointment_id = %s",
                (int(language is not None), language, e.pathway_id, appointment_id)))
        return out

    def on_InterpreterBooked(self, e: PathwayEvent) -> list[Statement]:
        return [Statement(
            f"UPDATE {self.t['pathway_summary_appointments']} SET interpreter_booked = 1 "
            "WHERE pathway_id = %s AND appointment_id = %s", (e.pathway_id, e.get("appointment_id")))]

    # ------------------------------------------------------------------ coverage
    def on_CoverageApplied(self, e: PathwayEvent) -> list[Statement]:
        c = self.t["pathway_summary_coverage"]
        return [Statement(
            f"INSERT INTO {c} (pathway_id, scheme, status, applied_on) VALUES (%s, %s, 'applied', %s) "
            f"ON CONFLICT (pathway_id, scheme) DO UPDATE SET applied_on = excluded.applied_on, "
            f"status = CASE WHEN {c}.status = 'open' THEN 'open' ELSE 'applied' END",
            (e.pathway_id, e.get("scheme"), e.get("applied_on")))]

    def on_CoverageOpened(self, e: PathwayEvent) -> list[Statement]:
        c = self.t["pathway_summary_coverage"]
        return [Statement(
            f"INSERT INTO {c} (pathway_id, scheme, status, opened_on, expires_on) VALUES (%s, %s, 'open', %s, %s) "
            "ON CONFLICT (pathway_id, scheme) DO UPDATE SET status = 'open', opened_on = excluded.opened_on, "
            "expires_on = excluded.expires_on, renewal_filed_on = NULL",
            (e.pathway_id, e.get("scheme"), e.get("opened_on"), e.get("expires_on")))]

    def on_CoverageRenewalFiled(self, e: PathwayEvent) -> list[Statement]:
        return [Statement(f"UPDATE {self.t['pathway_summary_coverage']} SET renewal_filed_on = %s "
                          "WHERE pathway_id = %s AND scheme = %s", (e.get("filed_on"), e.pathway_id, e.get("scheme")))]

    def on_CoverageEnded(self, e: PathwayEvent) -> list[Statement]:
        return [Statement(f"UPDATE {self.t['pathway_summary_coverage']} SET status = 'ended' "
                          "WHERE pathway_id = %s AND scheme = %s", (e.pathway_id, e.get("scheme")))]

    # ------------------------------------------------------------------ housing (SIAO)
    def on_HousingRequested(self, e: PathwayEvent) -> list[Statement]:
        return [Statement(
            f"INSERT INTO {self.t['pathway_summary_housing']} (pathway_id, request_id, via_agency, status, "
            "needed_from, requested_at) VALUES (%s, %s, %s, 'requested', %s, %s) "
            "ON CONFLICT (pathway_id, request_id) DO NOTHING",
            (e.pathway_id, e.get("request_id"), e.get("via_agency"), e.get("needed_from"), e.occurred_at))]

    def _housing(self, e: PathwayEvent, assignments: str, *params: object) -> list[Statement]:
        return [Statement(f"UPDATE {self.t['pathway_summary_housing']} SET {assignments} "
                          "WHERE pathway_id = %s AND request_id = %s", (*params, e.pathway_id, e.get("request_id")))]

    def on_HousingOffered(self, e: PathwayEvent) -> list[Statement]:
        return self._housing(e, "status = 'offered', place = %s, available_on = %s, decline_reason = NULL",
                             e.get("place"), e.get("available_on"))

    def on_HousingConfirmed(self, e: PathwayEvent) -> list[Statement]:
        return self._housing(e, "status = 'confirmed'")

    def on_HousingDeclined(self, e: PathwayEvent) -> list[Statement]:
        return self._housing(e, "status = 'declined', decline_reason = %s", e.get("reason"))

    # ------------------------------------------------------------------ contact
    def on_PhoneStatusRecorded(self, e: PathwayEvent) -> list[Statement]:
        status = e.get("status")
        # A fresh number: the failed attempts count again from zero (domain.pathway).
        return [self._set(e, "phone = %s, failed_attempts = CASE WHEN %s = 'valid' THEN 0 ELSE failed_attempts END",
                          status, status)]

    def _attempt(self, e: PathwayEvent, reached: bool) -> Statement:
        if reached:
            return self._set(e, "last_attempt_at = %s, failed_attempts = 0, last_reached_at = %s",
                             e.occurred_at, e.occurred_at)
        return self._set(e, "last_attempt_at = %s, failed_attempts = failed_attempts + 1", e.occurred_at)

    def on_ContactAttempted(self, e: PathwayEvent) -> list[Statement]:
        return [self._attempt(e, bool(e.get("reached")))]

    def on_FollowUpCallMade(self, e: PathwayEvent) -> list[Statement]:
        return [self._attempt(e, bool(e.get("reached")))]

    def on_GpVisitOutcomeRecorded(self, e: PathwayEvent) -> list[Statement]:
        # Learned when the person is finally reached another way: the number is gone.
        return [self._set(e, "phone = 'changed'")] if e.get("reason") == "phone_changed" else []

    def on_LeadHandedOver(self, e: PathwayEvent) -> list[Statement]:
        return [self._set(e, "lead_agency = %s", e.get("agency"))]

    # ------------------------------------------------------------------ case conferences
    def on_CaseConferenceHeld(self, e: PathwayEvent) -> list[Statement]:
        return [Statement(
            f"INSERT INTO {self.t['pathway_summary_conferences']} (pathway_id, conference_id, held_at, agencies, "
            "decisions) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (pathway_id, conference_id) DO NOTHING",
            (e.pathway_id, e.get("conference_id"), e.occurred_at, as_json(list(e.get("agencies") or [])),
             as_json(list(e.get("decisions") or [])))),
            # The convener's agency is present by holding it (domain.pathway.hold_case_conference).
            *([self._present(e, e.agency)] if e.agency and e.agency != "relais" else [])]

    def _present(self, e: PathwayEvent, agency: str) -> Statement:
        return Statement(
            f"INSERT INTO {self.t['pathway_summary_presence']} (pathway_id, conference_id, agency, confirmed_at) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (pathway_id, conference_id, agency) DO NOTHING",
            (e.pathway_id, e.get("conference_id"), agency, e.occurred_at))

    def on_ConferencePresenceConfirmed(self, e: PathwayEvent) -> list[Statement]:
        return [self._present(e, e.get("agency"))]

    # ------------------------------------------------------------------ facts of one kind
    def _fact(self, e: PathwayEvent, name: str, value: object) -> Statement:
        return Statement(
            f"INSERT INTO {self.t['pathway_summary_facts']} (pathway_id, name, value) VALUES (%s, %s, %s) "
            "ON CONFLICT (pathway_id, name) DO UPDATE SET value = excluded.value",
            (e.pathway_id, name, None if value is None else str(value)))

    def on_TreatmentToContinueRecorded(self, e: PathwayEvent) -> list[Statement]:
        return [Statement(
            f"INSERT INTO {self.t['pathway_summary_treatments']} (pathway_id, treatment_id, name, kind, prescribed_by, "
            "recorded_at) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (pathway_id, treatment_id) DO NOTHING",
            (e.pathway_id, e.get("treatment_id"), e.get("name"), e.get("kind"), e.get("prescribed_by"), e.occurred_at))]

    def _treatment(self, e: PathwayEvent, column: str, value: object) -> list[Statement]:
        return [Statement(f"UPDATE {self.t['pathway_summary_treatments']} SET {column} = %s "
                          "WHERE pathway_id = %s AND treatment_id = %s", (value, e.pathway_id, e.get("treatment_id")))]

    def on_TreatmentFollowUpPlanned(self, e: PathwayEvent) -> list[Statement]:
        return self._treatment(e, "follow_up_appointment_id", e.get("appointment_id"))

    def on_TreatmentHandedOver(self, e: PathwayEvent) -> list[Statement]:
        return self._treatment(e, "handed_over_to", e.get("to_agency"))

    def on_NewbornRegistered(self, e: PathwayEvent) -> list[Statement]:
        return [self._fact(e, "newborn_ref", e.get("newborn_ref")), self._fact(e, "born_on", e.get("born_on"))]

    def on_AdministrativeSituationAssessed(self, e: PathwayEvent) -> list[Statement]:
        return [self._fact(e, "administrative_status", e.get("status"))]

    def on_TbScreeningNeedFlagged(self, e: PathwayEvent) -> list[Statement]:
        return [self._fact(e, "tb_screening_needed", "True")]

    def on_ClatScreeningDone(self, e: PathwayEvent) -> list[Statement]:
        return [self._fact(e, "clat_screened_on", e.get("screened_on"))]

    def on_OrientationDecided(self, e: PathwayEvent) -> list[Statement]:
        return [self._fact(e, "orientation", e.get("destination"))]

    def on_GpSearchStarted(self, e: PathwayEvent) -> list[Statement]:
        return [self._fact(e, "gp_commune", e.get("commune")),
                self._fact(e, "gp_languages", as_json(list(e.get("languages") or [])))]
