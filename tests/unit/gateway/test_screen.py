"""The screen's routes: the page and its assets, and the development sign-in (which signs with
`relais token`'s code in development only)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from gateway.auth import build_token_verifier
from gateway.overhttp import answer_refusals_as_graphql_errors
from gateway.permissions import Role
from gateway.screen import STATIC, mount_screen
from infra.agencies import load_registry
from services.settings import Settings


def screen(settings: Settings) -> TestClient:
    app = FastAPI()
    answer_refusals_as_graphql_errors(app)  # as gateway.app does
    mount_screen(app, settings, load_registry())
    return TestClient(app)


def refusal(answer) -> tuple[int, str, str]:  # noqa: ANN001 - an httpx response
    """(status, code, message) of a refusal, which has the shape of a GraphQL error."""
    body = answer.json()
    assert set(body) == {"errors"}, body
    (error,) = body["errors"]
    return answer.status_code, error["extensions"]["code"], error["message"]


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
    status, code, message = refusal(answer)
    assert (status, code) == (400, "BAD_REQUEST") and "absente du registre" in message


def test_outside_development_there_is_no_development_sign_in(tmp_path: Path) -> None:
    production = Settings.model_construct(**{**Settings(state_dir=tmp_path).__dict__, "environment": "production"})
    client = screen(production)
    assert client.get("/screen/identities").status_code == 404
    refused = client.post("/screen/dev-token", json={"agency": "siao", "role": "coordinateur", "professional": "c"})
    status, code, message = refusal(refused)
    assert (status, code) == (404, "UNAVAILABLE") and "fournisseur d'identité" in message
    assert not (tmp_path / "dev-token-key.pem").exists()
    assert client.get("/").status_code == 200  # the page itself asks for the provider's token


def test_the_pkce_challenge_is_rfc_7636_s256() -> None:
    from gateway.screen import pkce_challenge

    # RFC 7636, appendix B.
    assert pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_outside_development_the_screen_signs_in_only_at_the_configured_provider(tmp_path: Path) -> None:
    base = {**Settings(state_dir=tmp_path).__dict__, "environment": "production"}
    bare = screen(Settings.model_construct(**base))
    assert bare.get("/screen/config").json() == {"development": False, "oidc": None}
    assert bare.get("/dev-idp/authorize").status_code == 404  # no development provider
    refused = bare.post("/screen/oidc/token", json={"code": "c", "codeVerifier": "v" * 43, "redirectUri": "https://r/"})
    status, code, message = refusal(refused)
    assert (status, code) == (404, "UNAVAILABLE") and "RELAIS_OIDC_AUTHORIZATION_URL" in message

    configured = screen(Settings.model_construct(**{
        **base, "oidc_authorization_url": "https://idp.example.invalid/auth",
        "oidc_token_url": "https://idp.example.invalid/token", "oidc_client_id": "relais-76"}))
    assert configured.get("/screen/config").json() == {
        "development": False, "oidc": {"authorizationUrl": "https://idp.example.invalid/auth", "clientId": "relais-76"}}
    unreachable = configured.post("/screen/oidc/token",
                                  json={"code": "c", "codeVerifier": "v" * 43, "redirectUri": "https://r/"})
    status, code, message = refusal(unreachable)
    assert (status, code) == (502, "UNAVAILABLE") and "ne répond pas" in message


def test_a_code_exchange_without_a_pkce_verifier_is_refused_with_the_field(development: Settings) -> None:
    answer = screen(development).post("/screen/oidc/token", json={"code": "c", "redirectUri": "http://x/"})
    status, code, message = refusal(answer)
    assert (status, code) == (400, "MALFORMED_REQUEST") and "« codeVerifier »" in message


def test_an_unknown_screen_address_is_refused_in_french_with_a_code(development: Settings) -> None:
    status, code, message = refusal(screen(development).get("/screen/nothing-here"))
    assert (status, code) == (404, "NOT_FOUND") and message.startswith("Adresse inconnue")


def test_a_method_the_screen_does_not_take_is_refused_in_french_and_says_which_it_takes(development: Settings) -> None:
    answer = screen(development).get("/screen/dev-token")
    status, code, message = refusal(answer)
    assert (status, code) == (405, "METHOD_NOT_ALLOWED") and "Méthode HTTP non prise en charge" in message
    assert answer.headers["allow"] == "POST"
    assert "Not Allowed" not in answer.text
