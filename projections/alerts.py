"""Rupture-risk alerts, open and past.

``alerts`` — alert_id, pathway_id, kind, territory, rule_id, subject, severity, status
(``raised`` / ``acknowledged`` / ``escalated`` / ``resolved`` / ``dismissed``), is_open (1/0),
owner_agency, suggested_action (French), triggering_event_ids (JSON list of event ids), raised_at,
raised_event_id, acknowledged_by, acknowledged_at, escalated_to, escalation_reason,
escalated_at, resolution_reason, resolved_at, status_changed_at, dismissal_reason,
dismissed_by, dismissed_at, updated_at (owner, text and severity follow ``AlertUpdated``).
``alert_dismissals`` — per (territory, rule_id, reason): how many alerts their owners dismissed
(a rule often dismissed as a false alarm is noise to tune).
``alert_history`` — one row per alert event: event_id, alert_id, pathway_id, status, at,
agency, professional, reason.
``alerts_pathways`` — working set (pathway_id, kind, territory), so that an alert carries
its pathway's territory without a read in ``apply``.
"""

from __future__ import annotations

from projections.base import OPENING_EVENTS, PathwayEvent, Projection, Statement, Table, as_json, dispatch


class Alerts(Projection):
    name = "alerts"
    title = "Alertes de risque de rupture, ouvertes et passées"
    tables = (
        Table(
            "alerts",
            "alert_id TEXT NOT NULL, pathway_id TEXT NOT NULL, kind TEXT, territory TEXT, rule_id TEXT NOT NULL, "
            "subject TEXT, severity TEXT NOT NULL, status TEXT NOT NULL, is_open BIGINT NOT NULL, "
            "owner_agency TEXT NOT NULL, suggested_action TEXT, triggering_event_ids TEXT NOT NULL, "
            "raised_at TEXT NOT NULL, raised_event_id TEXT NOT NULL, acknowledged_by TEXT, acknowledged_at TEXT, "
            "escalated_to TEXT, escalation_reason TEXT, escalated_at TEXT, resolution_reason TEXT, "
            "resolved_at TEXT, status_changed_at TEXT NOT NULL, dismissal_reason TEXT, dismissed_by TEXT, "
            "dismissed_at TEXT, updated_at TEXT",
            ("alert_id",),
            (("owner_agency", "is_open"), ("pathway_id",), ("territory", "is_open")),
        ),
        Table(
            "alert_history",
            "event_id TEXT NOT NULL, alert_id TEXT NOT NULL, pathway_id TEXT NOT NULL, status TEXT NOT NULL, "
            "at TEXT NOT NULL, agency TEXT, professional TEXT, reason TEXT",
            ("event_id",),
            (("alert_id",),),
        ),
        Table("alerts_pathways", "pathway_id TEXT NOT NULL, kind TEXT, territory TEXT", ("pathway_id",)),
        Table("alert_dismissals", "territory TEXT NOT NULL, rule_id TEXT NOT NULL, reason TEXT NOT NULL, "
              "dismissed BIGINT NOT NULL", ("territory", "rule_id", "reason")),
    )

    def apply(self, event: PathwayEvent) -> list[Statement]:
        if event.name in OPENING_EVENTS:
            return [Statement(
                f"INSERT INTO {self.t['alerts_pathways']} (pathway_id, kind, territory) VALUES (%s, %s, %s) "
                "ON CONFLICT (pathway_id) DO NOTHING",
                (event.pathway_id, OPENING_EVENTS[event.name], event.get("territory")),
            )]
        return dispatch(self, event)

    def _history(self, e: PathwayEvent, status: str, reason: str | None = None) -> Statement:
        return Statement(
            f"INSERT INTO {self.t['alert_history']} (event_id, alert_id, pathway_id, status, at, agency, "
            "professional, reason) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
            (e.id, e.get("alert_id"), e.pathway_id, status, e.occurred_at, e.agency, e.professional, reason),
        )

    def on_AlertRaised(self, e: PathwayEvent) -> list[Statement]:
        p = self.t["alerts_pathways"]
        return [
            Statement(
                f"INSERT INTO {self.t['alerts']} (alert_id, pathway_id, kind, territory, rule_id, subject, severity, "
                "status, is_open, owner_agency, suggested_action, triggering_event_ids, raised_at, raised_event_id, "
                "status_changed_at) "
                f"SELECT %s, %s, p.kind, p.territory, %s, %s, %s, 'raised', 1, %s, %s, %s, %s, %s, %s FROM {p} p "
                "WHERE p.pathway_id = %s ON CONFLICT (alert_id) DO NOTHING",
                (e.get("alert_id"), e.pathway_id, e.get("rule_id"), e.get("subject"), e.get("severity"),
                 e.get("owner_agency"), e.get("suggested_action"), as_json(list(e.get("triggering_event_ids") or [])),
                 e.occurred_at, e.id, e.occurred_at, e.pathway_id),
            ),
            self._history(e, "raised"),
        ]

    def _update(self, e: PathwayEvent, status: str, is_open: int, assignments: str, *params: object) -> Statement:
        return Statement(
            f"UPDATE {self.t['alerts']} SET status = %s, is_open = %s, status_changed_at = %s{assignments} "
            "WHERE alert_id = %s",
            (status, is_open, e.occurred_at, *params, e.get("alert_id")),
        )

    def on_AlertAcknowledged(self, e: PathwayEvent) -> list[Statement]:
        return [self._update(e, "acknowledged", 1, ", acknowledged_by = %s, acknowledged_at = %s",
                             e.agency, e.occurred_at),
                self._history(e, "acknowledged")]

    def on_AlertEscalated(self, e: PathwayEvent) -> list[Statement]:
        return [self._update(e, "escalated", 1, ", escalated_to = %s, escalation_reason = %s, escalated_at = %s",
                             e.get("to_agency"), e.get("reason"), e.occurred_at),
                self._history(e, "escalated", e.get("reason"))]

    def on_AlertResolved(self, e: PathwayEvent) -> list[Statement]:
        return [self._update(e, "resolved", 0, ", resolution_reason = %s, resolved_at = %s",
                             e.get("reason"), e.occurred_at),
                self._history(e, "resolved", e.get("reason"))]

    def on_AlertUpdated(self, e: PathwayEvent) -> list[Statement]:
        return [
            Statement(
                f"UPDATE {self.t['alerts']} SET owner_agency = %s, suggested_action = %s, severity = %s, "
                "updated_at = %s WHERE alert_id = %s",
                (e.get("owner_agency"), e.get("suggested_action"), e.get("severity"), e.occurred_at, e.get("alert_id")),
            ),
            self._history(e, "updated"),
        ]

    def on_AlertDismissed(self, e: PathwayEvent) -> list[Statement]:
        a = self.t["alerts"]
        return [
            self._update(e, "dismissed", 0, ", dismissal_reason = %s, dismissed_by = %s, dismissed_at = %s, "
                         "resolution_reason = %s", e.get("reason"), e.agency, e.occurred_at, e.get("detail")),
            self._history(e, "dismissed", e.get("reason")),
            Statement(
                f"INSERT INTO {self.t['alert_dismissals']} (territory, rule_id, reason, dismissed) "
                f"SELECT COALESCE(a.territory, ''), a.rule_id, %s, 1 FROM {a} a WHERE a.alert_id = %s "
                "ON CONFLICT (territory, rule_id, reason) DO UPDATE SET dismissed = "
                f"{self.t['alert_dismissals']}.dismissed + 1",
                (e.get("reason"), e.get("alert_id")),
            ),
        ]
