"""The screen's routes: the page and its assets, and the development sign-in (which signs with
`relais token`'s code in development only)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.auth import build_token_verifier
from gateway.permissions import Role
from gateway.screen import STATIC, mount_screen
from infra.agencies import load_registry
from services.settings import Settings


def screen(settings: Settings) -> TestClient:
    app = FastAPI()
    mount_screen(app, settings, load_registry())
    return TestClient(app)


@pytest.fixture
def development(tmp_path: Path) -> Settings:
    return Settings(state_dir=tmp_path, mode="embedded")


def test_the_page_and_its_modules_are_served_under_a_strict_policy(development: Settings) -> None:
    client = screen(development)
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    module = client.get("/static/app.js")
    assert module.status_code == 200 and "javascript" in module.headers["content-type"]
    assert module.headers["content-security-policy"] == page.headers["content-security-policy"]
    assert client.get("/static/../screen.py").status_code == 404


def test_every_static_file_is_referenced_nothing_is_loaded_from_elsewhere() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in STATIC.iterdir())
    for name in (p.name for p in STATIC.iterdir() if p.name != "index.html"):
        assert name in text, f"{name} is served but nothing loads it"
    assert "https://" not in text and "http://" not in text


def test_a_development_sign_in_gives_a_token_the_gateway_accepts(development: Settings) -> None:
    client = screen(development)
    known = client.get("/screen/identities").json()
    assert "siao" in {a["code"] for a in known["agencies"]} and "coordinateur" in known["roles"]
    assert "analyste" not in known["roles"]  # no caseload to review
    answer = client.post("/screen/dev-token", json={"agency": "siao", "role": "coordinateur", "professional": "c1"})
    assert answer.status_code == 200
    principal = build_token_verifier(development, load_registry()).verify(answer.json()["token"])
    assert (principal.agency, principal.role, principal.professional) == ("siao", Role.COORDINATEUR, "c1")


def test_a_development_sign_in_refuses_an_agency_absent_from_the_registry(development: Settings) -> None:
    answer = screen(development).post("/screen/dev-token", json={"agency": "inconnue", "role": "coordinateur",
                                                                 "professional": "c1"})
    assert answer.status_code == 400 and "absente du registre" in answer.json()["detail"]


def test_outside_development_there_is_no_development_sign_in(tmp_path: Path) -> None:
    production = Settings.model_construct(**{**Settings(state_dir=tmp_path).__dict__, "environment": "production"})
    client = screen(production)
    assert client.get("/screen/identities").status_code == 404
    refused = client.post("/screen/dev-token", json={"agency": "siao", "role": "coordinateur", "professional": "c"})
    assert refused.status_code == 404 and "fournisseur d'identité" in refused.json()["detail"]
    assert not (tmp_path / "dev-token-key.pem").exists()
    assert client.get("/").status_code == 200  # the page itself asks for the provider's token
