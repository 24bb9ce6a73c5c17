"""The gateway's shorter paths answer exactly as the long ones: the executor's short path for
plain leaf fields (gateway.execution), the selection read from the syntax tree for the audit
(permissions.selected_names_of), and the verified-token memory (auth.TokenVerifier)."""

from __future__ import annotations

import asyncio
import time
from enum import Enum
from typing import Any

import pytest
import strawberry
from strawberry.types import Info

from gateway import permissions as p
from gateway.auth import AuthenticationFailed, KeySet, TokenPolicy, TokenVerifier, jwks_document
from gateway.execution import GatewayExecutor
from gateway.schema import build_schema
from infra.agencies import load_registry
from tests.tokens import AUDIENCE, ISSUER, claims, rsa_key, sign


@strawberry.enum
class Colour(Enum):
    RED = "red"
    BLUE = "blue"


@strawberry.type
class Leaf:
    name: str
    colour: Colour
    tags: list[str]
    maybe: int | None
    must: int


seen: dict[str, Any] = {}


@strawberry.type
class Root:
    @strawberry.field
    def leaves(self, info: Info) -> list[Leaf]:
        seen["long"] = p.selected_names(info.selected_fields)
        seen["short"] = p.selected_names_of(info)
        return [Leaf(name="a", colour=Colour.RED, tags=["x", "y"], maybe=None, must=1),
                Leaf(name="b", colour=Colour.BLUE, tags=[], maybe=3, must=None)]  # type: ignore[arg-type]


QUERIES = [
    "{ leaves { name colour tags maybe } }",
    "{ leaves { n: name c: colour ...F } } fragment F on Leaf { tags maybe }",
    "{ leaves { ... on Leaf { name } name @include(if: true) } }",
    "{ leaves { name must } }",  # `must` is null on the second leaf: a located error
]


def run(executor: type | None, query: str) -> Any:
    schema = strawberry.Schema(query=Root, execution_context_class=executor)
    result = asyncio.run(schema.execute(query, root_value=Root()))
    return result.data, [(e.message, e.path) for e in result.errors or []]


@pytest.mark.parametrize("query", QUERIES)
def test_the_short_path_answers_what_graphql_core_answers_errors_included(query: str) -> None:
    assert run(GatewayExecutor, query) == run(None, query)


class CountingExecutor(GatewayExecutor):
    """Keeps its executions so the test reads how many fields each took the short path."""
    made: list[GatewayExecutor] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        CountingExecutor.made.append(self)


def test_plain_leaf_fields_take_the_short_path() -> None:
    CountingExecutor.made.clear()
    run(CountingExecutor, QUERIES[0])
    assert [e.short_path_fields for e in CountingExecutor.made] == [8]  # 4 leaf fields x 2 objects


def test_the_gateway_schema_runs_on_the_short_path_executor() -> None:
    assert build_schema().execution_context_class is GatewayExecutor


@pytest.mark.parametrize("query", QUERIES)
def test_the_audited_selection_read_from_the_syntax_tree_is_strawberrys(query: str) -> None:
    seen.clear()
    run(GatewayExecutor, query)
    assert seen["short"] == seen["long"]


# --------------------------------------------------------------------------- token memory
class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def verifier(published: list[dict[str, Any]], clock: Clock) -> TokenVerifier:
    keys = KeySet(lambda _refresh: published[0], refetch_interval=0.0, max_age=300.0, clock=clock)
    return TokenVerifier(keys, TokenPolicy(ISSUER, AUDIENCE, 3600), load_registry(), clock=clock)


def test_a_verified_token_is_remembered_until_it_expires() -> None:
    clock = Clock()
    verify = verifier([jwks_document(rsa_key())], clock)
    token = sign(claims("siao", "coordinateur", iat=int(clock.now), exp=int(clock.now) + 600))
    assert verify.remembered(f"Bearer {token}") is None  # never seen: verified in full
    principal = verify.authenticate_header(f"Bearer {token}")
    assert verify.remembered(f"Bearer {token}") == principal
    assert verify.remembered(f"Bearer {token}x") is None  # another text is another token
    clock.now += 601
    assert verify.remembered(f"Bearer {token}") is None  # from `exp` on: the full check again


def test_a_remembered_token_is_forgotten_once_its_key_is_withdrawn() -> None:
    clock = Clock()
    published = [jwks_document(rsa_key())]
    verify = verifier(published, clock)
    token = sign(claims("siao", "coordinateur", iat=int(clock.now), exp=int(clock.now) + 3000))
    verify.authenticate_header(f"Bearer {token}")
    published[0] = {"keys": []}  # the issuer withdrew the key; the set is reloaded after max_age
    clock.now += 301
    assert verify.remembered(f"Bearer {token}") is None
    with pytest.raises(AuthenticationFailed):
        verify.authenticate_header(f"Bearer {token}")


def test_a_refused_token_is_never_remembered() -> None:
    clock = Clock()
    verify = verifier([jwks_document(rsa_key())], clock)
    token = sign(claims("nowhere", "coordinateur", iat=int(clock.now), exp=int(clock.now) + 600))
    with pytest.raises(AuthenticationFailed):
        verify.authenticate_header(f"Bearer {token}")
    assert verify.remembered(f"Bearer {token}") is None
