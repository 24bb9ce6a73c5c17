"""The case-conference review screen in a real headless Chromium (Debian's /usr/bin/chromium,
driven by Playwright for Python; infra/scripts/browser.sh installs it and axe-core).

The gateway runs as `relais serve` wires it in embedded mode (read models and the risk engine
on the in-process bus; no Kafka in embedded mode), signed-in through the development sign-in.
The live alert is raised by the risk engine after a command sent through the public API by
another professional (a phone number known to be changed: rule contact-lost); the same alert
raised from a partner's message on the inbound Kafka topic, in the distributed mode, is
tests/e2e/test_screen_live_kafka.py.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from gateway.serving import serve
from services.settings import Settings

CHROMIUM = "/usr/bin/chromium"
AXE = Path(os.environ.get("RELAIS_RUN_DIR", "/var/tmp/relais")) / "axe-core" / "node_modules" / "axe-core" / "axe.min.js"
PARIS = ZoneInfo("Europe/Paris")
MEDICAL_TEXT = "Sevrage alcoolique en cours"
TIMEOUT_MS = 20_000
expect.set_options(timeout=TIMEOUT_MS)  # the deadline of every condition waited on (a shared, loaded machine)


class Relais:
    """The served gateway, and a professional's client of its public API."""

    def __init__(self, base: str) -> None:
        self.base = base
        #: When the test pathway's last fixture command was applied (a moment it is known).
        self.pathway_settled_at = datetime.now(timezone.utc)

    def token(self, agency: str, role: str) -> str:
        answer = httpx.post(f"{self.base}/screen/dev-token", json={"agency": agency, "role": role,
                                                                   "professional": f"{agency}-{role}"})
        assert answer.status_code == 200, answer.text
        return answer.json()["token"]

    def send(self, token: str, command: str, fields: dict[str, Any]) -> int:
        name = command[0].lower() + command[1:]
        query = (f"mutation($input: {command}Input!) {{ {name}(input: $input) {{ __typename "
                 "... on CommandAccepted { version } ... on CommandRefused { field reason } } }")
        body = {"commandId": str(uuid.uuid4()), "occurredAt": datetime.now(timezone.utc).isoformat(), **fields}
        answer = httpx.post(f"{self.base}/graphql", json={"query": query, "variables": {"input": body}},
                            headers={"Authorization": f"Bearer {token}"}, timeout=30)
        outcome = answer.json()["data"][name]
        assert outcome["__typename"] == "CommandAccepted", outcome
        return outcome["version"]

    def settled(self, token: str, pathway_id: str, version: int) -> None:
        """Read your writes: wait until the read models applied `version`."""
        answer = httpx.post(f"{self.base}/graphql", headers={"Authorization": f"Bearer {token}"}, timeout=30, json={
            "query": "query($id: UUID!, $v: Int) { pathway(id: $id, atLeastVersion: $v) { version } }",
            "variables": {"id": pathway_id, "v": version}})
        assert answer.json()["data"]["pathway"]["version"] >= version


    def timeline_labels(self, token: str, pathway_id: str) -> list[str]:
        answer = httpx.post(f"{self.base}/graphql", headers={"Authorization": f"Bearer {token}"}, timeout=30, json={
            "query": "query($id: UUID!) { pathway(id: $id) { timeline(first: 50) { entries { label } } } }",
            "variables": {"id": pathway_id}})
        return [e["label"] for e in answer.json()["data"]["pathway"]["timeline"]["entries"]]


@pytest.fixture(scope="module")
def relais(tmp_path_factory) -> Iterator[Relais]:
    from gateway.app import create_app
    from services.bootstrap import build_embedded

    # The development setting without a configured JWKS: the gateway verifies the tokens of
    # the local development key, as after `relais serve` on a fresh clone.
    settings = Settings(state_dir=tmp_path_factory.mktemp("screen"), mode="embedded", synthetic_pathways=0,
                        read_wait_timeout_s=5.0)
    with serve(create_app(build_embedded(settings))) as base:
        yield Relais(base)


