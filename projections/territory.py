"""Territory indicators for the ARS/DREETS: de-identified facts per territory and month.

``territory_facts`` — one row per counted fact: event_id + metric (key), territory, kind,
month (``AAAA-MM`` of when the fact happened), metric, detail, value. It holds no pathway
id, no agency and no person: only what the aggregates need. Metrics:

* ``pathway_opened``            a pathway opened;
* ``orientation_made``          a referral made or a GP orientation (detail: ``gp`` / ``other``);
* ``orientation_reached``       the person was reached at a follow-up call, or the outcome is
                                known (once per orientation: event_id is the orientation's id);
* ``orientation_honoured``      the person went / the service took them on;
* ``orientation_not_honoured``  it did not happen (detail: the reason of a GP orientation; for
                                other referrals ``other``, their reason being free text);
* ``delay_housing_days``        a housing confirmed: value = days since the pathway opened;
* ``delay_gp_days``             a GP visit confirmed: value = days since the pathway opened;
* ``alert_raised``              a rupture-risk alert (detail: the rule).

The orientation funnel is the Médecins du Monde Rouen one (2022: 48 orientations made, 27
people reached at the follow-up call, 17 went): made >= reached >= honoured + not honoured.

``territory_pathways`` is the working set the facts take their territory, kind and opening
instant from (pathway_id, territory, kind, opened_epoch); ``territory_closed`` (pathway_id,
territory, outcome) the pathways closed now; ``territory_open_alerts`` (alert_id, territory,
rule_id) the alerts still open. They are read only in aggregate (counts per territory), never
row by row. (Two tables were added for issue 9 rather than columns, so that an older read model
gets them created and keeps working; its figures are complete after
``relais projections rebuild territory_indicators``.)

Small counts are suppressed when READ (:func:`projections.queries.territory_indicators`),
so the stored facts stay exact and the threshold can change without a rebuild.
"""

from __future__ import annotations

from projections.base import OPENING_EVENTS, PathwayEvent, Projection, Statement, Table, dispatch, epoch


