"""Referral outcomes: the closed loop (referred → status changes → contacted → honoured or not,
with the reason and the delays). GP orientations of PASS → GP pathways are referrals too.

``referrals`` — referral_id, pathway_id, kind, territory, to_agency, service, need_id,
is_gp_orientation (1/0), gp_commune (GP orientations), made_at, made_by, status (FHIR Task status), status_reason,
status_changed_at, follow_up_calls, calls_reached, first_reached_at, outcome (``honoured`` /
``not_honoured``), outcome_reason, outcome_detail, outcome_at, days_to_outcome (from
made_at), days_to_first_contact.
``referral_steps`` — one row per step: event_id, referral_id, pathway_id, step (``made``,
a status, ``call_reached``, ``call_unanswered``, ``honoured``, ``not_honoured``), reason, at,
agency.
``referrals_pathways`` — working set (pathway_id, kind, territory).

Delays are computed from epoch seconds kept in ``made_epoch`` (portable arithmetic).
"""

from __future__ import annotations

from projections.base import OPENING_EVENTS, PathwayEvent, Projection, Statement, Table, dispatch, epoch

GP_SERVICE = "médecin traitant"  # domain.pass_gp.GP_SERVICE


class Referrals(Projection):
    name = "referrals"
    title = "Orientations et leur issue (boucle fermée, délais, motifs)"
    tables = (
        Table(
            "referrals",
            "referral_id TEXT NOT NULL, pathway_id TEXT NOT NULL, kind TEXT, territory TEXT, to_agency TEXT NOT NULL, "
            "service TEXT, need_id TEXT, is_gp_orientation BIGINT NOT NULL, gp_commune TEXT, made_at TEXT NOT NULL, made_by TEXT, "
            "made_epoch DOUBLE PRECISION NOT NULL, status TEXT NOT NULL, status_reason TEXT, status_changed_at TEXT, "
            "follow_up_calls BIGINT NOT NULL DEFAULT 0, calls_reached BIGINT NOT NULL DEFAULT 0, "
            "first_reached_at TEXT, days_to_first_contact DOUBLE PRECISION, outcome TEXT, outcome_reason TEXT, "
            "outcome_detail TEXT, outcome_at TEXT, days_to_outcome DOUBLE PRECISION",
            ("referral_id",),
            (("pathway_id",), ("to_agency",), ("territory", "made_at")),
        ),
        Table(
            "referral_steps",
            "event_id TEXT NOT NULL, referral_id TEXT NOT NULL, pathway_id TEXT NOT NULL, step TEXT NOT NULL, "
            "reason TEXT, at TEXT NOT NULL, agency TEXT",
            ("event_id",),
            (("referral_id",),),
        ),
        Table("referrals_pathways", "pathway_id TEXT NOT NULL, kind TEXT, territory TEXT", ("pathway_id",)),
    )

    def apply(self, event: PathwayEvent) -> list[Statement]:
        if event.name in OPENING_EVENTS:
            return [Statement(
                f"INSERT INTO {self.t['referrals_pathways']} (pathway_id, kind, territory) VALUES (%s, %s, %s) "
                "ON CONFLICT (pathway_id) DO NOTHING",
                (event.pathway_id, OPENING_EVENTS[event.name], event.get("territory")),
            )]
        return dispatch(self, event)

    def _step(self, e: PathwayEvent, referral_id: str, step: str, reason: str | None = None) -> Statement:
        return Statement(
            f"INSERT INTO {self.t['referral_steps']} (event_id, referral_id, pathway_id, step, reason, at, agency) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
            (e.id, referral_id, e.pathway_id, step, reason, e.occurred_at, e.agency),
        )

    def _made(self, e: PathwayEvent, referral_id: str, to_agency: str, service: str, need_id: str | None,
              gp: int, gp_commune: str | None = None) -> list[Statement]:
        p = self.t["referrals_pathways"]
        return [
            Statement(
                f"INSERT INTO {self.t['referrals']} (referral_id, pathway_id, kind, territory, to_agency, service, "
                "need_id, is_gp_orientation, gp_commune, made_at, made_by, made_epoch, status) "
                f"SELECT %s, %s, p.kind, p.territory, %s, %s, %s, %s, %s, %s, %s, %s, 'requested' FROM {p} p "
                "WHERE p.pathway_id = %s ON CONFLICT (referral_id) DO NOTHING",
                (referral_id, e.pathway_id, to_agency, service, need_id, gp, gp_commune, e.occurred_at, e.agency,
                 epoch(e.occurred_at), e.pathway_id),
            ),
            self._step(e, referral_id, "made"),
        ]

    def _outcome(self, e: PathwayEvent, referral_id: str, honoured: bool, reason: str | None,
                 detail: str | None) -> list[Statement]:
        outcome = "honoured" if honoured else "not_honoured"
        return [
            Statement(
                f"UPDATE {self.t['referrals']} SET status = %s, status_reason = %s, status_changed_at = %s, "
                "outcome = %s, outcome_reason = %s, outcome_detail = %s, outcome_at = %s, "
                "days_to_outcome = (%s - made_epoch) / 86400.0 WHERE referral_id = %s",
                ("completed" if honoured else "failed", reason, e.occurred_at, outcome, reason, detail,
                 e.occurred_at, epoch(e.occurred_at), referral_id),
            ),
            self._step(e, referral_id, outcome, reason),
        ]

    def on_ReferralMade(self, e: PathwayEvent) -> list[Statement]:
        return self._made(e, e.get("referral_id"), e.get("to_agency"), e.get("service"), e.get("need_id"), 0)

    def on_OrientedToGp(self, e: PathwayEvent) -> list[Statement]:
        return self._made(e, e.get("orientation_id"), e.get("gp_ref"), GP_SERVICE, None, 1, e.get("gp_commune"))

    def on_ReferralStatusChanged(self, e: PathwayEvent) -> list[Statement]:
        rid = e.get("referral_id")
        return [
            Statement(
                f"UPDATE {self.t['referrals']} SET status = %s, status_reason = %s, status_changed_at = %s "
                "WHERE referral_id = %s",
                (e.get("status"), e.get("reason"), e.occurred_at, rid),
            ),
            self._step(e, rid, e.get("status"), e.get("reason")),
        ]

    def on_ReferralOutcomeRecorded(self, e: PathwayEvent) -> list[Statement]:
        return self._outcome(e, e.get("referral_id"), e.get("outcome") == "honoured", e.get("reason"), None)

    def on_GpVisitOutcomeRecorded(self, e: PathwayEvent) -> list[Statement]:
        went = e.get("outcome") == "went"
        return self._outcome(e, e.get("orientation_id"), went, None if went else e.get("reason"), e.get("detail"))

    def on_FollowUpCallMade(self, e: PathwayEvent) -> list[Statement]:
        rid, reached = e.get("orientation_id"), bool(e.get("reached"))
        now = epoch(e.occurred_at)
        return [
            Statement(
                f"UPDATE {self.t['referrals']} SET follow_up_calls = follow_up_calls + 1, "
                "calls_reached = calls_reached + %s, "
                "first_reached_at = CASE WHEN %s = 1 AND (first_reached_at IS NULL OR first_reached_at > %s) "
                "THEN %s ELSE first_reached_at END, "
                "days_to_first_contact = CASE WHEN %s = 1 AND (first_reached_at IS NULL OR first_reached_at > %s) "
                "THEN (%s - made_epoch) / 86400.0 ELSE days_to_first_contact END "
                "WHERE referral_id = %s",
                (int(reached), int(reached), e.occurred_at, e.occurred_at, int(reached), e.occurred_at, now, rid),
            ),
            self._step(e, rid, "call_reached" if reached else "call_unanswered"),
        ]
