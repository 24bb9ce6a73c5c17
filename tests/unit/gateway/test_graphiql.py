"""GraphiQL in the development setting: served by the gateway itself, nothing from elsewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.graphiql import _VENDORED, PAGE_DIR, asset_names, mount_graphiql
from gateway.hardening import CSP, SecurityHeadersMiddleware
from services.settings import Settings


def gateway(settings: Settings) -> TestClient:
    app = FastAPI()
    app.add_middleware(SecurityHeadersMiddleware)
    mount_graphiql(app, settings)
    return TestClient(app)


@pytest.fixture
def vendored(tmp_path: Path) -> Path:
    """A stand-in for what infra/scripts/browser.sh installs (the npm packages' browser builds)."""
    for relative in _VENDORED.values():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(f"/* {relative} */")
    return tmp_path


def test_in_development_the_page_and_every_asset_it_loads_answer_from_the_gateway(tmp_path: Path,
                                                                                  vendored: Path) -> None:
    client = gateway(Settings(state_dir=tmp_path / "s", graphql_dev=True, graphiql_dir=vendored))
    page = client.get("/graphiql")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert page.headers["content-security-policy"] == CSP
    loaded = sorted(name for name in re.findall(r'(?:src|href)="/graphiql/assets/([^"]+)"', page.text))
    assert loaded == asset_names()
    for name in loaded:
        answer = client.get(f"/graphiql/assets/{name}")
        assert answer.status_code == 200, name
        assert answer.headers["content-security-policy"] == CSP


def test_the_page_and_its_own_script_name_no_other_origin() -> None:
    for path in PAGE_DIR.iterdir():
        text = path.read_text()
        assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", text, re.IGNORECASE), path.name


def test_the_csp_allows_only_the_gateway_itself() -> None:
    sources = {part.split()[0]: part.split()[1:] for part in CSP.split("; ")}
    assert all(value in (["'self'"], ["'none'"], ["'self'", "data:"]) for value in sources.values()), CSP


def test_outside_development_neither_the_page_nor_its_assets_are_served(tmp_path: Path, vendored: Path) -> None:
    client = gateway(Settings(state_dir=tmp_path / "s", graphql_dev=False, graphiql_dir=vendored))
    assert client.get("/graphiql").status_code == 404
    for name in asset_names():
        assert client.get(f"/graphiql/assets/{name}").status_code == 404


def test_an_unlisted_name_is_not_served_even_in_development(tmp_path: Path, vendored: Path) -> None:
    client = gateway(Settings(state_dir=tmp_path / "s", graphql_dev=True, graphiql_dir=vendored))
    assert client.get("/graphiql/assets/package.json").status_code == 404
    assert client.get("/graphiql/assets/..%2F..%2Fetc%2Fpasswd").status_code == 404


def test_in_development_without_the_npm_install_an_asset_says_how_to_install_it(tmp_path: Path) -> None:
    client = gateway(Settings(state_dir=tmp_path / "s", graphql_dev=True, graphiql_dir=tmp_path / "absent"))
    answer = client.get("/graphiql/assets/graphiql.min.js")
    assert answer.status_code == 404 and "browser.sh" in answer.json()["detail"]
