"""Soak (not a test): the whole platform in the distributed mode, under load and faults, for a
set duration, then a verdict.

    .venv/bin/python bench/soak.py --duration 600 --kill-every 25 [--json] [--markdown FILE]

What it does, on servers of its own (never the shared development ones, which other people's
tests use: it restarts its servers):
1. PostgreSQL (initdb into --run-dir, default /var/tmp/relais-soak, port --pg-port) and Kafka
   (KRaft, port --kafka-port, the jars infra/scripts/kafka.sh caches), both started by the
   project's own scripts with RELAIS_RUN_DIR and the ports overridden; fresh data each run;
   migrations and topics applied.
2. The distributed platform, each service its own process (`relais ...`, JSON logs in
   --run-dir/logs): relay, gateway (`relais serve`), and two processes of each consumer kind
   (ingest, projections, risk, alerting), so that a kill makes their group rebalance.
3. A load for --duration seconds: the synthetic territory's commands through the gateway
   (HTTP GraphQL, one development token per professional, --rate commands/s from --senders
   threads; a command whose answer is lost is sent again with the same commandId), partner
   pathways whose housing facts come through Kafka (`<prefix>.inbound.siao`, acks=all), and
   queries (caseload, alerts) from other agencies.
4. Meanwhile a fault injector: every --kill-every seconds it kill -9s a random service process
   and starts it again; once each, it restarts Kafka (at 35 % of the duration) and PostgreSQL
   (at 65 %). Recovery time of a fault = from the fault until the killed kind (all kinds for
   Kafka and PostgreSQL) has applied everything that was written before it (relay position
   past the store's last notification, each consumer group past the topic's end offsets) and,
   for the gateway, answers /health.
5. When the load ends: wait until every consumer has caught up, then the verdict
   (bench/soak_verdict.py): commands accepted vs in the store, duplicates, events in the store
   vs in each read model, the alerts the rules find (replayed over the store) vs open ones,
   alerts raised vs published, recovery per fault, RSS of each process at start and end.
   Exit 0 when every check holds, 1 otherwise. Progress on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import logging  # noqa: E402

logging.getLogger("kafka").setLevel(logging.CRITICAL)

from bench.soak_verdict import (  # noqa: E402
    Fault,
    Memory,
    Observed,
    Processed,
    SentCommand,
    SentInbound,
    decide,
    markdown,
)

UTC = timezone.utc
PREFIX = "relais"
CONSUMER_KINDS = ("ingest", "projections", "risk", "alerting")
#: GraphQL error codes and refusal codes that say "try again", not "no".
TRANSIENT_CODES = frozenset({"INTERNAL_SERVER_ERROR", "INTERNAL", "UNAVAILABLE", "RATE_LIMITED", "NOT_APPLIED_YET",
                             "TIMEOUT", "READ_TIMEOUT"})


def say(message: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- servers of its own
class Servers:
    """A private PostgreSQL and Kafka, run by infra/postgres/server.sh and infra/scripts/kafka.sh
    with RELAIS_RUN_DIR and the ports overridden."""

    def __init__(self, run_dir: Path, pg_port: int, kafka_port: int, controller_port: int) -> None:
        self.run_dir, self.pg_port, self.kafka_port = run_dir, pg_port, kafka_port
        self.controller_port = controller_port
        self.database_url = f"postgresql://relais:relais@127.0.0.1:{pg_port}/relais"
        self.bootstrap = f"127.0.0.1:{kafka_port}"
        self.log = run_dir / "servers.log"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
        env.update(RELAIS_RUN_DIR=str(self.run_dir), RELAIS_PG_PORT=str(self.pg_port),
                   RELAIS_KAFKA_PORT=str(self.kafka_port), RELAIS_KAFKA_CONTROLLER_PORT=str(self.controller_port),
                   RELAIS_DATABASE_URL=self.database_url, RELAIS_KAFKA_BOOTSTRAP=self.bootstrap,
                   RELAIS_TOPIC_PREFIX=PREFIX)
        return env

    def _script(self, script: str, action: str) -> None:
        with open(self.log, "a") as out:
            rc = subprocess.run(["bash", str(ROOT / script), action], env=self.env(), stdout=out,
                                stderr=subprocess.STDOUT, cwd=ROOT).returncode
        if rc != 0:
            raise RuntimeError(f"{script} {action} a échoué (voir {self.log})")

    def start_pg(self) -> None:
        self._script("infra/postgres/server.sh", "start")

    def stop_pg(self) -> None:
        self._script("infra/postgres/server.sh", "stop")

    def start_kafka(self) -> None:
        self._script("infra/scripts/kafka.sh", "start")

    def stop_kafka(self) -> None:
        self._script("infra/scripts/kafka.sh", "stop")

    def fresh(self) -> None:
        """Stop what a previous run left, remove its data, start both, apply migrations and topics."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for stop in (self.stop_kafka, self.stop_pg):
            try:
                stop()
            except RuntimeError:
                pass
        for name in ("pg", "pg-socket", "kafka-data", "kafka", "logs", "state"):
            shutil.rmtree(self.run_dir / name, ignore_errors=True)
        self._share_kafka_jars()
        say(f"PostgreSQL privé sur 127.0.0.1:{self.pg_port}, Kafka privé sur {self.bootstrap} ({self.run_dir})")
        self.start_pg()
        subprocess.run([sys.executable, "-m", "infra.postgres.migrations", "apply"], env=self.env(), cwd=ROOT,
                       check=True, stdout=subprocess.DEVNULL)
        self.start_kafka()  # kafka.sh applies infra/kafka/topics.toml under RELAIS_TOPIC_PREFIX

    def _share_kafka_jars(self) -> None:
        """The jars the development broker cached (same pom): linked, not downloaded again."""
        pom = (ROOT / "infra/kafka/pom.xml").read_text()
        version = re.search(r"<kafka.version>(.*?)</kafka.version>", pom).group(1)  # type: ignore[union-attr]
        mine = self.run_dir / f"kafka-libs-{version}"
        shared = Path(os.environ.get("RELAIS_RUN_DIR", "/var/tmp/relais")) / f"kafka-libs-{version}"
        if not mine.exists() and (shared / ".complete").exists() and shared.resolve() != mine.resolve():
            mine.symlink_to(shared)

    def stop(self) -> None:
        for stop in (self.stop_kafka, self.stop_pg):
            try:
                stop()
            except RuntimeError as exc:
                say(str(exc))

    def kafka_pid(self) -> int | None:
        return _pid_file(self.run_dir / "kafka.pid")

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.run_dir / "pg" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None


