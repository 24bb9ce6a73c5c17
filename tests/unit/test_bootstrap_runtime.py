"""The composition root (services/bootstrap.py): typed runtimes that own their threads."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from services.bootstrap import EmbeddedRuntime, bootstrap, build_embedded
from services.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _open_pathway(runtime: EmbeddedRuntime) -> str:
    pid = str(uuid.uuid4())
    result = runtime.pathways.handle_payload("OpenDetentionPathway", {
        "command_id": str(uuid.uuid4()), "pathway_id": pid, "person_ref": "P-1", "territory": "76",
        "lead_agency": "usmp", "prison": "CP",
        "actor": {"agency": "usmp", "professional": "p", "role": "medecin"},
        "occurred_at": datetime.now(timezone.utc).isoformat()})
    assert result.accepted, result.rejection
    return pid


def test_importing_the_composition_root_opens_no_connection_and_loads_no_pool():
    code = ("import sys, services.bootstrap, services.cli; "
            "print(sorted(m for m in ('psycopg_pool', 'kafka', 'eventsourcing.postgres') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_embedded_runtime_runs_its_relay_and_projections_until_stopped(tmp_path: Path):
    runtime = bootstrap(Settings(mode="embedded", state_dir=tmp_path, synthetic_pathways=0))
    assert isinstance(runtime, EmbeddedRuntime) and runtime.projections is not None and runtime.risk is not None
    assert runtime.start() is True and runtime.start() is False  # once
    try:
        pid = _open_pathway(runtime)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(e.subject == pid for e in runtime.bus.events()):
            time.sleep(0.02)
        assert any(e.subject == pid for e in runtime.bus.events())  # the relay moved it onto the bus
        with runtime.readmodels() as conn:  # the projections read it in their SQLite read models
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not conn.execute(
                    "SELECT 1 FROM pathway_summary WHERE pathway_id = ?", (pid,)).fetchall():
                time.sleep(0.02)
            assert conn.execute("SELECT 1 FROM pathway_summary WHERE pathway_id = ?", (pid,)).fetchall()
    finally:
        runtime.close()
    assert not [t for t in threading.enumerate() if t.name in ("embedded-relay", "embedded-alerting") and t.is_alive()]


def test_an_embedded_runtime_built_without_projections_and_risk_starts_no_risk_clock(tmp_path: Path):
    runtime = build_embedded(Settings(mode="embedded", state_dir=tmp_path), projections=False, risk=False)
    before = set(threading.enumerate())
    runtime.start()
    try:
        started = {t.name for t in set(threading.enumerate()) - before}
        assert runtime.projections is None and runtime.risk is None
        # The directory's expiry sweep is no risk clock: it runs with the directory.
        assert started == {"embedded-relay", "embedded-alerting", "embedded-expiry"}
    finally:
        runtime.close()


def test_the_embedded_runtime_s_risk_engine_names_agencies_in_its_alerts_by_the_registry_s_display_name(
        tmp_path: Path):
    runtime = build_embedded(Settings(mode="embedded", state_dir=tmp_path, synthetic_pathways=0), projections=False)
    assert runtime.risk is not None
    risk = runtime.risk.start(timer=False)  # on the bus: evaluates as the relay publishes
    try:
        pid = _open_pathway(runtime)
        # The SIAO joins without the person's consent to share: consent-missing names it.
        result = runtime.pathways.handle_payload("AddAgency", {
            "command_id": str(uuid.uuid4()), "pathway_id": pid, "agency": "siao-76", "role": "housing",
            "actor": {"agency": "usmp", "professional": "p", "role": "medecin"},
            "occurred_at": datetime.now(timezone.utc).isoformat()})
        assert result.accepted, result.rejection
        while runtime.relay.run_once():
            pass
        pathway = runtime.pathways.app.get_pathway(uuid.UUID(pid))
        [action] = [a.suggested_action for a in pathway.open_alerts if a.rule_id == "consent-missing"]
    finally:
        risk.stop()
        runtime.close()
    siao = runtime.agencies["siao-76"].name
    assert f"avec {siao}," in action and "siao-76" not in action
