"""`relais serve` on its embedded default: answers /health within 10 s, no Kafka, no PostgreSQL."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

RELAIS = str(Path(sys.executable).with_name("relais"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_relais_serve_answers_its_health_endpoint_within_ten_seconds(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env["RELAIS_STATE_DIR"] = str(tmp_path / "state")
    # Point the distributed settings at closed ports: the embedded mode must not need them.
    env["RELAIS_DATABASE_URL"] = f"postgresql://relais:relais@127.0.0.1:{_free_port()}/relais"
    env["RELAIS_KAFKA_BOOTSTRAP"] = f"127.0.0.1:{_free_port()}"
    started = time.monotonic()
    proc = subprocess.Popen([RELAIS, "serve", "--port", str(port)], env=env, cwd=tmp_path,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        body = None
        while time.monotonic() - started < 10:
            assert proc.poll() is None, f"relais serve exited: {proc.stdout.read()}"
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
                if r.status_code == 200:
                    body = r.json()
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        elapsed = time.monotonic() - started
        assert body is not None, "no answer on /health within 10 s"
        assert body["status"] == "ok" and body["mode"] == "embedded"
        assert elapsed < 10
        gql = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": "{ __typename }"}, timeout=5)
        assert gql.status_code == 200 and gql.json()["data"]["__typename"] == "Query"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
