"""List queries on the projections' read model (pathway_summary) instead of the gateway's
own index: same answers, same authorisation (the index selects, the event store decides)."""

from __future__ import annotations

import time
import uuid

import pytest
from fastapi.testclient import TestClient

from services.settings import Settings
from tests.tokens import identity_settings
from tests.unit.gateway.conftest import Api, token

LIST = ("query($after: String, $f: PathwayFilter) { pathways(first: 2, after: $after, filter: $f) "
        "{ totalCount pageInfo { hasNextPage endCursor } edges { node { id personRef } } } }")


@pytest.fixture
def api_on_readmodels(tmp_path):
    from gateway.app import create_app
    from services.bootstrap import build_embedded

    runtime = build_embedded(Settings(state_dir=tmp_path, mode="embedded", **identity_settings()), risk=False)
    with TestClient(create_app(runtime)) as client:
        yield Api(client), runtime.projections


def all_ids(api: Api, who: str, f: dict | None = None) -> list[str]:
    ids, after = [], None
    while True:
        page = api(LIST, {"after": after, "f": f}, as_=who)["pathways"]
        ids += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return ids
        after = page["pageInfo"]["endCursor"]


def test_the_read_model_lists_only_the_callers_pathways_page_by_page(api_on_readmodels):
    api, projections = api_on_readmodels
    usmp, pass_ = token("usmp"), token("pass")
    mine = []
    for n in range(5):
        pid = str(uuid.uuid4())
        lead = "usmp" if n < 3 else "pass"
        command = "OpenDetentionPathway" if lead == "usmp" else "OpenPassGpPathway"
        extra = {"prison": "CP"} if lead == "usmp" else {}
        out = api.send(command, {"pathwayId": pid, "personRef": f"P-{n}", "territory": "76", "leadAgency": lead,
                                 **extra}, as_=usmp if lead == "usmp" else pass_)
        assert out["__typename"] == "CommandAccepted"
        if lead == "usmp":
            mine.append(pid)
    for _ in range(250):  # the read model follows the bus: wait until it shows them all
        if len(all_ids(api, usmp)) + len(all_ids(api, pass_)) == 5:
            break
        time.sleep(0.02)
    assert sorted(all_ids(api, usmp)) == sorted(mine)
    assert all_ids(api, usmp, {"kind": "PASS_GP"}) == []
    assert len(all_ids(api, pass_)) == 2
    bad = api.post(LIST, {"after": "pas-un-curseur"}, as_=usmp).json()
    assert bad["errors"][0]["extensions"]["code"] == "BAD_CURSOR"


def test_territory_indicators_carry_the_read_models_monthly_figures_small_counts_hidden(api_on_readmodels):
    api, projections = api_on_readmodels
    usmp = token("usmp")
    for n in range(6):
        api.send("OpenDetentionPathway", {"pathwayId": str(uuid.uuid4()), "personRef": f"P-{n}", "territory": "27",
                                          "leadAgency": "usmp", "prison": "CP"}, as_=usmp)
    query = '{ territoryIndicators(territory: "27") { monthly { month indicator label count suppressed } } }'
    for _ in range(250):  # the read model follows the bus
        data = api(query, as_=token("ars", "analyste"))["territoryIndicators"]
        if any(row["count"] == 6 for row in data["monthly"] or []):
            break
        time.sleep(0.02)
    assert data["monthly"], data
    assert all((row["count"] is None) == row["suppressed"] for row in data["monthly"])
    assert any(row["count"] == 6 for row in data["monthly"])


# --------------------------------------------------------------------------- caseload and alerts
CASELOAD = ("query($after: String) { caseload(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } "
            "edges { node { id state personRef } } } }")
ALERTS = ("query($f: AlertFilter, $after: String) { alerts(first: 10, filter: $f, after: $after) { totalCount "
          "pageInfo { hasNextPage endCursor } edges { cursor node { alertId pathwayId ruleId ownerAgency } } } }")


def raise_alert(api: Api, pid: str, rule: str, owner: str) -> str:
    from datetime import datetime, timezone

    alert = str(uuid.uuid4())
    result = api.client.app.state.gateway.pathways.handle_payload("RaiseAlert", {
        "command_id": str(uuid.uuid4()), "pathway_id": pid,
        "actor": {"agency": "relais", "professional": "risk-engine", "role": "systeme"},
        "occurred_at": datetime.now(timezone.utc).isoformat(), "alert_id": alert, "rule_id": rule,
        "subject": "pathway", "triggering_event_ids": [], "owner_agency": owner, "severity": "high",
        "suggested_action": "Vérifier."})
    assert result.accepted, result
    return alert


