"""First paint of a pathway review in the browser, on the default territory; and the README's
screenshots of the main screens.

    .venv/bin/python bench/bench_screen_paint.py [--pathways 200] [--reviews 20] [--screens docs/screens]

- Relais: the embedded mode as `relais serve` wires it (read models and risk engine on the
  in-process bus), with `--pathways` synthetic pathways of the default territory (76; 200 is
  the default of RELAIS_SYNTHETIC_PATHWAYS) loaded first, in a fresh temporary state dir;
  served by uvicorn on 127.0.0.1.
- Browser: Debian's Chromium (/usr/bin/chromium) headless, driven by Playwright; signed in
  through the development sign-in as a coordinator of the SIAO.
- Measured: for each of `--reviews` pathways of the caseload, a fresh document load of
  `/#/parcours/<id>` (from about:blank); `review painted` = the page's
  `relais:review-painted` mark (the review's DOM is in place: pathway query with its
  timeline answered and drawn), in ms since the navigation started (Performance API); also
  the first contentful paint. p50 / p90 / max printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

from gateway.serving import serve  # noqa: E402
from services.settings import Settings  # noqa: E402


def sign_in(page: Page, agency: str, role: str) -> None:
    page.goto("/")
    page.get_by_label("Structure").select_option(agency)
    page.get_by_label("Rôle").select_option(role)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("tbody tr").first).to_be_visible(timeout=30_000)


def painted(page: Page, pathway_id: str) -> tuple[float, float]:
    page.goto("about:blank")
    page.goto(f"/#/parcours/{pathway_id}")
    page.wait_for_selector("body[data-review-ready]", timeout=30_000)
    mark = page.evaluate("performance.getEntriesByName('relais:review-painted')[0].startTime")
    fcp = page.evaluate("(performance.getEntriesByName('first-contentful-paint')[0] || {startTime: NaN}).startTime")
    return mark, fcp


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pathways", type=int, default=200)
    parser.add_argument("--reviews", type=int, default=20)
    parser.add_argument("--screens", type=Path, default=None, help="write the screenshots in this folder")
    args = parser.parse_args()

    from gateway.app import create_app
    from services.bootstrap import build_embedded
    from services.territory.load import load

    with tempfile.TemporaryDirectory() as state:
        settings = Settings(state_dir=Path(state), mode="embedded", synthetic_pathways=0)
        runtime = build_embedded(settings)
        runtime.start()
        t0 = time.monotonic()
        load(runtime.pathways, args.pathways, territory=settings.territory, progress=None)
        print(f"territoire {settings.territory} : {args.pathways} parcours chargés en {time.monotonic() - t0:.1f} s",
              flush=True)
        with serve(create_app(runtime)) as base, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            context = browser.new_context(base_url=base, locale="fr-FR", timezone_id="Europe/Paris",
                                          viewport={"width": 1280, "height": 900})
            page = context.new_page()
            if args.screens:
                args.screens.mkdir(parents=True, exist_ok=True)
                page.goto("/")
                page.get_by_label("Structure").select_option("siao-76")
                page.screenshot(path=str(args.screens / "connexion.png"))
            sign_in(page, "siao-76", "coordinateur")
            page.wait_for_timeout(3000)  # the read models follow the load: let the caseload settle
            page.reload()
            expect(page.locator("tbody tr").first).to_be_visible(timeout=30_000)
            ids = page.locator("tbody th a").evaluate_all(
                "links => links.map(a => a.getAttribute('href').split('/').pop())")[: args.reviews]
            if args.screens:
                page.screenshot(path=str(args.screens / "file-active.png"))
            painted(page, ids[0])  # warm-up (module and query caches)
            marks, fcps = [], []
            for pid in ids:
                mark, fcp = painted(page, pid)
                marks.append(mark)
                fcps.append(fcp)
            if args.screens:
                painted(page, ids[0])
                page.screenshot(path=str(args.screens / "revue.png"), full_page=True)
                page.get_by_role("link", name="Ordre du jour").click()
                expect(page.locator(".agenda")).to_be_visible()
                page.screenshot(path=str(args.screens / "ordre-du-jour.png"))
                page.set_viewport_size({"width": 820, "height": 1180})  # a tablet, portrait
                painted(page, ids[1])
                page.screenshot(path=str(args.screens / "revue-tablette.png"))
                page.set_viewport_size({"width": 1280, "height": 900})
                page.emulate_media(media="print")
                painted(page, ids[0])
                page.screenshot(path=str(args.screens / "revue-impression.png"), full_page=True)
                page.emulate_media(media="screen")
                page.evaluate("sessionStorage.clear()")
                sign_in(page, "spip-76", "conseiller_penitentiaire")
                spip = page.locator("tbody th a").first.get_attribute("href").split("/").pop()
                painted(page, spip)
                page.screenshot(path=str(args.screens / "revue-spip-masquee.png"), full_page=True)
            browser.close()
        runtime.stop()
    marks.sort()
    fcps.sort()

    def line(name: str, values: list[float]) -> str:
        p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
        return f"{name}: p50 {statistics.median(values):.0f} ms, p90 {p90:.0f} ms, max {values[-1]:.0f} ms"

    print(f"{len(marks)} revues de parcours, {args.pathways} parcours (territoire par défaut)")
    print(line("revue affichée (relais:review-painted)", marks))
    print(line("first contentful paint", fcps))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