def _pid_file(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


# --------------------------------------------------------------------------- services
@dataclass(eq=False)
class Service:
    name: str
    kind: str  # relay, gateway, ingest, projections, risk, alerting
    argv: list[str]
    env: dict[str, str]
    log: Path
    metrics_port: int | None = None
    http_port: int | None = None
    proc: subprocess.Popen | None = None
    restarts: int = 0
    rss_start_kb: int | None = None

    def start(self) -> None:
        out = open(self.log, "ab")  # noqa: SIM115 - the child holds it; closed with the process
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        out.close()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        if self.proc is not None and self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is None or not self.alive():
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill9()

    def up(self) -> bool:
        """The process answers: the gateway's /health, a worker's /metrics."""
        import httpx

        port = self.http_port if self.kind == "gateway" else self.metrics_port
        if not self.alive() or port is None:
            return False
        path = "/health" if self.kind == "gateway" else "/metrics"
        try:
            return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False


def relais_argv(*args: str) -> list[str]:
    script = Path(sys.executable).parent / "relais"
    return [str(script), *args] if script.exists() else [sys.executable, "-m", "services.cli", *args]


def build_services(servers: Servers, cipher_key: str, state_dir: Path, log_dir: Path, replicas: int,
                   gateway_port: int) -> list[Service]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    base.update(RELAIS_MODE="distributed", RELAIS_ENVIRONMENT="development", RELAIS_DATABASE_URL=servers.database_url,
                RELAIS_KAFKA_BOOTSTRAP=servers.bootstrap, RELAIS_TOPIC_PREFIX=PREFIX, RELAIS_CIPHER_KEY=cipher_key,
                RELAIS_STATE_DIR=str(state_dir), RELAIS_DATABASE_POOL_SIZE="6", PYTHONUNBUFFERED="1")
    plan: list[tuple[str, str, list[str], int]] = [("relay", "relay", ["relay"], 4)]
    plan += [(f"{kind}-{i + 1}", kind, {"ingest": ["ingest"], "projections": ["projections", "run"],
                                         "risk": ["risk", "--interval", "5"], "alerting": ["alerting"]}[kind],
              10 if kind == "projections" else 6)
             for kind in CONSUMER_KINDS for i in range(replicas)]
    out = []
    for name, kind, args, pool in plan:
        port = free_port()
        out.append(Service(name, kind, relais_argv(*args, "--metrics-port", str(port)),
                           {**base, "RELAIS_DATABASE_POOL_SIZE": str(pool)}, log_dir / f"{name}.log",
                           metrics_port=port))
    out.append(Service("gateway", "gateway", relais_argv("serve", "--port", str(gateway_port)),
                       {**base, "RELAIS_HTTP_PORT": str(gateway_port)}, log_dir / "gateway.log",
                       http_port=gateway_port))
    return out


# --------------------------------------------------------------------------- what the platform has applied
class Probe:
    """Reads positions and ends: the store's last notification, the relay's position, each
    consumer group's positions, the topics' end offsets. Every read may fail during a fault
    (returns None then)."""

    def __init__(self, settings: Any, app: Any) -> None:
        self.settings, self.app = settings, app
        self._consumer: Any = None
        self._lock = threading.Lock()

    def _db(self) -> Any:
        import psycopg

        return psycopg.connect(self.settings.database_url, autocommit=True, connect_timeout=3)

    def store_max(self) -> int | None:
        try:
            with self._db() as conn:
                row = conn.execute(f"SELECT max(notification_id) FROM {self.app.recorder.events_table_name}").fetchone()
                return int(row[0] or 0)
        except Exception:  # noqa: BLE001 - PostgreSQL down during a fault
            return None

    def relay_position(self) -> int | None:
        try:
            with self._db() as conn:
                row = conn.execute("SELECT max(notification_id) FROM relay_positions").fetchone()
                return int(row[0] or 0)
        except Exception:  # noqa: BLE001
            return None

    def group_positions(self) -> dict[str, dict[tuple[str, int], int]] | None:
        try:
            with self._db() as conn:
                rows = conn.execute("SELECT consumer_group, topic, partition, next_offset "
                                    "FROM kafka_consumer_positions").fetchall()
        except Exception:  # noqa: BLE001
            return None
        out: dict[str, dict[tuple[str, int], int]] = defaultdict(dict)
        for group, topic, partition, offset in rows:
            out[group][(topic, partition)] = offset
        return out

    def end_offsets(self) -> dict[tuple[str, int], int] | None:
        from kafka import KafkaConsumer, TopicPartition

        with self._lock:
            try:
                if self._consumer is None:
                    self._consumer = KafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap, group_id=None,
                                                   enable_auto_commit=False, request_timeout_ms=5000)
                tps = []
                for name in self._consumer.topics():
                    if name.startswith(f"{PREFIX}.pathway-events") or name.startswith(f"{PREFIX}.inbound."):
                        for p in self._consumer.partitions_for_topic(name) or ():
                            tps.append(TopicPartition(name, p))
                return {(tp.topic, tp.partition): o for tp, o in self._consumer.end_offsets(tps).items()}
            except Exception:  # noqa: BLE001 - Kafka down during a fault
                try:
                    if self._consumer is not None:
                        self._consumer.close()
                finally:
                    self._consumer = None
                return None

    def mark(self) -> dict[str, Any] | None:
        """What has been written so far: the target recovery waits for."""
        store, ends = self.store_max(), self.end_offsets()
        if store is None or ends is None:
            return None
        return {"store": store, "ends": ends}

    def caught_up(self, kinds: set[str], mark: dict[str, Any]) -> bool:
        if "relay" in kinds:
            position = self.relay_position()
            if position is None or position < mark["store"]:
                return False
        consumer_kinds = kinds & set(CONSUMER_KINDS)
        if not consumer_kinds:
            return True
        groups = self.group_positions()
        if groups is None:
            return False
        for kind in consumer_kinds:
            names = [g for g in groups if g.startswith(f"{PREFIX}-proj-")] if kind == "projections" \
                else [f"{PREFIX}-{kind}"]
            if kind == "projections" and not names:
                return False
            wanted = {tp: end for tp, end in mark["ends"].items()
                      if (tp[0].startswith(f"{PREFIX}.inbound.") if kind == "ingest" else
                          tp[0] == f"{PREFIX}.pathway-events")}
            for name in names:
                have = groups.get(name, {})
                if any(have.get(tp, 0) < end for tp, end in wanted.items() if end > 0):
                    return False
        return True


