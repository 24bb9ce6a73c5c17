"""One token's heavy queries do not take the served gateway from everyone else: with ten heavy
allowed queries of one token in flight, another user's light query completes while the heavy
ones are still running (relative, not wall-clock: what matters is the order)."""

from __future__ import annotations

import threading
import time
import uuid

import httpx
import pytest

from gateway.serving import serve
from services.settings import Settings
from tests.tokens import identity_settings, token

HEAVY = ("{ caseload(first: 50) { edges { node { id personRef needs { category description } "
         "timeline(first: 50) { entries { position type label } } } } } }")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from gateway.app import create_app
    from services.bootstrap import build_embedded
    from services.territory.load import load

    settings = Settings(state_dir=tmp_path_factory.mktemp("relais"), mode="embedded", **identity_settings())
    runtime = build_embedded(settings, risk=False)
    load(runtime.pathways, 60, seed=3, territory="76")  # pathways with needs and timelines to read
    with serve(create_app(runtime)) as base:
        yield base


def post(base: str, tok: str, query: str) -> dict:
    response = httpx.post(f"{base}/graphql", json={"query": query}, headers={"Authorization": f"Bearer {tok}"},
                          timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_another_users_light_query_completes_while_ten_heavy_queries_of_one_token_are_running(server):
    heavy_token = token("siao", "coordinateur")
    post(server, heavy_token, HEAVY)  # warm: the read models are built, the documents cached
    finished: list[float] = []
    lock = threading.Lock()

    def heavy() -> None:
        post(server, heavy_token, HEAVY)
        with lock:
            finished.append(time.monotonic())

    threads = [threading.Thread(target=heavy) for _ in range(10)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while not finished and time.monotonic() < deadline:  # the heavy ones are being served
        time.sleep(0.01)
    light = post(server, token("usmp", "medecin"), "{ me { agency } }")
    light_done = time.monotonic()
    for thread in threads:
        thread.join(60)
    assert light["data"]["me"]["agency"] == "usmp"
    assert len(finished) == 10
    assert light_done < max(finished), "the light query waited for all ten heavy ones"
    assert sum(1 for t in finished if t > light_done) >= 3, "most heavy queries were still to finish"
