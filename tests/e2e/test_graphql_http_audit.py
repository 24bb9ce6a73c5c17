"""The graphql-http audit suite (npm `graphql-http`, its `auditServer`) run with node against
the gateway served by uvicorn: no MUST fails (error) and no SHOULD fails (warn). The MAYs the
gateway declines on purpose (GET requests: the gateway takes POST only) are notices.
infra/scripts/browser.sh installs the pinned package."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from gateway.serving import serve
from services.settings import Settings
from tests.tokens import identity_settings, token

RUN_DIR = Path(os.environ.get("RELAIS_RUN_DIR", "/var/tmp/relais"))
NODE_MODULES = RUN_DIR / "graphql-http" / "node_modules"
SCRIPT = Path(__file__).with_name("graphql_http_audit.cjs")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory):
    from gateway.app import create_app
    from services.bootstrap import build_embedded

    settings = Settings(state_dir=tmp_path_factory.mktemp("audit"), mode="embedded", **identity_settings())
    with serve(create_app(build_embedded(settings, risk=False))) as base:
        yield f"{base}/graphql"


def test_the_graphql_over_http_audit_finds_no_error_and_no_warning(gateway: str) -> None:
    assert shutil.which("node"), "node absent : lancez bash infra/scripts/browser.sh."
    assert (NODE_MODULES / "graphql-http").is_dir(), f"graphql-http absent ({NODE_MODULES}) : lancez bash infra/scripts/browser.sh."
    done = subprocess.run(["node", str(SCRIPT), gateway, token("pass", "medecin", "audit-pro")],
                          env={**os.environ, "NODE_PATH": str(NODE_MODULES)}, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(results) > 50  # the whole suite ran
    failed = [r for r in results if r["status"] in ("error", "warn")]
    assert failed == [], "\n".join(f"{r['id']} {r['name']}: {r['reason']}" for r in failed)
    assert {r["id"] for r in results if r["status"] == "ok"} >= {"22EB", "4655", "47DE", "556A", "D586", "86EE"}