# --------------------------------------------------------------------------- the load
class Gateway:
    """GraphQL over HTTP with development tokens (one per professional)."""

    def __init__(self, url: str, settings: Any, agencies: Any) -> None:
        self.url, self.settings, self.agencies = url, settings, agencies
        self._tokens: dict[tuple[str, str, str], str] = {}
        self._lock = threading.Lock()

    def token(self, agency: str, role: str, professional: str) -> str:
        from gateway.auth import development_token

        key = (agency, role, professional)
        with self._lock:
            if key not in self._tokens:
                self._tokens[key] = development_token(self.settings, self.agencies, agency=agency, role=role,
                                                      professional=professional, ttl_seconds=6 * 3600)
            return self._tokens[key]

    def post(self, client: Any, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any] | None:
        """The answer's JSON, or None when it did not come (connection, 5xx, transient error)."""
        import httpx

        try:
            r = client.post(self.url, json={"query": query, "variables": variables},
                            headers={"Authorization": f"Bearer {token}"}, timeout=30)
        except httpx.HTTPError:
            return None
        if r.status_code >= 500 or r.status_code == 429:
            return None
        try:
            body = r.json()
        except ValueError:
            return None
        codes = {(e.get("extensions") or {}).get("code") for e in body.get("errors") or []}
        if body.get("errors") and (not body.get("data") or codes & TRANSIENT_CODES or None in codes):
            return None
        return body

    def command(self, client: Any, command: str, payload: dict[str, Any], stop_by: float) -> SentCommand:
        """Send until answered (same commandId: a retry changes nothing) or `stop_by`."""
        from gateway.mutations import graphql_input

        actor = payload["actor"]
        token = self.token(actor["agency"], actor["role"], actor["professional"])
        name = command[0].lower() + command[1:]
        query = (f"mutation($input: {command}Input!) {{ {name}(input: $input) {{ __typename "
                 "... on CommandAccepted { version duplicate } ... on CommandRefused { field reason code } } }")
        variables = {"input": graphql_input(command, payload)}
        attempts, delay = 0, 0.2
        while True:
            attempts += 1
            body = self.post(client, token, query, variables)
            if body is not None and body.get("data") and body["data"].get(name):
                out = body["data"][name]
                if out["__typename"] == "CommandAccepted":
                    return SentCommand(payload["command_id"], payload["pathway_id"], command, "accepted",
                                       out["version"], bool(out["duplicate"]), attempts=attempts)
                return SentCommand(payload["command_id"], payload["pathway_id"], command, "refused",
                                   code=out["code"], attempts=attempts)
            if body is not None and body.get("errors"):  # a final GraphQL error (bad input): no retry
                code = (body["errors"][0].get("extensions") or {}).get("code", "GRAPHQL_ERROR")
                return SentCommand(payload["command_id"], payload["pathway_id"], command, "refused", code=code,
                                   attempts=attempts)
            if time.monotonic() > stop_by:
                return SentCommand(payload["command_id"], payload["pathway_id"], command, "unanswered",
                                   attempts=attempts)
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


