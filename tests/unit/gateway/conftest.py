"""A gateway on a temporary embedded Relais (SQLite files), driven through Starlette's TestClient."""

from __future__ import annotations

import contextlib
import uuid  # noqa: F401 - kept for the tests importing it from here
from datetime import datetime, timezone
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.settings import Settings
from tests.tokens import identity_settings, token  # noqa: F401 - `token` is the tests' minting helper


def mutation_query(command: str) -> str:
    """The mutation of pathway command `command`, with what a client reads of its answer."""
    name = command[0].lower() + command[1:]
    return (f"mutation($input: {command}Input!) {{ {name}(input: $input) {{ __typename "
            "... on CommandAccepted { version duplicate } ... on CommandRefused { field reason code } } }")


class Api:
    def __init__(self, client: TestClient) -> None:
        self.client = client

    def post(self, query: str, variables: dict[str, Any] | None = None, *, as_: str | None = None,
             headers: dict[str, str] | None = None) -> Any:
        h = dict(headers or {})
        if as_ is not None:
            h["Authorization"] = f"Bearer {as_}"
        return self.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=h)

    def __call__(self, query: str, variables: dict[str, Any] | None = None, *, as_: str) -> dict[str, Any]:
        response = self.post(query, variables, as_=as_)
        assert response.status_code == 200, response.text
        body = response.json()
        assert not body.get("errors"), body
        return body["data"]

    def send(self, command: str, fields: dict[str, Any], *, as_: str, settle: bool = True) -> dict[str, Any]:
        """Send a command; with `settle`, wait until every read model applied it (so that what
        the test reads next includes it). `settle=False`: the answer alone, as a client gets it."""
        name = command[0].lower() + command[1:]
        query = mutation_query(command)
        fields = {"commandId": str(uuid.uuid4()), "occurredAt": datetime.now(timezone.utc).isoformat(), **fields}
        out = self(query, {"input": fields}, as_=as_)[name]
        if settle and out.get("version") is not None:
            self.settle(fields["pathwayId"], out["version"])
        return out

    def settle(self, pathway_id: str, version: int) -> None:
        """Wait (deadline: the settings') until every read model applied `version` of the pathway."""
        from projections.registry import PROJECTIONS

        self.client.app.state.gateway.read.wait_for(pathway_id, version, list(PROJECTIONS))


@contextlib.contextmanager
def served(state_dir: Path) -> Iterator[Api]:
    """A gateway on a fresh embedded Relais kept in `state_dir` (risk engine off)."""
    from gateway.app import create_app
    from services.bootstrap import build_embedded

    settings = Settings(state_dir=state_dir, mode="embedded", **identity_settings())
    relais = build_embedded(settings, risk=False)
    app = create_app(relais)
    with TestClient(app) as client:
        yield Api(client)


@pytest.fixture
def api(tmp_path) -> Iterator[Api]:
    with served(tmp_path) as api:
        yield api
