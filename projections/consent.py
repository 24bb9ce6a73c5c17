"""Consent to share, per pathway × agency × information category, for the gateway's
authorisation (secret professionnel partagé: withdrawn consent takes effect at once).

``consents`` — pathway_id, agency, category (``identity`` / ``social`` / ``administrative`` /
``medical``), status (``granted`` / ``withdrawn``), changed_at, event_id (the last change).
"""

from __future__ import annotations

from projections.base import PathwayEvent, Projection, Statement, Table, dispatch


class Consents(Projection):
    name = "consents"
    title = "Consentements au partage par structure et catégorie d'information"
    tables = (
        Table(
            "consents",
            "pathway_id TEXT NOT NULL, agency TEXT NOT NULL, category TEXT NOT NULL, status TEXT NOT NULL, "
            "changed_at TEXT NOT NULL, event_id TEXT NOT NULL",
            ("pathway_id", "agency", "category"),
            (("agency",),),
        ),
    )

    def apply(self, event: PathwayEvent) -> list[Statement]:
        return dispatch(self, event)

    def _set(self, e: PathwayEvent, status: str) -> list[Statement]:
        return [
            Statement(
                f"INSERT INTO {self.t['consents']} (pathway_id, agency, category, status, changed_at, event_id) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (pathway_id, agency, category) DO UPDATE SET "
                "status = excluded.status, changed_at = excluded.changed_at, event_id = excluded.event_id",
                (e.pathway_id, e.get("agency"), category, status, e.occurred_at, e.id),
            )
            for category in sorted(set(e.get("categories") or []))
        ]

    def on_ConsentGranted(self, e: PathwayEvent) -> list[Statement]:
        return self._set(e, "granted")

    def on_ConsentWithdrawn(self, e: PathwayEvent) -> list[Statement]:
        return self._set(e, "withdrawn")
