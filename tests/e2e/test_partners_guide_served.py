"""docs/partners.md, "Premiers pas": every example run as a partner pastes it, one after the other,
against a served gateway in the distributed mode on the real broker and PostgreSQL: a token from
`relais token`, a pathway opened with a referral and its outcome, a fact published on the USMP's
inbound Kafka topic, the alert it raises received over the websocket with its triggering events,
and the pathway's alerts listed page by page. An example that stops working fails here."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from gateway.auth import development_key
from gateway.serving import serve
from services.settings import Settings
from tests.e2e.test_screen_live_kafka import deployment  # noqa: F401 - the distributed runtime fixture
from tests.integration.test_partners_guide import blocks

SECTION = "Premiers pas : jeton, parcours, fait entrant, alertes en direct, pagination"


def _env(settings: Settings, base: str, **extra: str) -> dict[str, str]:
    """A partner's shell: the venv's `relais` and libraries, no Relais setting of the test run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
               RELAIS_STATE_DIR=str(settings.state_dir), RELAIS_ENVIRONMENT="development", RELAIS_URL=base,
               KAFKA_BOOTSTRAP=settings.kafka_bootstrap, RELAIS_TOPIC_PREFIX=settings.topic_prefix, **extra)
    return env


def _run(argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 180) -> str:
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{argv[:2]} a échoué :\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _python(title: str, env: dict[str, str], cwd: Path) -> str:
    (code,) = blocks(title, "python")
    script = cwd / f"{re.sub(r'[^a-z]+', '_', title.lower())}.py"
    script.write_text(code, encoding="utf-8")
    return _run([sys.executable, str(script)], env, cwd)


def _graphql(base: str, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    answer = httpx.post(f"{base}/graphql", json={"query": query, "variables": variables}, timeout=30,
                        headers={"Authorization": f"Bearer {token}"}).json()
    assert not answer.get("errors"), answer
    return answer["data"]


def test_the_first_steps_of_the_partner_guide_run_against_a_served_gateway(deployment, tmp_path: Path) -> None:  # noqa: F811
    from gateway.app import create_app

    relais, settings = deployment
    assert blocks(SECTION, "python") == [] and blocks(SECTION, "bash") == []  # the examples are in its subsections
    development_key(Path(settings.state_dir))  # the key `relais token` signs with, known to the gateway
    with serve(create_app(relais)) as base:
        env = _env(settings, base)

        # 1. A token, and who it says I am.
        (shell,) = blocks("Obtenir un jeton", "bash")
        out = _run(["bash", "-euo", "pipefail", "-c", shell + '\nprintf "\\nRELAIS_TOKEN=%s\\n" "$RELAIS_TOKEN"'],
                   env, tmp_path)
        answer, token_line = out.rsplit("\n", 2)[0], out.strip().splitlines()[-1]
        assert json.loads(answer) == {"data": {"me": {"agency": "usmp", "role": "DOCTOR", "roleCode": "medecin"}}}
        token = token_line.removeprefix("RELAIS_TOKEN=")
        env["RELAIS_TOKEN"] = token

        # 2. A pathway, a referral and its outcome.
        out = _python("Ouvrir un parcours, enregistrer une orientation et son issue", env, tmp_path)
        match = re.search(r"export RELAIS_PATHWAY=([0-9a-f-]{36})  # version (\d+)", out)
        assert match, out
        pathway, version = match.group(1), int(match.group(2))
        env["RELAIS_PATHWAY"] = pathway
        read = _graphql(base, token, "query($id: UUID!, $v: Int) { pathway(id: $id, atLeastVersion: $v) "
                                     "{ personRef referrals { toAgency status outcome } } }",
                        {"id": pathway, "v": version})["pathway"]
        assert read["personRef"] == "P-GUIDE-1"
        assert read["referrals"] == [{"toAgency": "spip", "status": "COMPLETED", "outcome": "HONOURED"}]

        # 3. The USMP's system publishes a fact on its inbound topic.
        assert "publié : si-usmp-" in _python("Publier un fait entrant sur Kafka", env, tmp_path)

        # 4. The alert it raises, live, with the events that raised it.
        out = _python("Recevoir les alertes en direct", env, tmp_path)
        lines = out.strip().splitlines()
        (start,) = [i for i, line in enumerate(lines) if re.match(r"^\d+ RAISED contact-lost \w+ ", line)]
        triggers = [line.split()[2] for line in lines[start + 1:] if line.startswith("  déclenchée par ")]
        assert triggers, out
        timeline = _graphql(base, token, "query($id: UUID!) { pathway(id: $id) { timeline(first: 50) "
                                         "{ entries { eventId type } } } }", {"id": pathway})
        types = {e["eventId"]: e["type"] for e in timeline["pathway"]["timeline"]["entries"]}
        assert types[triggers[0]] == "PhoneStatusRecorded"

        # 5. The pathway's alerts, page by page, with the counts.
        out = _python("Lister mes alertes, page par page", env, tmp_path).strip().splitlines()
        listed, total = out[:-1], out[-1]
        assert any(" contact-lost RAISED " in line for line in listed), out
        assert total.startswith(f"total {len(listed)} ") and len({line.split()[0] for line in listed}) == len(listed)
