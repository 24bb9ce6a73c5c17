"""List queries on the projections' read model (pathway_summary) instead of the gateway's
own index: same answers, same authorisation (the index selects, the event store decides)."""

from __future__ import annotations

import contextlib
import time
import uuid

import pytest
from fastapi.testclient import TestClient

from services.settings import Settings
from tests.unit.gateway.conftest import KEY, Api, token

LIST = ("query($after: String, $f: PathwayFilter) { pathways(first: 2, after: $after, filter: $f) "
        "{ totalCount pageInfo { hasNextPage endCursor } edges { node { id personRef } } } }")


@pytest.fixture
def api_on_readmodels(tmp_path):
    from gateway.app import create_app
    from projections.embedded import EmbeddedProjections, connect
    from services.bootstrap import bootstrap, ensure_gateway_adapters

    relais = ensure_gateway_adapters(bootstrap(Settings(state_dir=tmp_path, jwt_key=KEY, mode="embedded")))
    path = tmp_path / "readmodels.sqlite3"
    projections = EmbeddedProjections(path)
    projections.attach(relais.bus)

    @contextlib.contextmanager
    def readmodels():
        conn = connect(path)
        try:
            yield conn
        finally:
            conn.close()

    relais.readmodels = readmodels
    with TestClient(create_app(relais)) as client:
        yield Api(client), projections


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
