"""A territory administrator reads and changes its territory's alert settings through GraphQL;
nobody else does, every attempt is audited, refusals name the field and the reason."""

from __future__ import annotations

from tests.unit.gateway.conftest import token

READ = '{ territorySettings(territory: "76") { territory version changedBy changedByAgency document settings } }'
CHANGE = """mutation($settings: JSON!, $expected: Int) {
  changeTerritorySettings(territory: "76", settings: $settings, expectedVersion: $expected) {
    __typename
    ... on TerritorySettingsVersion { version changedBy document settings }
    ... on TerritorySettingsRefused { code message refusals { field reason } }
  }
}"""


def test_the_territory_admin_changes_its_settings_and_each_change_is_a_version(api) -> None:
    admin = token("ars", "admin_territoire", professional="pro-ars-1")
    before = api(READ, as_=admin)["territorySettings"]
    assert before["version"] == 0 and before["settings"]["digest_hour"] == 8 and before["document"] == {}

    changed = api(CHANGE, {"settings": {"digest_hour": 7, "enabled_rules": ["contact-lost", "stalled"]},
                           "expected": 0}, as_=admin)["changeTerritorySettings"]
    assert changed["__typename"] == "TerritorySettingsVersion" and changed["version"] == 1
    assert changed["changedBy"] == "pro-ars-1"
    assert changed["settings"]["enabled_rules"] == ["contact-lost", "stalled"]

    now = api(READ, as_=admin)["territorySettings"]
    assert (now["version"], now["changedByAgency"], now["settings"]["digest_hour"]) == (1, "ars", 7)
    history = api('{ territorySettingsHistory(territory: "76") { version } }', as_=admin)
    assert [v["version"] for v in history["territorySettingsHistory"]] == [1]


def test_a_refused_change_names_each_field_and_reason_and_stores_nothing(api) -> None:
    admin = token("ars", "admin_territoire")
    refused = api(CHANGE, {"settings": {"digest_hour": 24, "stalled_dayz": 3}}, as_=admin)["changeTerritorySettings"]
    assert refused["__typename"] == "TerritorySettingsRefused" and refused["code"] == "INVALID_SETTINGS"
    assert {r["field"]: r["reason"] for r in refused["refusals"]} == {
        "stalled_dayz": "réglage inconnu", "digest_hour": "doit être inférieur ou égal à 23"}
    refused = api(CHANGE, {"settings": {"digest_hour": 24}}, as_=admin)["changeTerritorySettings"]
    assert refused["refusals"] == [{"field": "digest_hour", "reason": "doit être inférieur ou égal à 23"}]
    stale = api(CHANGE, {"settings": {"digest_hour": 6}, "expected": 3}, as_=admin)["changeTerritorySettings"]
    assert stale["code"] == "STALE_VERSION" and stale["refusals"][0]["field"] == "expectedVersion"
    assert api(READ, as_=admin)["territorySettings"]["version"] == 0


def test_other_roles_and_other_territories_are_refused_and_every_attempt_is_audited(api) -> None:
    for who in (token("ars", "coordinateur"), token("siao", "admin_structure"), token("ars", "analyste")):
        body = api.post(READ, as_=who).json()
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    outside = token("cnil", "admin_territoire")  # an agency of the 75
    body = api.post(CHANGE, {"settings": {"digest_hour": 6}}, as_=outside).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "n'administre pas le territoire « 76 »" in body["errors"][0]["message"]

    admin = token("ars", "admin_territoire")
    api(CHANGE, {"settings": {"digest_hour": 6}}, as_=admin)
    api(CHANGE, {"settings": {"digest_hour": 99}}, as_=admin)
    trail = api("{ auditEvents { events { operation agency role outcome } } }",
                as_=token("ars", "dpo_regional"))["auditEvents"]["events"]
    change = "mutation.changeTerritorySettings"
    assert {"operation": change, "agency": "ars", "role": "admin_territoire", "outcome": "0"} in trail
    assert {"operation": change, "agency": "ars", "role": "admin_territoire", "outcome": "4"} in trail
    assert {"operation": change, "agency": "cnil", "role": "admin_territoire", "outcome": "4"} in trail


