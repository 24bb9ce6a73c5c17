"""The pathway workload and the worker processes of the backbone benchmarks (and of the
backbone fault test, which imports them from here): no test code, no side effect on import.

- :func:`pathway_commands`, :func:`workload`: pathway commands as a live system would send them;
- :func:`relais_env`, :func:`relay_command`, :func:`checksum_command`: how a distributed-mode
  worker process (`relais relay`, `python -m projections.checksum run`) is started;
- :class:`Proc`: one such process, with its log file (SIGTERM / SIGKILL, tail of the log).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from services.pathways import commands as c

ROOT = Path(__file__).resolve().parents[1]

T0 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)
AGENCIES = ("pass-chu-rouen", "siao-76", "dac-rouen", "cpam-76")


def _actor(agency: str) -> c.ActorModel:
    # A coordinating nurse: every fact of the workload (care needs, appointments) is one it may record.
    return c.ActorModel(agency=agency, professional="pro-backbone-1", role="infirmier")


def pathway_commands(pathway_id: uuid.UUID, count: int) -> list[c.Command]:
    """`count` commands of one pathway (count >= 4): opening, three agencies, then small facts."""
    out: list[c.Command] = [
        c.OpenPassGpPathway(command_id=uuid.uuid4(), pathway_id=pathway_id, actor=_actor(AGENCIES[0]),
                            occurred_at=T0, person_ref=f"P-{pathway_id.hex[:8]}", territory="76",
                            lead_agency=AGENCIES[0])
    ]
    for agency in AGENCIES[1:]:
        out.append(c.AddAgency(command_id=uuid.uuid4(), pathway_id=pathway_id, actor=_actor(AGENCIES[0]),
                               occurred_at=T0, agency=agency, role="coordination"))
    for i in range(count - len(out)):
        who, when = _actor(AGENCIES[i % 4]), T0 + timedelta(hours=i + 1)
        if i % 3 == 0:
            out.append(c.RecordNeed(command_id=uuid.uuid4(), pathway_id=pathway_id, actor=who, occurred_at=when,
                                    need_id=uuid.uuid4(), category="care",
                                    description="Bilan de santé à organiser, interprète arabe."))
        elif i % 3 == 1:
            out.append(c.RecordContactAttempt(command_id=uuid.uuid4(), pathway_id=pathway_id, actor=who,
                                              occurred_at=when, reached=bool(i % 2), channel="phone"))
        else:
            out.append(c.BookAppointment(command_id=uuid.uuid4(), pathway_id=pathway_id, actor=who,
                                         occurred_at=when, appointment_id=uuid.uuid4(), with_agency="chu-rouen",
                                         service="consultation", scheduled_at=when + timedelta(days=3)))
    return out


def workload(pathways: int, per_pathway: int, *, seed: int = 0) -> list[c.Command]:
    """`pathways * per_pathway` commands, pathways interleaved at random, each pathway's own
    commands in order (so the notification log mixes pathways as a live system would)."""
    rng = random.Random(seed)
    queues = [pathway_commands(uuid.UUID(int=rng.getrandbits(128), version=4), per_pathway)
              for _ in range(pathways)]
    out: list[c.Command] = []
    live = list(range(pathways))
    while live:
        i = rng.randrange(len(live))
        q = queues[live[i]]
        out.append(q.pop(0))
        if not q:
            live[i] = live[-1]
            live.pop()
    return out


def relais_env(*, database_url: str, schema: str, bootstrap: str, prefix: str, cipher_key: str) -> dict[str, str]:
    """The environment of a distributed-mode worker process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    env.update(
        RELAIS_MODE="distributed", RELAIS_DATABASE_URL=database_url, RELAIS_DATABASE_SCHEMA=schema,
        RELAIS_KAFKA_BOOTSTRAP=bootstrap, RELAIS_TOPIC_PREFIX=prefix, RELAIS_CIPHER_KEY=cipher_key,
        PYTHONUNBUFFERED="1",
    )
    return env


def relay_command() -> list[str]:
    """`relais relay`: the installed entry point beside this interpreter."""
    script = Path(sys.executable).parent / "relais"
    return [str(script), "relay"] if script.exists() else [sys.executable, "-m", "services.cli", "relay"]


def checksum_command(*extra: str) -> list[str]:
    return [sys.executable, "-m", "projections.checksum", "run", *extra]


class Proc:
    """A worker process with its own command line, environment and log file."""

    def __init__(self, name: str, log_dir: Path, cmd: list[str], env: dict[str, str]) -> None:  # noqa: D107
        self.name = name
        self.log = log_dir / f"{name}-{uuid.uuid4().hex[:6]}.log"
        self._fh = open(self.log, "wb")  # noqa: SIM115 - closed by kill9/terminate
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=self._fh, stderr=subprocess.STDOUT, env=env)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._fh.close()

    def terminate(self, timeout: float = 30.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=timeout)
        self._fh.close()
        return rc

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        """SIGTERM, or SIGKILL when it does not exit in time; never raises."""
        if not self.alive():
            return
        try:
            self.terminate(timeout=20)
        except Exception:  # noqa: BLE001
            self.proc.kill()
            self.proc.wait(timeout=10)