class Pacer:
    """Shared token bucket: at most `rate` sends per second across threads."""

    def __init__(self, rate: float) -> None:
        self.interval, self.next, self.lock = 1.0 / rate, time.monotonic(), threading.Lock()

    def wait(self) -> None:
        with self.lock:
            now = time.monotonic()
            self.next = max(self.next + self.interval, now)
            delay = self.next - now
        if delay > 0:
            time.sleep(delay)


@dataclass
class Load:
    gateway: Gateway
    bootstrap: str
    rate: float
    senders: int
    seed: int
    stop: threading.Event
    retry_for_s: float = 240.0
    inbound_every_s: float = 3.0
    queries_per_s: float = 2.0
    sent: list[SentCommand] = field(default_factory=list)
    inbound: list[SentInbound] = field(default_factory=list)
    queries_ok: int = 0
    queries_failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def threads(self) -> list[threading.Thread]:
        from services.territory.synthetic import generate

        stories = generate(100_000, seed=self.seed, territory="76")
        pacer = Pacer(self.rate)
        out = [threading.Thread(target=self._territory, args=(stories, pacer), name=f"sender-{i}", daemon=True)
               for i in range(self.senders)]
        out.append(threading.Thread(target=self._partners, name="partners", daemon=True))
        out.append(threading.Thread(target=self._queries, name="queries", daemon=True))
        return out

    def _record(self, sent: SentCommand) -> SentCommand:
        with self.lock:
            self.sent.append(sent)
        return sent

    def _territory(self, stories: Any, pacer: Pacer) -> None:
        import httpx

        with httpx.Client() as client:
            while not self.stop.is_set():
                with self.lock:
                    story = next(stories, None)
                if story is None:
                    return
                for command, payload in story.commands:
                    if self.stop.is_set():
                        return
                    pacer.wait()
                    self._record(self.gateway.command(client, command, payload,
                                                      time.monotonic() + self.retry_for_s))

    def _partners(self) -> None:
        """PASS pathways waiting for housing (GraphQL), then the SIAO's offer, and for every
        other one its confirmation, on `relais.inbound.siao`."""
        import httpx

        from infra.kafka.cloudevents import CloudEvent
        from infra.kafka.producer import EventProducer
        from services.ingest.messages import command_id_for

        producer = None
        rng = random.Random(self.seed + 1)
        pass_actor = {"agency": "pass", "professional": "pass-as-soak", "role": "assistante_sociale"}
        siao_actor = {"professional": "siao-coord-soak", "role": "coordinateur"}
        n = 0
        with httpx.Client() as client:
            while not self.stop.wait(self.inbound_every_s):
                n += 1
                pathway_id, request_id, now = str(uuid.UUID(int=rng.getrandbits(128), version=4)), \
                    str(uuid.UUID(int=rng.getrandbits(128), version=4)), datetime.now(UTC)
                steps = [
                    ("OpenPassGpPathway", {"person_ref": f"P-soak-{n:05d}", "territory": "76", "lead_agency": "pass"}),
                    ("AddAgency", {"agency": "siao", "role": "housing"}),
                    ("RequestHousing", {"request_id": request_id, "via_agency": "siao"}),
                ]
                ok = True
                for command, fields in steps:
                    payload = {"command_id": str(uuid.uuid4()), "pathway_id": pathway_id, "actor": pass_actor,
                               "occurred_at": now.isoformat(), **fields}
                    sent = self._record(self.gateway.command(client, command, payload,
                                                             time.monotonic() + self.retry_for_s))
                    ok = ok and sent.outcome == "accepted"
                if not ok:
                    continue
                at = datetime.now(UTC).isoformat()
                messages = [("OfferHousing", {"actor": siao_actor, "occurred_at": at, "request_id": request_id,
                                              "place": "CHRS fictif", "available_on": date.today().isoformat()})]
                if n % 2 == 0:
                    messages.append(("ConfirmHousing", {"actor": siao_actor, "occurred_at": at,
                                                        "request_id": request_id}))
                for command, data in messages:
                    ce_id = f"soak-siao-{uuid.uuid4().hex}"
                    event = CloudEvent(id=ce_id, source="/siao/si-soak", type=f"fr.relais.inbound.{command}.v1",
                                       subject=pathway_id, partitionkey=pathway_id, time=datetime.now(UTC), data=data)
                    deadline = time.monotonic() + self.retry_for_s
                    while True:  # the broker may be restarting: same ce_id again (ingest applies it once)
                        try:
                            if producer is None:
                                producer = EventProducer(self.bootstrap, client_id="soak-partner-siao")
                            producer.send_all(f"{PREFIX}.inbound.siao", [event])
                            break
                        except Exception:  # noqa: BLE001 - broker down: retry with a new producer
                            try:
                                if producer is not None:
                                    producer.close(timeout=1)
                            except Exception:  # noqa: BLE001
                                pass
                            producer = None
                            if time.monotonic() > deadline:
                                break
                            time.sleep(1)
                    with self.lock:
                        self.inbound.append(SentInbound(ce_id, "siao", str(command_id_for("siao", ce_id)), pathway_id,
                                                        command))
        if producer is not None:
            producer.close(timeout=5)

    def _queries(self) -> None:
        import httpx

        readers = [("siao-76", "coordinateur", "siao-coord-q"), ("pass-chu-rouen", "assistante_sociale", "pass-q"),
                   ("dac-rouen", "coordinateur", "dac-q"), ("siao", "coordinateur", "siao-q")]
        queries = ["{ caseload(first: 10) { totalCount edges { node { id } } } }",
                   "{ alerts(first: 10, filter: {ownedByMyAgency: true}) { totalCount edges { node { alertId } } } }"]
        rng = random.Random(self.seed + 2)
        with httpx.Client() as client:
            while not self.stop.wait(1.0 / self.queries_per_s):
                token = self.gateway.token(*rng.choice(readers))
                body = self.gateway.post(client, token, rng.choice(queries), {})
                with self.lock:
                    if body is not None and not body.get("errors"):
                        self.queries_ok += 1
                    else:
                        self.queries_failed += 1


