"""docs/partners.md: every code block runs as a partner would paste it — the webhook receiver
verifies a real Relais delivery, the FHIR export commands write a Bundle the reading example
reads, the inbound Task example is one Relais applies."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from services.alerting.webhooks import Webhook, deliver, new_secret
from services.ingest.messages import fhir_task_data

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "partners.md"


def blocks(section: str, language: str) -> list[str]:
    """The `language` code blocks of the guide's section (or subsection) titled `section`."""
    text = GUIDE.read_text(encoding="utf-8")
    match = re.search(rf"^#{{2,}} {re.escape(section)}\n(.*?)(?=^#{{2,}} |\Z)", text, re.S | re.M)
    assert match, f"no section {section!r} in {GUIDE}"
    return re.findall(rf"```{language}\n(.*?)```", match.group(1), re.S)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen[str], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"the example receiver did not listen on {port} within {timeout} s")


def partner_env(**extra: str) -> dict[str, str]:
    venv_bin = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}", **extra}


def test_the_webhook_receiver_example_accepts_a_relais_delivery_and_refuses_a_tampered_one(tmp_path: Path) -> None:
    (code,) = blocks("Vérifier un webhook", "python")
    script = tmp_path / "receive_alerts.py"
    script.write_text(code, encoding="utf-8")
    secret, port = new_secret(), free_port()
    receiver = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, text=True, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=partner_env(RELAIS_WEBHOOK_SECRET=secret, PORT=str(port)))
    try:
        wait_for_port(port, receiver)
        alert = {"change": "raised", "rule_label": "Sortie sans hébergement confirmé", "severity": "high"}
        url = f"http://127.0.0.1:{port}/hooks/relais"
        assert deliver(Webhook("siao", url, secret), "delivery-1", alert, sleep=lambda s: None, development=True).delivered is True
        digest = {"agency": "siao", "day": "2026-12-03", "count": 1, "alerts": [
            {"alert_id": "a", "rule_label": "Orientation non vérifiée", "severity": "medium"}]}
        assert deliver(Webhook("siao", url, secret), "digest-1", digest, sleep=lambda s: None, development=True).delivered is True
        forged = httpx.post(url, content=json.dumps(alert).encode(),
                            headers={"webhook-id": "delivery-2", "webhook-timestamp": str(int(time.time())),
                                     "webhook-signature": "v1,aGVsbG8="})
        assert forged.status_code == 401
    finally:
        receiver.terminate()
        out, _ = receiver.communicate(timeout=10)
    assert "delivery-1 raised Sortie sans hébergement confirmé high" in out
    assert "digest-1 récapitulatif du 2026-12-03 1 alerte(s)" in out
    assert "refusé : No matching signature found" in out


def test_the_fhir_export_example_writes_a_bundle_that_the_reading_example_reads(tmp_path: Path) -> None:
    (commands,) = blocks("Exporter les orientations en FHIR", "bash")
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", commands], cwd=tmp_path, env=partner_env(),
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "export FHIR territoire 76" in done.stderr and "orientations.json" in done.stderr
    bundle = json.loads((tmp_path / "orientations.json").read_text(encoding="utf-8"))
    tasks = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Task"]
    assert tasks
    (reader,) = blocks("Exporter les orientations en FHIR", "python")
    read = subprocess.run([sys.executable, "-c", reader], cwd=tmp_path, env=partner_env(), capture_output=True,
                          text=True, timeout=60)
    assert read.returncode == 0, read.stderr
    lines = read.stdout.splitlines()
    assert [line.split()[:2] for line in lines] == [[t["identifier"][0]["value"], t["status"]] for t in tasks]


def test_the_inbound_task_example_is_a_status_change_relais_applies() -> None:
    (body,) = blocks("Answering a referral with a FHIR Task", "json")
    task = json.loads(body)
    pathway_id = task["for"]["identifier"]["value"]
    name, data = fhir_task_data(task, subject=pathway_id, time=None, is_gp_orientation=lambda p, r: False,
                                extensions={"actorprofessional": "dr-csapa-3", "actorrole": "medecin"})
    assert name == "UpdateReferralStatus"
    assert (data["status"], data["reason"], data["referral_id"]) == (
        "rejected", "plus de place avant fin avril", task["identifier"][0]["value"])
    assert data["occurred_at"] == "2026-03-04T10:15:00+01:00"
