"""territoryIndicators through the gateway, from the territory read model (embedded SQLite
projections fed by the pathways service): no hidden count can be worked out from the figures
returned with it, GP orientations are counted in the orientation funnel, who may ask."""

from __future__ import annotations

import time
import uuid
from typing import Any

from tests.unit.gateway.conftest import Api, token
from tests.unit.gateway.test_gateway_readmodels import api_on_readmodels  # noqa: F401 - the fixture
from tests.unit.projections.test_territory_suppression import recoverable

INDICATORS = """query($t: String!) { territoryIndicators(territory: $t) {
  territory smallCountThreshold
  pathwaysOpened pathwaysByKind { key count } openPathways closedPathways closedByOutcome { key count }
  openAlerts openAlertsByRule { key count } alertsRaised alertsRaisedByRule { key count }
  orientations { made reached honoured notHonoured notHonouredByReason { key count } }
  monthly { month indicator detail count suppressed medianDays }
} }"""


def indicators(api: Api, territory: str, ready: Any) -> dict[str, Any]:
    """The answer once ``ready(answer)`` holds (the read model follows the bus), 10 s at most."""
    deadline = time.monotonic() + 10
    while True:
        data = api(INDICATORS, {"t": territory}, as_=token("ars", "analyste"))["territoryIndicators"]
        if ready(data) or time.monotonic() > deadline:
            return data
        time.sleep(0.02)


def as_read_model(data: dict[str, Any]) -> dict[str, Any]:
    """The GraphQL answer in the read model's shape (what `recoverable` reads)."""
    o = data["orientations"]

    def cells(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"key": i["key"], "count": i["count"]} for i in items]

    return {
        "pathways": {"opened": data["pathwaysOpened"], "by_kind": cells(data["pathwaysByKind"]),
                     "open": data["openPathways"], "closed": data["closedPathways"],
                     "closed_by_outcome": cells(data["closedByOutcome"])},
        "alerts": {"open": data["openAlerts"], "open_by_rule": cells(data["openAlertsByRule"]),
                   "raised": data["alertsRaised"], "raised_by_rule": cells(data["alertsRaisedByRule"])},
        "orientations": {"made": o["made"], "reached": o["reached"], "honoured": o["honoured"],
                         "not_honoured": o["notHonoured"], "not_honoured_by_reason": cells(o["notHonouredByReason"])},
        "monthly": data["monthly"],
    }


def open_pass_gp(api: Api, territory: str, n: int) -> str:
    pid = str(uuid.uuid4())
    out = api.send("OpenPassGpPathway", {"pathwayId": pid, "personRef": f"P-{n}", "territory": territory,
                                         "leadAgency": "pass"}, as_=token("pass"))
    assert out["__typename"] == "CommandAccepted", out
    return pid


def orient_and_go(api: Api, pid: str) -> None:
    pass_ = token("pass")
    orientation = str(uuid.uuid4())
    for command, fields in (
        ("OpenCoverage", {"scheme": "AME", "openedOn": "2026-11-02"}),
        ("OrientToGp", {"orientationId": orientation, "gpRef": "MG-12", "gpCommune": "Rouen"}),
        ("RecordFollowUpCall", {"orientationId": orientation, "reached": True}),
        ("RecordGpVisitOutcome", {"orientationId": orientation, "outcome": "WENT"}),
    ):
        out = api.send(command, {"pathwayId": pid, **fields}, as_=pass_)
        assert out["__typename"] == "CommandAccepted", (command, out)


def test_one_sas_pathway_among_six_pass_gp_cannot_be_recovered_from_any_total(api_on_readmodels):  # noqa: F811
    api, _ = api_on_readmodels
    out = api.send("OpenSasPathway", {"pathwayId": str(uuid.uuid4()), "personRef": "P-sas", "territory": "75",
                                      "leadAgency": "sas", "arrivedOn": "2026-11-01"}, as_=token("sas"))
    assert out["__typename"] == "CommandAccepted", out
    pathways = [open_pass_gp(api, "75", n) for n in range(6)]
    for pid in pathways[:5]:
        orient_and_go(api, pid)
    data = indicators(api, "75", lambda d: d["orientations"]["honoured"] == 5)
    kinds = {c["key"]: c["count"] for c in data["pathwaysByKind"]}
    assert kinds == {"pass_gp": None, "sas": None}  # 6 shown beside openPathways 7 would give sas = 1
    assert data["openPathways"] == 7 and data["pathwaysOpened"] == 7
    assert recoverable(as_read_model(data)) == []
    assert all((row["count"] is None) == row["suppressed"] for row in data["monthly"])


def test_gp_orientations_are_counted_in_the_orientation_funnel(api_on_readmodels):  # noqa: F811
    api, _ = api_on_readmodels
    for n in range(5):
        orient_and_go(api, open_pass_gp(api, "75", n))
    data = indicators(api, "75", lambda d: d["orientations"]["honoured"] == 5)
    assert data["orientations"] == {"made": 5, "reached": 5, "honoured": 5, "notHonoured": 0,
                                    "notHonouredByReason": []}
    went = [r for r in data["monthly"] if r["indicator"] == "delay_gp_days"]
    assert [r["count"] for r in went] == [5]


def test_only_the_dpo_and_anonymous_callers_are_refused_the_indicators_and_each_read_is_audited(api_on_readmodels):  # noqa: F811
    api, _ = api_on_readmodels
    query = '{ territoryIndicators(territory: "76") { territory pathwaysOpened } }'
    assert api(query, as_=token("ars", "analyste"))["territoryIndicators"] == {"territory": "76", "pathwaysOpened": 0}
    assert api(query, as_=token("dac", "coordinateur"))["territoryIndicators"]["pathwaysOpened"] == 0
    refused = api.post(query, as_=token("cnil", "dpo")).json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    anonymous = api.post(query).json()
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    trail = api("{ auditEvents(filter: {agency: \"ars\"}) { events { operation role pathwayId categories } } }",
                as_=token("cnil", "dpo_regional"))["auditEvents"]["events"]
    assert {"operation": "territoryIndicators", "role": "analyste", "pathwayId": None, "categories": []} in trail


def test_a_territory_read_model_not_yet_built_says_the_indicators_are_unavailable(api):
    # As after an upgrade whose territory tables are not rebuilt yet: the view is missing.
    with api.client.app.state.gateway.read.connect() as conn:
        conn.execute("DROP VIEW territory_facts")
    body = api.post('{ territoryIndicators(territory: "76") { territory } }', as_=token("ars", "analyste")).json()
    assert body["errors"][0]["extensions"]["code"] == "UNAVAILABLE"
    assert "relais projections rebuild territory_indicators" in body["errors"][0]["message"]
