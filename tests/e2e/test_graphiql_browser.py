"""GraphiQL (development setting) in a real headless Chromium: it loads from the gateway alone
and runs a query with a development token (infra/scripts/browser.sh installs Chromium and the
npm packages GraphiQL needs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from gateway.serving import serve
from services.settings import Settings

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Iterator[str]:
    from gateway.app import create_app
    from services.bootstrap import build_embedded

    settings = Settings(state_dir=tmp_path_factory.mktemp("graphiql"), mode="embedded", synthetic_pathways=0,
                        graphql_dev=True)
    assert (Path(settings.graphiql_dir) / "graphiql" / "graphiql.min.js").exists(), \
        "GraphiQL absent : lancez bash infra/scripts/browser.sh."
    with serve(create_app(build_embedded(settings))) as url:
        yield url


def test_graphiql_loads_from_the_gateway_alone_and_answers_me_with_a_development_token(base: str) -> None:
    answer = httpx.post(f"{base}/screen/dev-token", json={"agency": "siao-76", "role": "travailleur_social",
                                                          "professional": "siao-76-ts"})
    assert answer.status_code == 200, answer.text
    token = answer.json()["token"]
    assert Path(CHROMIUM).exists(), "Chromium absent : lancez bash infra/scripts/browser.sh."
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            elsewhere: list[str] = []
            page.on("request", lambda r: None if r.url.startswith(base) else elsewhere.append(r.url))
            refused: list[str] = []
            page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
            page.goto(f"{base}/")  # same origin: the token GraphiQL picks up is the screen's
            page.evaluate("t => sessionStorage.setItem('relais.token', t)", token)
            page.goto(f"{base}/graphiql")
            run = page.locator("button.graphiql-execute-button")
            expect(run).to_be_visible(timeout=20_000)
            run.click()
            expect(page.locator(".graphiql-response")).to_contain_text('"agency": "siao-76"', timeout=20_000)
            assert elsewhere == [] and refused == [], sorted({m.split(' violates')[1][:80] for m in refused})
        finally:
            browser.close()
