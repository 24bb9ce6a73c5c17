"""Territory indicators for the ARS/DREETS: de-identified facts per territory and month.

``territory_facts`` — one row per counted fact: event_id + metric (key), territory, kind,
month (``AAAA-MM`` of when the fact happened), metric, detail, value. It holds no pathway
id, no agency and no person: only what the aggregates need. Metrics:

* ``pathway_opened``            a pathway opened;
* ``orientation_made``          a referral made or a GP orientation (detail: ``gp`` / ``other``);
* ``orientation_honoured``      the person went / the service took them on;
* ``orientation_not_honoured``  it did not happen (detail: the reason);
* ``delay_housing_days``        a housing confirmed: value = days since the pathway opened;
* ``delay_gp_days``             a GP visit confirmed: value = days since the pathway opened;
* ``alert_raised``              a rupture-risk alert (detail: the rule).

``territory_pathways`` is the working set the facts take their territory, kind and opening
instant from (pathway_id, territory, kind, opened_epoch); it is never read by the gateway.

Small counts are suppressed when READ (:func:`projections.queries.territory_indicators`),
so the stored facts stay exact and the threshold can change without a rebuild.
"""

from __future__ import annotations

from projections.base import OPENING_EVENTS, PathwayEvent, Projection, Statement, Table, dispatch, epoch


class TerritoryIndicators(Projection):
    name = "territory_indicators"
    title = "Indicateurs territoriaux anonymisés pour l'ARS (par territoire et par mois)"
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

    def _fact(self, e: PathwayEvent, metric: str, detail: str | None = None, delay: bool = False) -> Statement:
        """INSERT ... SELECT from the pathway's working row: territory and kind come from there;
        with ``delay`` the value is the days since the pathway opened."""
        value = "(%s - p.opened_epoch) / 86400.0" if delay else "NULL"
        params: tuple[object, ...] = (e.id, metric, e.occurred_at[:7], detail)
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

    def on_ReferralOutcomeRecorded(self, e: PathwayEvent) -> list[Statement]:
        if e.get("outcome") == "honoured":
            return [self._fact(e, "orientation_honoured")]
        return [self._fact(e, "orientation_not_honoured", e.get("reason"))]

    def on_GpVisitOutcomeRecorded(self, e: PathwayEvent) -> list[Statement]:
        if e.get("outcome") == "went":
            return [self._fact(e, "orientation_honoured"), self._fact(e, "delay_gp_days", delay=True)]
        return [self._fact(e, "orientation_not_honoured", e.get("reason"))]

    def on_HousingConfirmed(self, e: PathwayEvent) -> list[Statement]:
        return [self._fact(e, "delay_housing_days", delay=True)]

    def on_AlertRaised(self, e: PathwayEvent) -> list[Statement]:
        return [self._fact(e, "alert_raised", e.get("rule_id"))]
