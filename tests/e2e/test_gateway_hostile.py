"""Hostile input: schemathesis in GraphQL mode, from the exported SDL, against the gateway
served by uvicorn: thousands of generated queries and mutations (with a valid token, and
without), never a 5xx, never a stack trace or an exception text in a response."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from graphql.language import (BooleanValueNode, IntValueNode, NameNode, ObjectFieldNode, ObjectValueNode,
                              StringValueNode)
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from gateway.serving import serve
from services.settings import Settings
from tests.tokens import identity_settings, token

SDL = Path(__file__).resolve().parents[2] / "docs" / "graphql" / "schema.graphql"

def _json_values() -> st.SearchStrategy:
    """Hostile values of the `JSON` scalar (territory settings): text, numbers, booleans and
    objects whose keys are real setting names or anything at all."""
    leaf = st.one_of(st.text(max_size=20).map(lambda t: StringValueNode(value=t)),
                     st.integers(-10**6, 10**6).map(lambda i: IntValueNode(value=str(i))),
                     st.booleans().map(lambda b: BooleanValueNode(value=b)))
    keys = st.one_of(st.sampled_from(["digest_hour", "push_min_severity", "enabled_rules", "territory"]),
                     st.text(min_size=1, max_size=12))
    objects = st.dictionaries(keys, leaf, max_size=4).map(lambda d: ObjectValueNode(fields=tuple(
        ObjectFieldNode(name=NameNode(value=k), value=v) for k, v in d.items())))
    return st.one_of(leaf, objects)


schemathesis.graphql.scalar("JSON", _json_values())
schema = schemathesis.graphql.from_path(SDL)
EXAMPLES = 18  # x ~65 operations x 3 callers: a few thousand requests
LEAKS = ("Traceback", "File \"/", "Error(", "psycopg", "sqlite3", "eventsourcing", "pydantic", "Exception")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    from gateway.app import create_app
    from services.bootstrap import build_embedded

    relais = build_embedded(Settings(state_dir=tmp_path_factory.mktemp("hostile"), mode="embedded",
                                     **identity_settings()), risk=False)
    app = create_app(relais)
    app.state.gateway.rate_limiter.capacity = 1e9  # the generator is not an abusive client
    with serve(app) as url:
        yield url


TOKENS = {"medecin": token("usmp", "medecin", "fuzz", ttl_seconds=6 * 3600),
          "dpo": token("cnil", "dpo", "fuzz-dpo", ttl_seconds=6 * 3600)}
COUNT = {"requests": 0}


@pytest.mark.parametrize("who", ["medecin", "dpo", None])
@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_generated_requests_never_get_a_5xx_nor_a_stack_trace(base, who, case):
    headers = {"Authorization": f"Bearer {TOKENS[who]}"} if who else {}
    response = case.call(base_url=f"{base}/graphql", headers=headers, timeout=30)
    COUNT["requests"] += 1
    assert response.status_code < 500, response.text[:500]
    text = response.text
    sent = response.request.body or b""
    sent = sent.decode(errors="ignore") if isinstance(sent, bytes) else str(sent)
    # A validation message may quote the request back: only what the request did not contain leaks.
    assert not any(leak in text and leak not in sent for leak in LEAKS), text[:500]
    if response.status_code == 200:
        body = response.json()
        assert "data" in body or "errors" in body


def test_a_few_thousand_requests_were_generated():
    print(f"requêtes générées : {COUNT['requests']}")
    assert COUNT["requests"] >= 2000, COUNT