@pytest.fixture(scope="module")
def pathway(relais: Relais) -> str:
    """A release from prison led by the USMP, with the SPIP (consent to everything) and the SIAO,
    and a medical need the SPIP's role has no need to know."""
    usmp = relais.token("usmp", "medecin")
    pid = str(uuid.uuid4())
    relais.send(usmp, "OpenDetentionPathway", {"pathwayId": pid, "personRef": "P-ecran", "territory": "76",
                                               "leadAgency": "usmp", "prison": "CP Rouen",
                                               "releaseDate": (date.today() + timedelta(days=20)).isoformat()})
    relais.send(usmp, "AddAgency", {"pathwayId": pid, "agency": "spip", "role": "SOCIAL_SUPPORT"})
    relais.send(usmp, "AddAgency", {"pathwayId": pid, "agency": "siao", "role": "HOUSING"})
    relais.send(usmp, "GrantConsent", {"pathwayId": pid, "agency": "spip",
                                       "categories": ["IDENTITY", "SOCIAL", "ADMINISTRATIVE", "MEDICAL"], "collectedBy": "p-recueil", "informedBy": "ORAL"})
    version = relais.send(usmp, "RecordNeed", {"pathwayId": pid, "needId": str(uuid.uuid4()), "category": "ADDICTION",
                                               "description": MEDICAL_TEXT})
    relais.settled(usmp, pid, version)
    relais.pathway_settled_at = datetime.now(timezone.utc)
    return pid


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), "Chromium absent : lancez bash infra/scripts/browser.sh (apt-get install chromium)."
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, relais: Relais) -> Iterator[Page]:
    context = browser.new_context(base_url=relais.base, locale="fr-FR", timezone_id="Europe/Paris",
                                  viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    tab.csp_violations = []  # type: ignore[attr-defined]
    tab.on("console", lambda m: "Content Security Policy" in m.text and tab.csp_violations.append(m.text))  # type: ignore[attr-defined]
    yield tab
    context.close()


def sign_in(page: Page, agency: str, role: str) -> None:
    page.goto("/")
    page.get_by_label("Structure").select_option(agency)
    page.get_by_label("Rôle").select_option(role)
    page.get_by_label("Identifiant du professionnel").fill(f"{agency}-{role}-ecran")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("File active")


def open_review(page: Page, person: str = "P-ecran") -> None:
    page.get_by_role("link", name=person).click()
    expect(page.locator("body[data-review-ready]")).to_have_count(1)


def serious_violations(page: Page) -> list[dict[str, Any]]:
    assert AXE.exists(), f"axe-core absent ({AXE}) : lancez bash infra/scripts/browser.sh."
    page.evaluate(AXE.read_text(encoding="utf-8"))  # through the DevTools protocol: the page's CSP allows no inline script
    result = page.evaluate("async () => await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']})")
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def paris(moment: datetime) -> str:
    return moment.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M:%S")


def test_a_coordinator_reviews_a_pathway_sees_an_alert_arrive_live_and_records_the_case_conference(
        page: Page, relais: Relais, pathway: str) -> None:
    sign_in(page, "usmp", "medecin")
    open_review(page)
    alerts = page.locator("#s-alerts").locator("..")
    known = set(alerts.locator("li.alert").evaluate_all("items => items.map(i => i.dataset.alert)"))
    # A moment the pathway is known and the alert not yet raised (the field keeps whole seconds).
    before_alert = (relais.pathway_settled_at + timedelta(seconds=1)).replace(microsecond=0)
    while datetime.now(timezone.utc) <= before_alert:  # the clock passes it before the phone changes
        page.wait_for_timeout(50)

    # Another professional records that the phone number changed: the risk engine raises
    # contact-lost, and the page, subscribed over graphql-transport-ws, shows it without reload.
    page.evaluate("window.__noReload = true")
    usmp = relais.token("usmp", "infirmier")
    relais.send(usmp, "RecordPhoneStatus", {"pathwayId": pathway, "status": "CHANGED"})
    expect(page.locator(".toast")).to_contain_text("Nouvelle alerte")
    expect(alerts.get_by_role("heading", level=2)).to_have_text(f"Alertes ouvertes ({len(known) + 1})")
    assert page.evaluate("window.__noReload") is True  # the same document: no reload
    (raised,) = set(alerts.locator("li.alert").evaluate_all("items => items.map(i => i.dataset.alert)")) - known
    card = alerts.locator(f'li.alert[data-alert="{raised}"]')
    expect(card).to_contain_text("Prendre en compte")
    timeline = page.locator("#s-timeline")
    entries_before = int(timeline.inner_text().split("(")[1].split(" ")[0])

    card.get_by_role("button", name="Prendre en compte").click()
    expect(alerts.locator(f'li.alert[data-alert="{raised}"] .alert-status')).to_contain_text("Prise en compte")
    expect(timeline).not_to_have_text(f"Chronologie inter-structures ({entries_before} événements)")
    assert int(page.locator("#s-timeline").inner_text().split("(")[1].split(" ")[0]) > entries_before

    # The case conference: present agencies, one decision as an action of the SIAO, next date.
    form = page.locator("#s-record").locator("..")
    due = (date.today() + timedelta(days=7)).isoformat()
    form.get_by_label("Décision (devient une action suivie)").fill("Demander une place au CHRS avant la sortie")
    form.get_by_label("Structure responsable").select_option("siao")
    form.get_by_label("Échéance").fill(due)
    form.get_by_label("Date de la prochaine synthèse").fill((date.today() + timedelta(days=28)).isoformat())
    form.get_by_role("button", name="Enregistrer la synthèse").click()
    actions = page.locator("#s-actions").locator("..")
    expect(actions).to_contain_text("Demander une place au CHRS avant la sortie")
    expect(actions).to_contain_text("Prochaine synthèse le")
    expect(actions.locator("tbody tr").first).to_contain_text("À faire")
    expect(page.locator("#s-conferences").locator("..")).to_contain_text("Synthèses (1)")

    # Something happens after the conference: "since the last conference" shows it, not what
    # came before nor the conference itself.
    version = relais.send(usmp, "RecordNeed", {"pathwayId": pathway, "needId": str(uuid.uuid4()),
                                               "category": "HOUSING", "description": "Hébergement à la sortie"})
    relais.settled(usmp, pathway, version)
    newest = relais.timeline_labels(usmp, pathway)[-1]
    page.reload()
    expect(page.locator("body[data-review-ready]")).to_have_count(1)
    page.get_by_role("link", name="Depuis la dernière synthèse").click()
    since = page.locator("#s-since").locator("..")
    expect(since).to_contain_text(newest)
    expect(since).not_to_contain_text("Parcours ouvert")
    expect(since).not_to_contain_text("Prendre en compte")

    # As known before the alert was raised: no open alert, read only.
    page.get_by_label("Tel que connu le").fill(paris(before_alert))
    page.get_by_role("button", name="Afficher").click()
    expect(page.get_by_role("note")).to_contain_text("tel que connu le")
    expect(page.locator(f'li.alert[data-alert="{raised}"]')).to_have_count(0)
    expect(page.locator("#s-alerts").locator("..").get_by_role("heading", level=2)).to_have_text(
        f"Alertes ouvertes ({len(known)})")
    expect(page.get_by_role("button", name="Enregistrer la synthèse")).to_have_count(0)
    assert page.csp_violations == []  # type: ignore[attr-defined]


def test_a_role_without_medical_need_receives_no_medical_fact_and_is_told_why(
        page: Page, relais: Relais, pathway: str) -> None:
    bodies: list[str] = []
    page.on("response", lambda r: r.url.endswith("/graphql") and bodies.append(r.text()))
    sign_in(page, "spip", "conseiller_penitentiaire")
    open_review(page)
    html = page.content()
    assert MEDICAL_TEXT not in html and MEDICAL_TEXT not in page.inner_text("body")
    assert "ADDICTION" not in html and "addiction" not in html.lower()
    assert bodies and not any(MEDICAL_TEXT in b or "ADDICTION" in b for b in bodies)  # never received
    hidden = page.locator("#s-hidden").locator("..")
    expect(hidden).to_contain_text("médical")
    expect(hidden).to_contain_text("besoin d'en connaître")

    # The same pathway for the USMP physician: the need is there (the test can fail).
    page.context.clear_cookies()
    page.evaluate("sessionStorage.clear()")
    sign_in(page, "usmp", "medecin")
    open_review(page)
    expect(page.locator("#s-situation").locator("..")).to_contain_text(MEDICAL_TEXT)


def test_every_screen_has_no_serious_or_critical_accessibility_violation(page: Page, relais: Relais,
                                                                        pathway: str) -> None:
    found: dict[str, list[dict[str, Any]]] = {}
    page.goto("/")
    expect(page.get_by_role("button", name="Se connecter")).to_be_visible()
    found["connexion"] = serious_violations(page)
    sign_in(page, "usmp", "medecin")
    expect(page.locator("tbody tr").first).to_be_visible()
    found["file active"] = serious_violations(page)
    open_review(page)
    found["revue"] = serious_violations(page)
    # A moment the pathway is known (the field's seconds are truncated: one second later).
    page.get_by_label("Tel que connu le").fill(paris(relais.pathway_settled_at + timedelta(seconds=1)))
    page.get_by_role("button", name="Afficher").click()
    expect(page.get_by_role("note")).to_be_visible()
    found["revue à date"] = serious_violations(page)
    page.get_by_role("link", name="Ordre du jour").click()
    expect(page.locator(".agenda")).to_be_visible()
    found["ordre du jour"] = serious_violations(page)
    page.emulate_media(media="print")
    page.get_by_role("link", name="P-ecran").click()
    expect(page.locator("body[data-review-ready]")).to_have_count(1)
    found["revue imprimée"] = serious_violations(page)
    assert {screen: v for screen, v in found.items() if v} == {}, json.dumps(found, ensure_ascii=False, indent=1)


def test_the_page_is_served_by_the_gateway_under_a_strict_content_security_policy(relais: Relais) -> None:
    page = httpx.get(f"{relais.base}/")
    policy = page.headers["content-security-policy"]
    assert page.status_code == 200 and '<script type="module" src="/static/app.js">' in page.text
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert "<script>" not in page.text and "style=" not in page.text  # nothing inline
    for asset in ("app.js", "review.js", "api.js", "screen.css", "print.css"):
        answer = httpx.get(f"{relais.base}/static/{asset}")
        assert answer.status_code == 200 and re.search(r"https?://", answer.text) is None  # nothing from elsewhere


def test_a_professional_signs_in_and_opens_a_review_with_the_keyboard_alone(page: Page, pathway: str) -> None:
    page.goto("/")
    expect(page.get_by_role("button", name="Se connecter")).to_be_visible()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Aller au contenu"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "contenu"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "agency"
    page.keyboard.type("USMP du centre")  # a select takes the typed start of an option
    for _ in range(3):
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Se connecter"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("File active")
    for _ in range(60):  # Tab through the page until the pathway's link has the focus
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "P-ecran":
            break
    assert page.evaluate("document.activeElement.textContent") == "P-ecran"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # the focus is visible
    page.keyboard.press("Enter")
    expect(page.locator("body[data-review-ready]")).to_have_count(1)
    expect(page.get_by_role("heading", level=1)).to_contain_text("P-ecran")


def test_a_professional_signs_in_through_the_identity_provider_and_the_token_never_reaches_local_storage(
        page: Page, pathway: str) -> None:
    page.goto("/")
    page.get_by_role("button", name="Connexion par le fournisseur d'identité").click()
    # The provider's page (in development, the built-in one): authorization code with PKCE S256.
    expect(page.get_by_role("heading", level=1)).to_have_text("Fournisseur d'identité de développement")
    assert "code_challenge_method=S256" in page.url and "code_challenge=" in page.url
    assert serious_violations(page) == []
    page.get_by_label("Structure").select_option("usmp")
    page.get_by_label("Rôle").select_option("medecin")
    page.get_by_label("Identifiant du professionnel").fill("usmp-idp-7")
    page.get_by_role("button", name="S'authentifier").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("File active")
    expect(page.get_by_role("banner")).to_contain_text("usmp-idp-7")
    expect(page.get_by_role("link", name="P-ecran")).to_be_visible()
    assert "code=" not in page.url  # the code left the address bar
    assert page.evaluate("localStorage.length") == 0
    assert page.evaluate("sessionStorage.getItem('relais.token')")
    assert page.csp_violations == []  # type: ignore[attr-defined]


def test_the_development_provider_gives_a_code_once_and_only_for_its_pkce_verifier(relais: Relais) -> None:
    from gateway.screen import pkce_challenge

    verifier = "v" * 50
    asked = {"client_id": "relais-screen", "redirect_uri": f"{relais.base}/", "state": "s1",
             "code_challenge": pkce_challenge(verifier), "code_challenge_method": "S256"}
    assert httpx.get(f"{relais.base}/dev-idp/authorize", params={**asked, "code_challenge_method": "plain"}
                     ).status_code == 400  # PKCE S256 only
    assert httpx.get(f"{relais.base}/dev-idp/authorize", params={**asked, "redirect_uri": "https://ailleurs.invalid/"}
                     ).status_code == 400  # codes go back to this gateway's screen only
    signed = httpx.post(f"{relais.base}/dev-idp/authorize",
                        data={**asked, "agency": "siao", "role": "coordinateur", "professional": "p-1"})
    assert signed.status_code == 303 and "state=s1" in signed.headers["location"]
    code = signed.headers["location"].split("code=")[1].split("&")[0]

    def exchange(with_verifier: str) -> httpx.Response:
        return httpx.post(f"{relais.base}/screen/oidc/token", json={
            "code": code, "codeVerifier": with_verifier, "redirectUri": f"{relais.base}/"}, timeout=20)

    refused = exchange("w" * 50)  # another verifier: refused, and the code is spent
    assert refused.status_code == 400 and "fournisseur d'identité" in refused.json()["errors"][0]["message"]
    assert exchange(verifier).status_code == 400
    signed = httpx.post(f"{relais.base}/dev-idp/authorize",
                        data={**asked, "agency": "siao", "role": "coordinateur", "professional": "p-1"})
    code = signed.headers["location"].split("code=")[1].split("&")[0]
    token = exchange(verifier).json()["token"]
    me = httpx.post(f"{relais.base}/graphql", headers={"Authorization": f"Bearer {token}"},
                    json={"query": "{ me { agency professional role roleCode } }"}).json()["data"]["me"]
    assert me == {"agency": "siao", "professional": "p-1", "role": "COORDINATOR", "roleCode": "coordinateur"}
    assert exchange(verifier).status_code == 400  # a code is used once