# --------------------------------------------------------------------------- faults
@dataclass
class FaultRecord:
    kind: str
    target: str
    at: float
    recovered_at: float | None = None


class Injector:
    def __init__(self, services: list[Service], servers: Servers, probe: Probe, *, kill_every: float,
                 duration: float, seed: int, restart_servers: bool, recovery_deadline: float = 300.0) -> None:
        self.services, self.servers, self.probe = services, servers, probe
        self.kill_every, self.duration, self.rng = kill_every, duration, random.Random(seed + 3)
        self.restart_servers, self.recovery_deadline = restart_servers, recovery_deadline
        self.faults: list[FaultRecord] = []
        self.watchers: list[threading.Thread] = []
        self.started = time.monotonic()

    def run(self, stop: threading.Event) -> None:
        plan: list[tuple[float, str]] = []
        t = self.kill_every
        while t < self.duration - 5:
            plan.append((t, "kill"))
            t += self.kill_every
        if self.restart_servers:
            plan += [(self.duration * 0.35 + self.kill_every / 2, "kafka"),
                     (self.duration * 0.65 + self.kill_every / 2, "postgresql")]
        for at, what in sorted(plan):
            if stop.wait(max(0.0, self.started + at - time.monotonic())):
                return
            if what == "kill":
                self._kill(self.rng.choice(self.services))
            elif what == "kafka":
                self._server("kafka", self.servers.stop_kafka, self.servers.start_kafka)
            else:
                self._server("postgresql", self.servers.stop_pg, self.servers.start_pg)

    def _mark(self) -> dict[str, Any] | None:
        for _ in range(20):
            mark = self.probe.mark()
            if mark is not None:
                return mark
            time.sleep(0.5)
        return None

    def _kill(self, service: Service) -> None:
        mark = self._mark()
        record = FaultRecord("kill -9", service.name, time.monotonic())
        service.kill9()
        say(f"panne : kill -9 {service.name} (pid {service.pid})")
        service.restarts += 1
        service.start()
        self._watch(record, mark, {service.kind}, [service])

    def _server(self, name: str, stop: Any, start: Any) -> None:
        mark = self._mark()
        record = FaultRecord("restart", name, time.monotonic())
        say(f"panne : redémarrage de {name}")
        try:
            stop()
        finally:
            start()
        say(f"{name} redémarré en {time.monotonic() - record.at:.0f} s")
        self._watch(record, mark, {"relay", *CONSUMER_KINDS}, [s for s in self.services if s.kind == "gateway"])

    def _watch(self, record: FaultRecord, mark: dict[str, Any] | None, kinds: set[str],
               must_answer: list[Service]) -> None:
        self.faults.append(record)

        def watch() -> None:
            deadline = record.at + self.recovery_deadline
            while time.monotonic() < deadline:
                if all(s.up() for s in must_answer) and mark is not None and self.probe.caught_up(kinds, mark):
                    record.recovered_at = time.monotonic()
                    return
                time.sleep(0.5)
            say(f"{record.target} : pas rétabli en {self.recovery_deadline:.0f} s")

        thread = threading.Thread(target=watch, daemon=True, name=f"recovery-{record.target}")
        thread.start()
        self.watchers.append(thread)


