"""Consent to share, per pathway × agency × information category, for the gateway's
authorisation (secret professionnel partagé: withdrawn consent takes effect at once).

``consents`` — pathway_id, agency, category (``identity`` / ``social`` / ``administrative`` /
``medical``), status (``granted`` / ``withdrawn`` / ``objected``: the person's droit
d'opposition, which hides the category even inside the care team), changed_at, event_id (the
last change), collected_by, informed_by (the proof of the last change).

``consent_versions`` — pathway_id, version (1 at the first consent change, one more at each),
changed_at, event_id: the consent version in force, which every disclosure names (audit
records, alert pushes, webhooks).

``emergency_accesses`` — event_id, pathway_id, agency, professional, role, reason, opened_at:
each emergency override (bris de glace); the read side counts it in force for the duration of
the setting ``emergency_access_minutes`` from ``opened_at``.
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
            "changed_at TEXT NOT NULL, event_id TEXT NOT NULL, collected_by TEXT, informed_by TEXT",
            ("pathway_id", "agency", "category"),
            (("agency",),),
        ),
        Table("consent_versions",
              "pathway_id TEXT NOT NULL, version BIGINT NOT NULL, changed_at TEXT NOT NULL, event_id TEXT NOT NULL",
              ("pathway_id",)),
        Table("emergency_accesses",
              "event_id TEXT NOT NULL, pathway_id TEXT NOT NULL, agency TEXT NOT NULL, professional TEXT NOT NULL, "
              "role TEXT NOT NULL, reason TEXT NOT NULL, opened_at TEXT NOT NULL",
              ("event_id",), (("pathway_id",), ("opened_at",))),
    )

    def apply(self, event: PathwayEvent) -> list[Statement]:
        return dispatch(self, event)

    def _set(self, e: PathwayEvent, status: str) -> list[Statement]:
        rows = [
            Statement(
                f"INSERT INTO {self.t['consents']} (pathway_id, agency, category, status, changed_at, event_id, "
                "collected_by, informed_by) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (pathway_id, agency, category) DO UPDATE SET status = excluded.status, "
                "changed_at = excluded.changed_at, event_id = excluded.event_id, "
                "collected_by = excluded.collected_by, informed_by = excluded.informed_by",
                (e.pathway_id, e.get("agency"), category, status, e.occurred_at, e.id,
                 e.get("collected_by"), e.get("informed_by")),
            )
            for category in sorted(set(e.get("categories") or []))
        ]
        # One version per change, as the aggregate counts them (Pathway.consent_version).
        version = self.t["consent_versions"]
        rows.append(Statement(
            f"INSERT INTO {version} (pathway_id, version, changed_at, event_id) VALUES (%s, 1, %s, %s) "
            f"ON CONFLICT (pathway_id) DO UPDATE SET version = {version}.version + 1, "
            "changed_at = excluded.changed_at, event_id = excluded.event_id",
            (e.pathway_id, e.occurred_at, e.id)))
        return rows

    def on_ConsentGranted(self, e: PathwayEvent) -> list[Statement]:
        return self._set(e, "granted")

    def on_ConsentWithdrawn(self, e: PathwayEvent) -> list[Statement]:
        return self._set(e, "withdrawn")

    def on_ObjectionRecorded(self, e: PathwayEvent) -> list[Statement]:
        return self._set(e, "objected")

    def on_EmergencyAccessOpened(self, e: PathwayEvent) -> list[Statement]:
        actor = e.get("actor") or {}
        return [Statement(
            f"INSERT INTO {self.t['emergency_accesses']} (event_id, pathway_id, agency, professional, role, reason, "
            "opened_at) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (event_id) DO NOTHING",
            (e.id, e.pathway_id, actor.get("agency"), actor.get("professional"), actor.get("role"),
             e.get("reason"), e.occurred_at))]