class TerritoryIndicators(Projection):
    name = "territory_indicators"
    title = "Indicateurs territoriaux anonymisés pour l'ARS (par territoire et par mois)"
    #: Territory, kind, months, outcomes, rules and delays only: the indicators survive erasure.
    kept_after_erasure = True
    tables = (
        Table(
            "territory_facts",
            "event_id TEXT NOT NULL, metric TEXT NOT NULL, territory TEXT NOT NULL, kind TEXT, month TEXT NOT NULL, "
            "detail TEXT, value DOUBLE PRECISION",
            ("event_id", "metric"),
            (("territory", "month"),),
        ),
        Table(
            "territory_pathways",
            "pathway_id TEXT NOT NULL, territory TEXT NOT NULL, kind TEXT, opened_epoch DOUBLE PRECISION NOT NULL",
            ("pathway_id",),
        ),
        Table(
            "territory_closed",
            "pathway_id TEXT NOT NULL, territory TEXT NOT NULL, outcome TEXT NOT NULL",
            ("pathway_id",),
            (("territory",),),
        ),
        Table(
            "territory_open_alerts",
            "alert_id TEXT NOT NULL, territory TEXT NOT NULL, rule_id TEXT NOT NULL",
            ("alert_id",),
            (("territory",),),
        ),
    )

    def apply(self, event: PathwayEvent) -> list[Statement]:
        if event.name in OPENING_EVENTS:
            e = event
            return [
                Statement(
                    f"INSERT INTO {self.t['territory_pathways']} (pathway_id, territory, kind, opened_epoch) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT (pathway_id) DO NOTHING",
                    (e.pathway_id, e.get("territory"), OPENING_EVENTS[e.name], epoch(e.occurred_at)),
                ),
                self._fact(e, "pathway_opened"),
            ]
        return dispatch(self, event)

    def _fact(self, e: PathwayEvent, metric: str, detail: str | None = None, delay: bool = False,
              key: str | None = None) -> Statement:
        """INSERT ... SELECT from the pathway's working row: territory and kind come from there;
        with ``delay`` the value is the days since the pathway opened. ``key`` replaces the
        event id in the fact's key (a fact counted once per orientation)."""
        value = "(%s - p.opened_epoch) / 86400.0" if delay else "NULL"
        params: tuple[object, ...] = (key or e.id, metric, e.occurred_at[:7], detail)
        if delay:
            params += (epoch(e.occurred_at),)
        return Statement(
            f"INSERT INTO {self.t['territory_facts']} (event_id, metric, territory, kind, month, detail, value) "
            f"SELECT %s, %s, p.territory, p.kind, %s, %s, {value} FROM {self.t['territory_pathways']} p "
            "WHERE p.pathway_id = %s ON CONFLICT (event_id, metric) DO NOTHING",
            (*params, e.pathway_id),
        )

    def on_ReferralMade(self, e: PathwayEvent) -> list[Statement]:
        return [self._fact(e, "orientation_made", "other")]

    def on_OrientedToGp(self, e: PathwayEvent) -> list[Statement]:
        return [self._fact(e, "orientation_made", "gp")]

    def _reached(self, e: PathwayEvent, orientation: str) -> Statement:
        return self._fact(e, "orientation_reached", key=orientation)

    def on_FollowUpCallMade(self, e: PathwayEvent) -> list[Statement]:
        return [self._reached(e, e.get("orientation_id"))] if e.get("reached") else []

    def on_ReferralOutcomeRecorded(self, e: PathwayEvent) -> list[Statement]:
        reached = self._reached(e, e.get("referral_id"))  # an outcome is known: the loop reached them
        if e.get("outcome") == "honoured":
            return [reached, self._fact(e, "orientation_honoured")]
        # the reason of a referral is free text: never a de-identified breakdown key
        return [reached, self._fact(e, "orientation_not_honoured", "other")]

    def on_GpVisitOutcomeRecorded(self, e: PathwayEvent) -> list[Statement]:
        reached = self._reached(e, e.get("orientation_id"))
        if e.get("outcome") == "went":
            return [reached, self._fact(e, "orientation_honoured"), self._fact(e, "delay_gp_days", delay=True)]
        return [reached, self._fact(e, "orientation_not_honoured", e.get("reason") or "other")]

    def on_PathwayClosed(self, e: PathwayEvent) -> list[Statement]:
        return [Statement(
            f"INSERT INTO {self.t['territory_closed']} (pathway_id, territory, outcome) "
            f"SELECT p.pathway_id, p.territory, %s FROM {self.t['territory_pathways']} p WHERE p.pathway_id = %s "
            "ON CONFLICT (pathway_id) DO UPDATE SET outcome = excluded.outcome",
            (e.get("outcome") or "other", e.pathway_id),
        )]

    def on_PathwayReopened(self, e: PathwayEvent) -> list[Statement]:
        return [Statement(f"DELETE FROM {self.t['territory_closed']} WHERE pathway_id = %s", (e.pathway_id,))]

    def on_HousingConfirmed(self, e: PathwayEvent) -> list[Statement]:
        return [self._fact(e, "delay_housing_days", delay=True)]

    def on_AlertRaised(self, e: PathwayEvent) -> list[Statement]:
        return [
            self._fact(e, "alert_raised", e.get("rule_id")),
            Statement(
                f"INSERT INTO {self.t['territory_open_alerts']} (alert_id, territory, rule_id) "
                f"SELECT %s, p.territory, %s FROM {self.t['territory_pathways']} p WHERE p.pathway_id = %s "
                "ON CONFLICT (alert_id) DO NOTHING",
                (str(e.get("alert_id")), e.get("rule_id"), e.pathway_id),
            ),
        ]

    def on_AlertResolved(self, e: PathwayEvent) -> list[Statement]:
        return [Statement(f"DELETE FROM {self.t['territory_open_alerts']} WHERE alert_id = %s",
                          (str(e.get("alert_id")),))]