# --------------------------------------------------------------------------- what the store and read models say
def observe_store(app: Any) -> tuple[dict[str, list[int]], list[Processed], dict[str, list[Any]]]:
    """One pass over the notification log: pathway event versions, CommandProcessed records,
    and each pathway's domain events (for the replay of the rules)."""
    from services.bootstrap import is_pathway_event

    versions: dict[str, list[int]] = defaultdict(list)
    events: dict[str, list[Any]] = defaultdict(list)
    processed: list[Processed] = []
    start = 1
    while True:
        batch = app.recorder.select_notifications(start, 2000)
        if not batch:
            break
        for n in batch:
            if is_pathway_event(n.topic):
                pid = str(n.originator_id)
                versions[pid].append(n.originator_version)
                events[pid].append(app.mapper.to_domain_event(n))
            elif n.topic.endswith("CommandProcessed"):
                e = app.mapper.to_domain_event(n)
                processed.append(Processed(str(e.command_id), str(e.pathway_id), e.command_type, bool(e.accepted),
                                           e.pathway_version, int(e.new_events or 0)))
        start = batch[-1].id + 1
    return dict(versions), processed, dict(events)


def replay_alerts(events: dict[str, list[Any]], engine: Any, now: datetime
                  ) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str, str]], list[str]]:
    """The rules replayed over each pathway's stored events at `now`: the (pathway, rule,
    subject) that should be open (found and not resolved by hand since), the open alerts of
    the catalogue's rules, and every alert id raised."""
    from eventsourcing.application import project_aggregate

    from domain.rules import RULES, evaluate

    expected, open_alerts, raised = [], [], []
    for pid, evs in events.items():
        pathway = project_aggregate(None, evs)
        raised += [str(e.alert_id) for e in evs if type(e).__name__ == "AlertRaised"]
        open_alerts += [(pid, a.rule_id, a.subject, str(a.alert_id)) for a in pathway.open_alerts
                        if a.rule_id in RULES]
        if pathway.is_closed:
            continue
        seen = set()
        for finding in evaluate(pathway, now, engine.settings_for(pathway.territory)):
            if finding.key in seen:
                continue
            seen.add(finding.key)
            earlier = [a for a in pathway.alerts.values() if (a.rule_id, a.subject) == finding.key]
            if not engine._resolved_by_hand_since(evs, earlier, finding):
                expected.append((pid, finding.rule_id, finding.subject))
    return expected, open_alerts, raised