BACKTEST = """query($settings: JSON!, $synthetic: Int) {
  rulesBacktest(territory: "76", settings: $settings, synthetic: $synthetic) {
    __typename
    ... on RulesBacktest { pathways source ruleSets { name rules { ruleId alerts breaksAlertedShare } } report }
    ... on TerritorySettingsRefused { refusals { field reason } }
  }
}"""


def test_the_territory_admin_back_tests_a_candidate_rule_set_beside_the_one_in_force(api) -> None:
    admin = token("ars", "admin_territoire")
    out = api(BACKTEST, {"settings": {"referral_unverified_days": 5}, "synthetic": 30}, as_=admin)["rulesBacktest"]
    assert out["__typename"] == "RulesBacktest" and out["pathways"] == 30
    assert [s["name"] for s in out["ruleSets"]] == ["en vigueur", "candidat"]
    alerts = {s["name"]: {r["ruleId"]: r["alerts"] for r in s["rules"]} for s in out["ruleSets"]}
    assert alerts["candidat"]["referral-unverified"] >= alerts["en vigueur"]["referral-unverified"]
    assert "# Back-test du territoire 76" in out["report"]
    refused = api(BACKTEST, {"settings": {"stalled_days": 0}, "synthetic": 100000}, as_=admin)["rulesBacktest"]
    assert refused["refusals"][0]["field"] == "synthetic"
    refused = api(BACKTEST, {"settings": {"stalled_days": 0}}, as_=admin)["rulesBacktest"]
    assert refused["refusals"] == [{"field": "stalled_days", "reason": "doit être supérieur ou égal à 1"}]
    assert api.post(BACKTEST, {"settings": {}}, as_=token("ars", "coordinateur")).json()["errors"][0][
        "extensions"]["code"] == "FORBIDDEN"


def test_the_back_test_of_the_stored_history_replays_the_territorys_pathways(api) -> None:
    import uuid

    pid = str(uuid.uuid4())
    api.send("OpenPassGpPathway", {"pathwayId": pid, "personRef": "P-BT-0001", "territory": "76",
                                   "leadAgency": "pass"}, as_=token("pass", "assistante_sociale"))
    out = api(BACKTEST, {"settings": {}}, as_=token("ars", "admin_territoire"))["rulesBacktest"]
    assert out["pathways"] == 1 and out["source"] == "historique du magasin d'événements"


def test_a_threshold_changed_through_the_api_is_the_one_the_engine_applies(tmp_path) -> None:
    import uuid
    from datetime import datetime, timedelta, timezone

    from fastapi.testclient import TestClient

    from gateway.app import create_app
    from services.bootstrap import build_embedded, build_risk_engine
    from services.clock import TestClock
    from services.risk import SQLiteDeadlineIndex
    from services.settings import Settings
    from tests.tokens import identity_settings
    from tests.unit.gateway.conftest import Api

    settings = Settings(state_dir=tmp_path, mode="embedded", **identity_settings())
    system = build_embedded(settings, risk=False)
    index = SQLiteDeadlineIndex()
    # The engine of the composition root, on the store the gateway writes.
    engine = build_risk_engine(settings, system.pathways, index, clock=TestClock(datetime.now(timezone.utc)),
                               settings_store=system.territory_settings)
    try:
        with TestClient(create_app(system)) as client:
            api = Api(client)
            changed = api(CHANGE, {"settings": {"contact_failed_attempts": 2}},
                          as_=token("ars", "admin_territoire"))["changeTerritorySettings"]
            assert changed["version"] == 1
            caso = token("mdm-caso-rouen", "medecin")
            pid = str(uuid.uuid4())
            api.send("OpenPassGpPathway", {"pathwayId": pid, "personRef": "P-th-0001", "territory": "76",
                                           "leadAgency": "mdm-caso-rouen"}, as_=caso)
            for _ in range(2):
                api.send("RecordContactAttempt", {"pathwayId": pid, "reached": False, "channel": "phone"}, as_=caso)
            engine.clock.set(datetime.now(timezone.utc) + timedelta(seconds=1))
            engine.on_event(None, uuid.UUID(pid))
            rules = [a.rule_id for a in system.pathways.app.get_pathway(uuid.UUID(pid)).open_alerts]
            assert "contact-lost" in rules  # two failures: this territory's threshold, not the default 3
    finally:
        index.close()
