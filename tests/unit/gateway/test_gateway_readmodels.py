"""List queries on the projections' read models (the only read side): filters in SQL before
the page is cut, counts, the caseload by urgency and the alerts by severity."""

from __future__ import annotations

import uuid

import pytest

from tests.unit.gateway.conftest import Api, token

LIST = ("query($after: String, $f: PathwayFilter) { pathways(first: 2, after: $after, filter: $f) "
        "{ totalCount pageInfo { hasNextPage endCursor } edges { node { id personRef } } } }")


@pytest.fixture
def api_on_readmodels(api):
    """The gateway as `relais serve` runs it embedded: the projections on the bus (SQLite file)."""
    return api, api.client.app.state.gateway.read


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
    assert sorted(all_ids(api, usmp)) == sorted(mine)
    assert api(LIST, {"after": None, "f": None}, as_=usmp)["pathways"]["totalCount"] == 3
    assert all_ids(api, usmp, {"kind": "PASS_GP"}) == []
    assert len(all_ids(api, pass_)) == 2
    bad = api.post(LIST, {"after": "pas-un-curseur"}, as_=usmp).json()
    assert bad["errors"][0]["extensions"]["code"] == "BAD_CURSOR"


def test_territory_indicators_carry_the_read_models_monthly_figures_small_counts_hidden(api_on_readmodels):
    api, projections = api_on_readmodels
    usmp = token("usmp")
    for n in range(6):
        api.send("OpenDetentionPathway", {"pathwayId": str(uuid.uuid4()), "personRef": f"P-{n}", "territory": "75",
                                          "leadAgency": "usmp", "prison": "CP"}, as_=usmp)
    query = '{ territoryIndicators(territory: "75") { monthly { month indicator label count suppressed } } }'
    data = api(query, as_=token("ars", "analyste"))["territoryIndicators"]  # each send settled its read models
    assert data["monthly"], data
    assert all((row["count"] is None) == row["suppressed"] for row in data["monthly"])
    assert any(row["count"] == 6 for row in data["monthly"])


# --------------------------------------------------------------------------- caseload and alerts
CASELOAD = ("query($after: String) { caseload(first: 2, after: $after) { totalCount pageInfo { hasNextPage endCursor } "
            "edges { node { id state personRef } } } }")
ALERTS = ("query($f: AlertFilter, $after: String) { alerts(first: 10, filter: $f, after: $after) { totalCount "
          "pageInfo { hasNextPage endCursor } edges { cursor node { alertId pathwayId ruleId ownerAgency } } } }")


def raise_alert(api: Api, pid: str, rule: str, owner: str, severity: str = "high") -> str:
    from datetime import datetime, timezone

    alert = str(uuid.uuid4())
    result = api.client.app.state.gateway.pathways.handle_payload("RaiseAlert", {
        "command_id": str(uuid.uuid4()), "pathway_id": pid,
        "actor": {"agency": "relais", "professional": "risk-engine", "role": "systeme"},
        "occurred_at": datetime.now(timezone.utc).isoformat(), "alert_id": alert, "rule_id": rule,
        "subject": "pathway", "triggering_event_ids": [], "owner_agency": owner, "severity": severity,
        "suggested_action": "Vérifier."})
    assert result.accepted, result
    api.settle(pid, result.version)
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
        assert page["totalCount"] is not None
        nodes += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def test_the_caseload_is_paged_from_the_read_models_for_the_callers_agency_only(api_on_readmodels):
    api, _ = api_on_readmodels
    mine, theirs = open_pathways(api)
    usmp = token("usmp")
    nodes = pages(api, CASELOAD, "caseload", usmp)
    assert sorted(n["id"] for n in nodes) == sorted(mine)
    assert all(n["personRef"] for n in nodes)
    assert api(CASELOAD, {}, as_=usmp)["caseload"]["totalCount"] == 3
    assert sorted(n["id"] for n in pages(api, CASELOAD, "caseload", token("pass"))) == sorted(theirs)
    bad = api.post(CASELOAD, {"after": "pas-un-curseur"}, as_=usmp).json()
    assert bad["errors"][0]["extensions"]["code"] == "BAD_CURSOR"