def observe_read_models(database_url: str) -> tuple[dict[str, dict[str, int]], dict[str, int], list[str]]:
    import psycopg

    from projections.registry import PROJECTIONS

    with psycopg.connect(database_url, autocommit=True) as conn:
        applied = {name: dict(conn.execute(f"SELECT pathway_id, seq FROM {name}_applied").fetchall())
                   for name in PROJECTIONS}
        timeline = dict(conn.execute("SELECT pathway_id, count(*) FROM timeline GROUP BY pathway_id").fetchall())
        alerts = [r[0] for r in conn.execute("SELECT alert_id FROM alerts").fetchall()]
    return applied, timeline, alerts


def read_topic(bootstrap: str, topic: str) -> list[Any]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             max_poll_records=5000)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        end = consumer.end_offsets(tps)
        out: list[Any] = []
        deadline = time.monotonic() + 120
        while any(consumer.position(tp) < end[tp] for tp in tps) and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                out.extend(records)
        return out
    finally:
        consumer.close()


def _header(record: Any, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return value.decode() if isinstance(value, bytes) else str(value)
    return None


# --------------------------------------------------------------------------- the run
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/soak.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n\n".join(__doc__.split("\n\n")[2:]))
    p.add_argument("--duration", type=float, default=600.0, help="seconds of load (default 600)")
    p.add_argument("--kill-every", type=float, default=25.0, help="seconds between two kill -9 (default 25)")
    p.add_argument("--no-server-restarts", action="store_true", help="do not restart Kafka and PostgreSQL")
    p.add_argument("--rate", type=float, default=15.0, help="territory commands per second (default 15)")
    p.add_argument("--senders", type=int, default=4, help="threads sending territory commands (default 4)")
    p.add_argument("--replicas", type=int, default=2, help="processes of each consumer kind (default 2)")
    p.add_argument("--seed", type=int, default=1, help="random seed of the load and the faults (default 1)")
    p.add_argument("--run-dir", type=Path, default=Path("/var/tmp/relais-soak"),
                   help="data, logs and pid files of the private servers (default /var/tmp/relais-soak)")
    p.add_argument("--pg-port", type=int, default=56432, help="private PostgreSQL port (default 56432)")
    p.add_argument("--kafka-port", type=int, default=60092, help="private Kafka port (default 60092; controller +1)")
    p.add_argument("--settle-timeout", type=float, default=300.0,
                   help="seconds to wait for every consumer to catch up after the load (default 300)")
    p.add_argument("--json", action="store_true", help="print the verdict as JSON on stdout")
    p.add_argument("--markdown", type=Path, default=None, metavar="FILE", help="also write the verdict as markdown")
    p.add_argument("--keep", action="store_true", help="leave the private servers running at the end")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from eventsourcing.cipher import AESCipher
    from pydantic import SecretStr

    from infra.agencies import load_registry
    from services.bootstrap import build_pathways_application, build_risk_engine
    from services.settings import Settings

    command = "bench/soak.py " + " ".join(argv if argv is not None else sys.argv[1:])
    run_dir = args.run_dir.resolve()
    servers = Servers(run_dir, args.pg_port, args.kafka_port, args.kafka_port + 1)
    servers.fresh()
    log_dir, state_dir = run_dir / "logs", run_dir / "state"
    log_dir.mkdir(parents=True, exist_ok=True)
    state_dir.mkdir(parents=True, exist_ok=True)
    key = AESCipher.create_key(num_bytes=32)
    settings = Settings(mode="distributed", environment="development", database_url=servers.database_url,
                        kafka_bootstrap=servers.bootstrap, topic_prefix=PREFIX, cipher_key=SecretStr(key),
                        state_dir=state_dir)
    agencies = load_registry(settings.agencies_file)
    gateway_port = free_port()
    gateway = Gateway(f"http://127.0.0.1:{gateway_port}/graphql", settings, agencies)
    gateway.token("pass", "assistante_sociale", "pass-as-soak")  # the development key pair, before serve reads it
    services = build_services(servers, key, state_dir, log_dir, args.replicas, gateway_port)
    app = build_pathways_application(settings)
    probe = Probe(settings, app)
    stop_load, stop_faults = threading.Event(), threading.Event()
    try:
        for s in services:
            s.start()
        deadline = time.monotonic() + 180
        while not all(s.up() for s in services):
            dead = [s.name for s in services if not s.alive()]
            if dead or time.monotonic() > deadline:
                raise RuntimeError(f"services pas démarrés : {dead or [s.name for s in services if not s.up()]} "
                                   f"(journaux dans {log_dir})")
            time.sleep(0.5)
        say(f"{len(services)} processus démarrés ; charge pendant {args.duration:.0f} s, "
            f"kill -9 toutes les {args.kill_every:.0f} s")
        load = Load(gateway, servers.bootstrap, args.rate, args.senders, args.seed, stop_load)
        injector = Injector(services, servers, probe, kill_every=args.kill_every, duration=args.duration,
                            seed=args.seed, restart_servers=not args.no_server_restarts)
        threads = load.threads()
        began = time.monotonic()
        for t in threads:
            t.start()
        memory_at: dict[str, int | None] = {}
        fault_thread = threading.Thread(target=injector.run, args=(stop_faults,), daemon=True)
        fault_thread.start()
        injector.started = began
        while time.monotonic() - began < args.duration:
            time.sleep(min(15.0, max(0.1, args.duration - (time.monotonic() - began))))
            if not memory_at and time.monotonic() - began > min(30.0, args.duration / 4):
                memory_at = {s.name: rss_kb(s.pid) for s in services}
                memory_at["kafka"] = rss_kb(servers.kafka_pid())
            with load.lock:
                accepted = sum(1 for s in load.sent if s.outcome == "accepted")
                sent = len(load.sent)
            say(f"{time.monotonic() - began:4.0f}/{args.duration:.0f} s : {sent} commandes ({accepted} acceptées), "
                f"{len(load.inbound)} messages partenaires, {load.queries_ok} requêtes, "
                f"{len(injector.faults)} pannes")
        stop_faults.set()
        stop_load.set()
        fault_thread.join(timeout=600)
        for t in threads:
            t.join(timeout=args.settle_timeout)
        duration = time.monotonic() - began
        say("charge arrêtée ; attente que chaque consommateur ait tout appliqué")
        for s in services:
            if not s.alive():
                s.restarts += 1
                s.start()
        settle_began = time.monotonic()
        settle_s = None
        while time.monotonic() - settle_began < args.settle_timeout:
            mark = probe.mark()
            if mark is not None and probe.caught_up({"relay", *CONSUMER_KINDS}, mark):
                time.sleep(3)
                again = probe.mark()
                if again == mark and probe.caught_up({"relay", *CONSUMER_KINDS}, again):
                    settle_s = time.monotonic() - settle_began
                    break
            time.sleep(1)
        for w in injector.watchers:
            w.join(timeout=max(1.0, args.settle_timeout - (time.monotonic() - settle_began)))
        # The risk engine's clock loop sweeps every 5 s: let it see the last deadlines crossed.
        time.sleep(12)
        memory = [Memory(s.name, memory_at.get(s.name), rss_kb(s.pid), s.restarts) for s in services]
        memory.append(Memory("kafka", memory_at.get("kafka"), rss_kb(servers.kafka_pid()), 1))
        say("verdict : relecture du journal, des modèles de lecture et des topics")
        now = datetime.now(UTC)
        versions, processed, events = observe_store(app)
        engine = build_risk_engine(settings, None, None, agencies=agencies)  # type: ignore[arg-type]
        expected, open_alerts, raised = replay_alerts(events, engine, now)
        applied, timeline, alert_rows = observe_read_models(servers.database_url)
        ends = probe.end_offsets() or {}
        alert_records = read_topic(servers.bootstrap, f"{PREFIX}.alerts")
        dead = {(_header(r, "ce_id") or ""): (_header(r, "dlq_reason") or "?")
                for r in read_topic(servers.bootstrap, f"{PREFIX}.deadletter")}
        observed = Observed(
            sent=load.sent, inbound=load.inbound, processed=processed, store_versions=versions, applied=applied,
            timeline_rows=timeline, alerts_in_store=raised, alerts_in_read_model=alert_rows,
            expected_alerts=expected, open_alerts=open_alerts,
            alerts_topic_raised=[_header(r, "ce_alertid") or "" for r in alert_records
                                 if (_header(r, "ce_type") or "").startswith("fr.relais.alert.raised")],
            alerts_topic_ce_ids=[_header(r, "ce_id") or "" for r in alert_records],
            deadlettered=dead,
            faults=[Fault(f.kind, f.target, f.at - began,
                          None if f.recovered_at is None else f.recovered_at - f.at) for f in injector.faults],
            memory=memory, queries_ok=load.queries_ok, queries_failed=load.queries_failed,
            duration_s=duration, settle_s=settle_s,
            pathway_topic_records=sum(o for (t, _), o in ends.items() if t == f"{PREFIX}.pathway-events"),
        )
        verdict = decide(observed)
        text = markdown(observed, verdict, command)
        if args.markdown is not None:
            args.markdown.write_text(text)
        if args.json:
            print(json.dumps({**verdict.as_dict(), "faults": [f.__dict__ for f in observed.faults],
                              "memory": [m.__dict__ for m in memory]}, indent=2, default=str))
        else:
            print(text)
        return 0 if verdict.ok else 1
    finally:
        stop_faults.set()
        stop_load.set()
        for s in services:
            s.stop()
        if not args.keep:
            servers.stop()


if __name__ == "__main__":
    sys.exit(main())
