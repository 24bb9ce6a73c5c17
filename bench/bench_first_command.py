"""The README's first command on a fresh state directory: how long until the loaded territory
shows at `/`.

    .venv/bin/python bench/bench_first_command.py [--port 8765] [--pathways 200] [--runs 1]

- Started: `bash infra/scripts/serve.sh --port P` exactly as the README says, with the venv
  ready (the clock starts when the command is launched: `ensure_venv` finding the venv, the
  process start, the imports, the embedded runtime, the synthetic territory in the background),
  in a new empty `RELAIS_STATE_DIR` (a fresh clone's `.relais/`), `RELAIS_SYNTHETIC_PATHWAYS`
  = `--pathways` (200 is the default of a fresh clone).
- Measured, in seconds since the launch:
  - `/health` answers `ok`;
  - the screen at `/` is served (200, the page);
  - a coordinator of the SIAO signed in through the development sign-in in Debian's Chromium
    (Playwright) sees a first pathway in the caseload (the load is still under way);
  - the territory is loaded (the JSON log line `synthetic territory loaded` on stderr);
  - the SIAO's caseload complete: the read models follow the load in the same process, so
    the API's `caseload` count for the SIAO is polled (every 0.2 s) until it has not changed
    for 3 s after the load; the moment it first reached that final count;
  - then a fresh sign-in at `/` shows that caseload (its row count printed).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
DEADLINE_S = 120.0


def caseload_shown(page: Page, base: str) -> int:
    """Sign in as a coordinator of the SIAO at `/`; the number of caseload rows once shown."""
    page.goto(f"{base}/")
    page.get_by_label("Structure").select_option("siao-76")
    page.get_by_label("Rôle").select_option("coordinateur")
    page.get_by_role("button", name="Se connecter").click()
    expect(page.locator("tbody tr").first).to_be_visible(timeout=DEADLINE_S * 1000)
    return page.locator("tbody tr").count()


def settled_caseload(base: str, t0: float) -> tuple[float, int]:
    """(seconds since t0 when the SIAO's caseload first had its final count, that count)."""
    token = httpx.post(f"{base}/screen/dev-token", json={"agency": "siao-76", "role": "coordinateur",
                                                         "professional": "bench"}, timeout=10).json()["token"]
    count, since, changed = -1, time.monotonic(), time.monotonic()
    while time.monotonic() - changed < 3.0:
        assert time.monotonic() - t0 < DEADLINE_S, "la file active de la SIAO ne se stabilise pas"
        answer = httpx.post(f"{base}/graphql", headers={"Authorization": f"Bearer {token}"}, timeout=10,
                            json={"query": "{ caseload(first: 1) { totalCount } }"})
        now_count = answer.json()["data"]["caseload"]["totalCount"]
        if now_count != count:
            count, since, changed = now_count, time.monotonic() - t0, time.monotonic()
        time.sleep(0.2)
    return since, count


def one_run(port: int, pathways: int) -> dict[str, float | int]:
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as state:
        env = {**os.environ, "RELAIS_STATE_DIR": state, "RELAIS_SYNTHETIC_PATHWAYS": str(pathways)}
        t0 = time.monotonic()
        process = subprocess.Popen(["bash", "infra/scripts/serve.sh", "--port", str(port)], cwd=ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                   start_new_session=True)
        loaded = threading.Event()
        figures: dict[str, float | int] = {}

        def read_logs() -> None:
            assert process.stderr is not None
            for raw in process.stderr:
                try:
                    line = json.loads(raw)
                except ValueError:
                    continue
                if isinstance(line, dict) and line.get("event") == "synthetic_loaded":
                    figures["territory loaded"] = time.monotonic() - t0
                    loaded.set()

        threading.Thread(target=read_logs, daemon=True).start()
        try:
            while True:  # until /health answers, within the deadline
                assert time.monotonic() - t0 < DEADLINE_S, "Relais ne répond pas sur /health"
                assert process.poll() is None, f"serve.sh s'est arrêté (code {process.returncode})"
                try:
                    if httpx.get(f"{base}/health", timeout=1).json().get("status") == "ok":
                        break
                except (httpx.HTTPError, ValueError):
                    pass
                time.sleep(0.05)
            figures["/health ok"] = time.monotonic() - t0
            assert "module" in httpx.get(f"{base}/", timeout=10).text
            figures["page / served"] = time.monotonic() - t0
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
                page = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris").new_page()
                caseload_shown(page, base)
                figures["first pathway in the caseload at /"] = time.monotonic() - t0
                assert loaded.wait(DEADLINE_S), "le territoire n'a pas fini de se charger"
                figures["SIAO caseload complete"], figures["count"] = settled_caseload(base, t0)
                page = browser.new_context(locale="fr-FR", timezone_id="Europe/Paris").new_page()
                figures["rows"] = caseload_shown(page, base)
                figures["loaded territory's caseload at /"] = time.monotonic() - t0
                browser.close()
        finally:
            os.killpg(process.pid, signal.SIGINT)  # Ctrl+C, as the README says
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--pathways", type=int, default=200)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    assert (ROOT / ".venv" / "bin" / "relais").exists(), "venv absent : lancez d'abord bash infra/scripts/serve.sh"
    print(f"load average {os.getloadavg()[0]:.1f}, {args.pathways} parcours synthétiques", flush=True)
    for run in range(1, args.runs + 1):
        figures = one_run(args.port, args.pathways)
        rows, count = figures.pop("rows"), figures.pop("count")
        print(f"run {run}: " + ", ".join(f"{name} {value:.1f} s" for name, value in figures.items())
              + f" (file active de la SIAO : {count} parcours, {rows} lignes affichées)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