def test_the_caseload_shows_the_most_urgent_first_not_the_newest(api_on_readmodels):
    from datetime import date, timedelta

    api, _ = api_on_readmodels
    usmp = token("usmp")
    today = date.today()
    ids = {}
    # Opened in this order: newest first would show late, soon, critical.
    for name, release in (("critical", 60), ("soon", 5), ("late", 30), ("undated", None)):
        ids[name] = str(uuid.uuid4())
        api.send("OpenDetentionPathway", {"pathwayId": ids[name], "personRef": f"P-{name}", "territory": "76",
                                          "leadAgency": "usmp", "prison": "CP",
                                          "releaseDate": None if release is None else
                                          (today + timedelta(days=release)).isoformat()}, as_=usmp)
    raise_alert(api, ids["critical"], "contact-lost", "usmp", "critical")
    raise_alert(api, ids["late"], "exit-without-housing", "siao", "critical")  # not usmp's: no urgency for it
    order = [n["id"] for n in pages(api, CASELOAD, "caseload", usmp)]  # 2 per page: the cursor keeps the order
    assert order == [ids["critical"], ids["soon"], ids["late"], ids["undated"]]


def test_alerts_are_paged_from_the_read_models_only_for_the_callers_pathways(api_on_readmodels):
    api, _ = api_on_readmodels
    mine, theirs = open_pathways(api)
    a1 = raise_alert(api, mine[0], "exit-without-housing", "siao")
    a2 = raise_alert(api, mine[1], "contact-lost", "usmp")
    a3 = raise_alert(api, theirs[0], "contact-lost", "pass")
    usmp = token("usmp")
    assert sorted(n["alertId"] for n in pages(api, ALERTS, "alerts", usmp)) == sorted([a1, a2])
    assert [n["alertId"] for n in pages(api, ALERTS, "alerts", usmp, {"f": {"ownedByMyAgency": True}})] == [a2]
    assert [n["alertId"] for n in pages(api, ALERTS, "alerts", usmp, {"f": {"pathwayId": mine[0]}})] == [a1]
    assert [n["alertId"] for n in pages(api, ALERTS, "alerts", usmp, {"f": {"pathwayId": theirs[0]}})] == []
    assert [n["alertId"] for n in pages(api, ALERTS, "alerts", token("pass"))] == [a3]


def test_alerts_come_critical_first_then_oldest_raised_not_newest_first(api_on_readmodels):
    api, _ = api_on_readmodels
    mine, _ = open_pathways(api)
    low = raise_alert(api, mine[0], "contact-lost", "usmp", "low")
    critical = raise_alert(api, mine[1], "contact-lost", "usmp", "critical")
    high_old = raise_alert(api, mine[2], "contact-lost", "usmp", "high")
    high_new = raise_alert(api, mine[0], "stalled", "usmp", "high")
    order = [n["alertId"] for n in pages(api, ALERTS, "alerts", token("usmp"))]
    assert order == [critical, high_old, high_new, low]


def test_filters_apply_before_the_page_is_cut(api_on_readmodels):
    api, _ = api_on_readmodels
    mine, _ = open_pathways(api)
    # Two of siao's alerts rank first (critical); usmp owns three, of lower severity.
    raise_alert(api, mine[0], "exit-without-housing", "siao", "critical")
    raise_alert(api, mine[1], "exit-without-housing", "siao", "critical")
    owned = [raise_alert(api, pid, "contact-lost", "usmp", "medium") for pid in mine]
    query = ("{ alerts(first: 3, filter: {ownedByMyAgency: true}) { totalCount pageInfo { hasNextPage } "
             "edges { node { alertId } } } }")
    page = api(query, as_=token("usmp"))["alerts"]
    assert sorted(e["node"]["alertId"] for e in page["edges"]) == sorted(owned)
    assert page["totalCount"] == 3 and page["pageInfo"]["hasNextPage"] is False
    everything = api("{ alerts(first: 2) { totalCount edges { node { alertId } } } }", as_=token("usmp"))["alerts"]
    assert everything["totalCount"] == 5 and len(everything["edges"]) == 2
