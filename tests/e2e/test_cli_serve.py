"""`relais serve` on its embedded default: answers /health within 10 s, no Kafka, no PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

RELAIS = str(Path(sys.executable).with_name("relais"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_relais_serve_answers_its_health_endpoint_with_no_kafka_and_no_postgresql(tmp_path):
    # How fast it starts is a benchmark's question (docs/benchmarks.md), not this test's: the
    # deadline only bounds the wait.
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env["RELAIS_STATE_DIR"] = str(tmp_path / "state")
    # Point the distributed settings at closed ports: the embedded mode must not need them.
    env["RELAIS_DATABASE_URL"] = f"postgresql://relais:relais@127.0.0.1:{_free_port()}/relais"
    env["RELAIS_KAFKA_BOOTSTRAP"] = f"127.0.0.1:{_free_port()}"
    started = time.monotonic()
    proc = subprocess.Popen([RELAIS, "serve", "--port", str(port)], env=env, cwd=tmp_path,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        body = None
        while time.monotonic() - started < 60:
            assert proc.poll() is None, f"relais serve exited: {proc.stdout.read()}"
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                if r.status_code == 200:
                    body = r.json()
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        assert body is not None, "no answer on /health within 60 s"
        assert body["status"] == "ok" and body["mode"] == "embedded"
        gql = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": "{ __typename }"}, timeout=5)
        assert gql.status_code == 200 and gql.json()["data"]["__typename"] == "Query"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_relais_serve_loads_a_synthetic_territory_whose_risks_reach_the_siao_as_alerts(tmp_path):
    """The embedded default is a working territory: pathways listed from the read models and
    rupture-risk alerts raised by the engine, as a SIAO coordinator sees them over GraphQL."""
    from tests.tokens import identity_env
    from tests.tokens import token as mint

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env.update(RELAIS_STATE_DIR=str(tmp_path / "state"), RELAIS_SYNTHETIC_PATHWAYS="24", **identity_env())
    from services.territory.synthetic import SIAO, generate

    # The SIAO takes part in every pathway but the PASS → GP ones.
    expected = sum(1 for s in generate(24, seed=1) if any(p.get("agency") == SIAO for _n, p in s.commands))
    token = mint(SIAO, "coordinateur", "siao-coord-2")
    headers = {"Authorization": f"Bearer {token}"}
    query = ("{ pathways(first: 50) { edges { node { id } } } "
             "alerts(first: 50) { totalCount edges { node { ruleId ownerAgency severity raisedAt suggestedAction "
             "redactions { field reason } } } } "
             "caseload(first: 50) { edges { node { id openAlerts { severity ownerAgency escalatedTo } } } } }")
    proc = subprocess.Popen([RELAIS, "serve", "--port", str(port)], env=env, cwd=tmp_path,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline, data, previous = time.monotonic() + 120, None, None
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"relais serve exited: {proc.stderr.read()}"
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": query},
                                    headers=headers, timeout=5).json()
                previous, data = data, answer.get("data")
                # The territory loads in the background: wait for all of it and its alerts, and
                # for the engine to have settled (two answers alike), so that the order below is
                # judged on one state and not on alerts raised between two parts of an answer.
                if data and data == previous and len(data["pathways"]["edges"]) == expected and any(
                        e["node"]["ownerAgency"] == SIAO and e["node"]["suggestedAction"]
                        for e in data["alerts"]["edges"]):
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        assert data is not None, "no GraphQL answer"
        assert len(data["pathways"]["edges"]) == expected, data
        alerts = [edge["node"] for edge in data["alerts"]["edges"]]
        assert alerts, "the risk engine raised no alert on the synthetic territory"
        owned = [a for a in alerts if a["ownerAgency"] == SIAO]
        assert any(a["suggestedAction"] for a in owned), owned
        # What the SIAO may not read (no consent, not its role) is absent with the reason, never leaked.
        assert all(a["suggestedAction"] or any(r["field"] == "suggestedAction" for r in a["redactions"])
                   for a in alerts)
        # As the schema says: alerts the most severe first, then the oldest raised ...
        rank = {"CRITICAL": 4, "HIGH": 3, "MEDIUM": 2, "LOW": 1}
        keys = [(-rank[a["severity"]], a["raisedAt"]) for a in alerts]
        assert keys == sorted(keys) and data["alerts"]["totalCount"] == len(alerts)
        # ... and the caseload the most urgent first (the SIAO's own or escalated open alerts).
        urgency = [max((rank[a["severity"]] for a in e["node"]["openAlerts"]
                        if SIAO in (a["ownerAgency"], a["escalatedTo"])), default=0)
                   for e in data["caseload"]["edges"]]
        assert urgency == sorted(urgency, reverse=True) and urgency[0] > 0
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
