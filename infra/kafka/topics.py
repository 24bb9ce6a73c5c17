"""Kafka topic definitions (infra/kafka/topics.toml) and the command that applies them.

    python -m infra.kafka.topics apply      create missing topics, align configs and partitions
    python -m infra.kafka.topics list       print the topics the file defines
    python -m infra.kafka.topics ping       exit 0 when the broker answers a metadata request
    python -m infra.kafka.topics wait       wait until the broker answers (used by up.sh)

`--bootstrap` defaults to RELAIS_KAFKA_BOOTSTRAP, `--prefix` to RELAIS_TOPIC_PREFIX (both from
services.settings). Nothing connects at import.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TOPICS_FILE = Path(__file__).with_name("topics.toml")


@dataclass(frozen=True)
class TopicSpec:
    """One topic as the file defines it (full name, prefix included)."""

    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str] = field(default_factory=dict)


def group_id(prefix: str, name: str) -> str:
    """The consumer group `name` of the deployment whose topics start with `prefix`:
    `group_id("relais", "risk") == "relais-risk"`. Every consumer group of Relais is named
    here (ingest, risk, alerting, each projection version, the checksum projection), so two
    deployments sharing a cluster (prefixes `prod`, `recette`) never share a group and never
    take each other's partitions."""
    return f"{prefix}-{name}"