def open_pathways(api: Api) -> tuple[list[str], list[str]]:
    usmp, pass_ = token("usmp"), token("pass")
    mine, theirs = [], []
    for n in range(5):
        pid = str(uuid.uuid4())
        if n < 3:
            api.send("OpenDetentionPathway", {"pathwayId": pid, "personRef": f"P-{n}", "territory": "76",
                                              "leadAgency": "usmp", "prison": "CP"}, as_=usmp)
            mine.append(pid)
        else:
            api.send("OpenPassGpPathway", {"pathwayId": pid, "personRef": f"P-{n}", "territory": "76",
                                           "leadAgency": "pass"}, as_=pass_)
            theirs.append(pid)
    return mine, theirs


def pages(api: Api, query: str, field: str, who: str, variables: dict | None = None) -> list[dict]:
    nodes, after = [], None
    while True:
        page = api(query, {**(variables or {}), "after": after}, as_=who)[field]
        assert page["totalCount"] is None  # the read model's page (no count), not the in-memory index
        nodes += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def test_the_caseload_is_paged_from_the_read_model_and_judged_on_the_fresh_state(api_on_readmodels):
    api, _ = api_on_readmodels
    mine, theirs = open_pathways(api)
    usmp = token("usmp")
    for _ in range(250):
        if len(pages(api, CASELOAD, "caseload", usmp)) == 3 and len(pages(api, CASELOAD, "caseload", token("pass"))) == 2:
            break
        time.sleep(0.02)
    nodes = pages(api, CASELOAD, "caseload", usmp)
    assert sorted(n["id"] for n in nodes) == sorted(mine)
    assert all(n["personRef"] for n in nodes)
    assert sorted(n["id"] for n in pages(api, CASELOAD, "caseload", token("pass"))) == sorted(theirs)
    bad = api.post(CASELOAD, {"after": "pas-un-curseur"}, as_=usmp).json()
    assert bad["errors"][0]["extensions"]["code"] == "BAD_CURSOR"


def test_alerts_are_paged_from_the_read_model_only_for_the_callers_pathways(api_on_readmodels):
    api, _ = api_on_readmodels
    mine, theirs = open_pathways(api)
    a1 = raise_alert(api, mine[0], "exit-without-housing", "siao")
    a2 = raise_alert(api, mine[1], "contact-lost", "usmp")
    a3 = raise_alert(api, theirs[0], "contact-lost", "pass")
    usmp = token("usmp")
    for _ in range(250):
        if len(pages(api, ALERTS, "alerts", usmp)) == 2 and len(pages(api, ALERTS, "alerts", token("pass"))) == 1:
            break
        time.sleep(0.02)
    assert sorted(n["alertId"] for n in pages(api, ALERTS, "alerts", usmp)) == sorted([a1, a2])
    assert [n["alertId"] for n in pages(api, ALERTS, "alerts", usmp, {"f": {"ownedByMyAgency": True}})] == [a2]
    assert [n["alertId"] for n in pages(api, ALERTS, "alerts", usmp, {"f": {"pathwayId": mine[0]}})] == [a1]
    assert [n["alertId"] for n in pages(api, ALERTS, "alerts", usmp, {"f": {"pathwayId": theirs[0]}})] == []
    assert [n["alertId"] for n in pages(api, ALERTS, "alerts", token("pass"))] == [a3]


def test_without_a_read_model_the_in_memory_index_answers_with_a_count(api):
    usmp = token("usmp")
    pid = str(uuid.uuid4())
    api.send("OpenDetentionPathway", {"pathwayId": pid, "personRef": "P-1", "territory": "76",
                                      "leadAgency": "usmp", "prison": "CP"}, as_=usmp)
    for _ in range(100):
        data = api(CASELOAD, {}, as_=usmp)["caseload"]
        if data["totalCount"]:
            break
        time.sleep(0.02)
    assert data["totalCount"] == 1 and data["edges"][0]["node"]["id"] == pid
    assert api(ALERTS, {}, as_=usmp)["alerts"]["totalCount"] == 0


def test_a_lagging_read_model_never_shows_a_pathway_the_fresh_state_refuses(api_on_readmodels):
    from gateway.index import IdPage

    api, _ = api_on_readmodels
    mine, theirs = open_pathways(api)
    alert = raise_alert(api, theirs[0], "contact-lost", "pass")
    index = api.client.app.state.gateway.index
    # A read model that (wrongly, e.g. lagging behind a departure) lists pass's pathway for usmp.
    index.caseload = lambda agency, first, after: IdPage([uuid.UUID(theirs[0])], ["c"], "c", False, None)
    index.alerts = lambda agency, first, after, **_: ([(uuid.UUID(theirs[0]), alert, "c")], "c", False)
    usmp = token("usmp")
    assert api(CASELOAD, {}, as_=usmp)["caseload"]["edges"] == []
    assert api(ALERTS, {}, as_=usmp)["alerts"]["edges"] == []
