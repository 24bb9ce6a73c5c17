"""`relais serve` as an operator runs it: JSON lines on stderr (uvicorn's included), Prometheus
metrics on /metrics that move as events flow, and a state directory never left half-loaded."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import httpx

from tests.e2e.test_cli_serve import RELAIS, _free_port


def _env(state: Path, **extra: str) -> dict[str, str]:
    from tests.tokens import identity_env

    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env.update(RELAIS_STATE_DIR=str(state), **identity_env(), **extra)
    return env


def _serve(tmp_path: Path, port: int, **extra: str) -> subprocess.Popen:
    return subprocess.Popen([RELAIS, "serve", "--port", str(port)], env=_env(tmp_path / "state", **extra),
                            cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err or ""


def _wait_health(proc: subprocess.Popen, port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"relais serve exited: {proc.stderr.read()}"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("no answer on /health")


def _metric(text: str, name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels` (0 when none)."""
    total = 0.0
    for line in text.splitlines():
        m = re.match(rf"^{re.escape(name)}(?:\{{(.*)\}})? (\S+)$", line)
        if m and all(f'{k}="{v}"' in (m.group(1) or "") for k, v in labels.items()):
            total += float(m.group(2))
    return total


def test_every_line_serve_writes_on_stderr_is_json_including_uvicorns_access_log(tmp_path):
    port = _free_port()
    proc = _serve(tmp_path, port, RELAIS_SYNTHETIC_PATHWAYS="4")
    try:
        _wait_health(proc, port)
        httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": "{ __typename }"}, timeout=5)
    finally:
        err = _stop(proc)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    records = [json.loads(ln) for ln in lines]  # raises on any line that is not JSON
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    access = [r for r in records if r["logger"] == "uvicorn.access"]
    assert any(r.get("path") == "/graphql" and r.get("method") == "POST" and r.get("status") == 200 for r in access)
    assert any(r["logger"].startswith("uvicorn") and "Application startup complete" in r["message"] for r in records)


def test_the_gateways_metrics_move_as_the_synthetic_territory_flows(tmp_path):
    port = _free_port()
    proc = _serve(tmp_path, port, RELAIS_SYNTHETIC_PATHWAYS="24")
    try:
        _wait_health(proc, port)
        httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": "{ __typename }"}, timeout=5)
        deadline, text = time.monotonic() + 120, ""
        while time.monotonic() < deadline:
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            if (_metric(text, "relais_alerts_raised_total") > 0
                    and _metric(text, "relais_relay_published_total", relay="embedded") > 0
                    and (tmp_path / "state" / "synthetic-load.incomplete").exists() is False):
                break
            time.sleep(0.5)
        # A fresh process's counters start at 0: the load (perhaps over before /health first
        # answered, on a quiet machine) moved them.
        assert _metric(text, "relais_relay_published_total", relay="embedded") > 0
        assert _metric(text, "relais_alerts_raised_total") > 0, "no alert raised per rule"
        assert re.search(r'relais_alerts_raised_total\{rule="[^"]+"\}', text)
        assert _metric(text, "relais_graphql_request_seconds_count") >= 1
        assert "relais_relay_backlog" in text
    finally:
        _stop(proc)


def _events(state: Path) -> int:
    path = state / "events.sqlite3"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(path, timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM stored_events").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def _pathways(state: Path) -> int:
    try:
        with sqlite3.connect(state / "read_models.sqlite3", timeout=1) as conn:
            return conn.execute("SELECT count(*) FROM pathway_summary").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_a_serve_killed_during_the_synthetic_load_completes_the_territory_at_the_next_start(tmp_path):
    state, count = tmp_path / "state", 120
    port = _free_port()
    proc = _serve(tmp_path, port, RELAIS_SYNTHETIC_PATHWAYS=str(count))
    try:
        deadline = time.monotonic() + 60
        while _events(state) < 50 and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.05)
        assert (state / "synthetic-load.incomplete").exists(), "the load ended before it could be interrupted"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
    assert _events(state) > 0
    proc = _serve(tmp_path, port, RELAIS_SYNTHETIC_PATHWAYS=str(count))
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not (
                _pathways(state) == count and not (state / "synthetic-load.incomplete").exists()):
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.5)
        assert not (state / "synthetic-load.incomplete").exists(), "the interrupted load was not resumed"
        assert _pathways(state) == count
    finally:
        err = _stop(proc)
    assert any(json.loads(ln).get("event") == "synthetic_resume" for ln in err.splitlines() if ln.strip())