def load_topics(path: Path = TOPICS_FILE, prefix: str = "relais") -> list[TopicSpec]:
    """Read the topic definitions; names come back as `<prefix>.<name>`."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    replication = int(data.get("defaults", {}).get("replication_factor", 1))

    def spec(name: str, body: dict[str, Any]) -> TopicSpec:
        config = {str(k): str(v) for k, v in body.get("config", {}).items()}
        return TopicSpec(
            name=f"{prefix}.{name}" if prefix else name,
            partitions=int(body["partitions"]),
            replication_factor=int(body.get("replication_factor", replication)),
            config=config,
        )

    specs = [spec(name, body) for name, body in data.get("topics", {}).items()]
    inbound = data.get("inbound")
    if inbound:
        specs += [spec(f"inbound.{agency}", inbound) for agency in inbound["agencies"]]
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"{path}: topics defined twice: {', '.join(duplicates)}")
    return specs


def admin_client(bootstrap: str, timeout_ms: int = 10_000):
    """A KafkaAdminClient that gives up after `timeout_ms` when nothing answers."""
    from kafka.admin import KafkaAdminClient

    return KafkaAdminClient(
        bootstrap_servers=bootstrap.split(","),
        client_id="relais-topics",
        bootstrap_timeout_ms=timeout_ms,
        request_timeout_ms=max(timeout_ms, 5_000),
    )


def ping(bootstrap: str, timeout_ms: int = 3_000) -> dict[str, Any]:
    """Ask the cluster for its metadata; returns describe_cluster() or raises."""
    admin = admin_client(bootstrap, timeout_ms)
    try:
        return admin.describe_cluster()
    finally:
        admin.close()


def _current_configs(admin, names: Sequence[str]) -> dict[str, dict[str, tuple[str, bool]]]:
    """{topic: {key: (value, set on the topic itself?)}} for every non-default config."""
    from kafka.admin import ConfigResource, ConfigResourceType

    if not names:
        return {}
    described = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name) for name in names], config_filter="modified"
    )
    topics = described.get("topic", {})
    return {
        name: {
            k: (str(v.get("value")), str(v.get("config_source", "")).endswith("DYNAMIC_TOPIC_CONFIG"))
            for k, v in topics.get(name, {}).items()
        }
        for name in names
    }


def apply(bootstrap: str, specs: Sequence[TopicSpec], out=print) -> dict[str, str]:
    """Bring the broker in line with `specs`. Idempotent. Returns {topic: what was done}."""
    from kafka.admin import AlterConfigOp, ConfigResource, ConfigResourceType

    done: dict[str, str] = {}
    admin = admin_client(bootstrap)
    try:
        existing = {t["name"]: t for t in admin.describe_topics() if not t.get("error_code")}
        missing = [s for s in specs if s.name not in existing]
        if missing:
            admin.create_topics(
                {
                    s.name: {
                        "num_partitions": s.partitions,
                        "replication_factor": s.replication_factor,
                        "configs": s.config,
                    }
                    for s in missing
                },
                wait_for_metadata=True,
            )
            for s in missing:
                done[s.name] = f"créé ({s.partitions} partitions)"
        present = [s for s in specs if s.name in existing]
        current = _current_configs(admin, [s.name for s in present])
        changes = []
        for s in present:
            what = []
            have = len(existing[s.name].get("partitions") or [])
            if have < s.partitions:
                admin.create_partitions({s.name: s.partitions})
                what.append(f"partitions {have} -> {s.partitions}")
            elif have > s.partitions:
                what.append(f"garde {have} partitions (Kafka ne sait pas en retirer ; fichier : {s.partitions})")
            have_config = current.get(s.name, {})
            diff = {k: v for k, v in s.config.items() if have_config.get(k, (None,))[0] != v}
            # Set on the topic by hand or by an older version of the file: back to the default.
            extra = sorted(k for k, (_, on_topic) in have_config.items() if on_topic and k not in s.config)
            if diff or extra:
                ops = {k: (AlterConfigOp.SET, v) for k, v in diff.items()}
                ops.update({k: (AlterConfigOp.DELETE, None) for k in extra})
                changes.append(ConfigResource(ConfigResourceType.TOPIC, s.name, ops))
                what.append("config " + ", ".join([f"{k}={v}" for k, v in sorted(diff.items())]
                                                  + [f"{k} (défaut)" for k in extra]))
            done[s.name] = "; ".join(what) if what else "à jour"
        if changes:
            admin.alter_configs(changes, raise_on_unknown=False, incremental=True)
    finally:
        admin.close()
    created = sum(1 for v in done.values() if v.startswith("créé"))
    changed = sum(1 for v in done.values() if not v.startswith("créé") and v != "à jour")
    for name, what in done.items():
        if what != "à jour":
            out(f"[relais] topic {name} : {what}")
    out(f"[relais] Kafka : {len(specs)} topics définis, {created} créés, {changed} modifiés, "
        f"{len(specs) - created - changed} déjà à jour")
    return done


def wait(bootstrap: str, timeout_s: float, pid: int | None = None) -> str | None:
    """Poll until the broker answers. Returns None when it does, else the reason it gave up."""
    deadline = time.monotonic() + timeout_s
    last = "pas de réponse"
    while time.monotonic() < deadline:
        if pid is not None and not _alive(pid):
            return f"le processus Kafka {pid} s'est arrêté"
        try:
            ping(bootstrap, timeout_ms=2_000)
            return None
        except Exception as exc:  # noqa: BLE001 - any failure means "not yet"
            last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.5)
    return f"pas de réponse après {timeout_s:.0f} s ({last})"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) still answers kill(0).
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def main(argv: Sequence[str] | None = None) -> int:
    from services.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m infra.kafka.topics", description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", help="Kafka bootstrap servers (default RELAIS_KAFKA_BOOTSTRAP)")
    parser.add_argument("--prefix", help="topic name prefix (default RELAIS_TOPIC_PREFIX)")
    parser.add_argument("--file", type=Path, default=TOPICS_FILE, help="topic definitions (TOML)")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("apply", help="create missing topics, align configs and partitions")
    sub.add_parser("list", help="print the topics the file defines")
    sub.add_parser("ping", help="exit 0 when the broker answers")
    w = sub.add_parser("wait", help="wait until the broker answers")
    w.add_argument("--timeout", type=float, default=60.0)
    w.add_argument("--pid", type=int, help="give up early when this process exits")
    args = parser.parse_args(argv)

    # kafka-python logs every failed connection attempt; the commands below say what matters.
    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    settings = Settings()
    bootstrap = args.bootstrap or settings.kafka_bootstrap
    prefix = settings.topic_prefix if args.prefix is None else args.prefix

    if args.command == "list":
        for s in load_topics(args.file, prefix):
            config = " ".join(f"{k}={v}" for k, v in sorted(s.config.items()))
            print(f"{s.name}\tpartitions={s.partitions}\treplication={s.replication_factor}\t{config}")
        return 0
    if args.command == "ping":
        try:
            ping(bootstrap)
        except Exception as exc:  # noqa: BLE001
            print(f"[relais] ERREUR : Kafka ne répond pas sur {bootstrap} ({type(exc).__name__}) : "
                  "lancez infra/scripts/up.sh ou corrigez RELAIS_KAFKA_BOOTSTRAP.", file=sys.stderr)
            return 1
        return 0
    if args.command == "wait":
        reason = wait(bootstrap, args.timeout, args.pid)
        if reason:
            print(f"[relais] ERREUR : Kafka ne répond pas sur {bootstrap} : {reason}.", file=sys.stderr)
            return 1
        return 0
    try:
        specs = load_topics(args.file, prefix)
    except (OSError, ValueError, KeyError, tomllib.TOMLDecodeError) as exc:
        print(f"[relais] ERREUR : définitions de topics illisibles ({args.file}) : {exc}", file=sys.stderr)
        return 1
    try:
        apply(bootstrap, specs)
    except Exception as exc:  # noqa: BLE001 - one line, not a traceback
        print(f"[relais] ERREUR : application des topics sur {bootstrap} impossible "
              f"({type(exc).__name__}: {exc}) : vérifiez que Kafka tourne (infra/scripts/up.sh).", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
