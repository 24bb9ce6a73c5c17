"""Shared by the backbone benchmarks (bench_relay, bench_consumer, bench_latency).

- :func:`scratch`: a fresh PostgreSQL schema and fresh topics under a unique prefix on the
  development servers (or those RELAIS_DATABASE_URL / RELAIS_KAFKA_BOOTSTRAP name), dropped
  and deleted afterwards, with the Settings of a distributed-mode Relais on them;
- :func:`prefill`: pathway commands through PathwaysHandler into that event store;
- :func:`machine`: the line every benchmark prints about where it ran.
"""

from __future__ import annotations

import os
import platform
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import logging  # noqa: E402

import psycopg  # noqa: E402
from eventsourcing.cipher import AESCipher  # noqa: E402
from psycopg import sql  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from services.settings import Settings  # noqa: E402

logging.getLogger("kafka").setLevel(logging.CRITICAL)


@dataclass
class Scratch:
    settings: Settings
    cipher_key: str
    admin: object
    topics: list[str] = field(default_factory=list)

    @property
    def schema(self) -> str:
        return self.settings.database_schema

    @property
    def prefix(self) -> str:
        return self.settings.topic_prefix

    def topic(self, name: str, partitions: int = 6) -> str:
        """Create `<prefix>.<name>` (deleted at the end)."""
        full = f"{self.prefix}.{name}"
        self.admin.create_topics({full: {"num_partitions": partitions, "replication_factor": 1}},
                                 wait_for_metadata=True)
        self.topics.append(full)
        return full


@contextmanager
def scratch(*, partitions: int = 6) -> Iterator[Scratch]:
    from infra.kafka.topics import admin_client

    base = Settings()
    tag = uuid.uuid4().hex[:10]
    key = AESCipher.create_key(num_bytes=32)
    settings = Settings(mode="distributed", database_url=base.database_url, database_schema=f"bench_{tag}",
                        kafka_bootstrap=base.kafka_bootstrap, topic_prefix=f"bench{tag}", cipher_key=SecretStr(key))
    with psycopg.connect(settings.database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(settings.database_schema)))
    from infra.postgres.migrations import apply as apply_migrations

    apply_migrations(settings.database_url, settings.database_schema)
    admin = admin_client(settings.kafka_bootstrap, timeout_ms=10_000)
    s = Scratch(settings, key, admin)
    try:
        s.topic("pathway-events", partitions)
        s.topic("deadletter", 1)
        yield s
    finally:
        try:
            admin.delete_topics(s.topics, raise_errors=False)
            admin.close()
        finally:
            with psycopg.connect(settings.database_url, autocommit=True) as conn:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(settings.database_schema)))


def prefill(handler, pathways: int, per_pathway: int, *, per_save: int = 20) -> int:  # noqa: ANN001
    """`pathways * per_pathway` commands, `per_save` commands of one pathway per save
    (`handle_batch`); returns the number of pathway events written."""
    from bench.workload import workload

    per: dict[uuid.UUID, list] = defaultdict(list)
    for command in workload(pathways, per_pathway, seed=1):
        per[command.pathway_id].append(command)
    events = 0
    for commands in per.values():
        for i in range(0, len(commands), per_save):
            results = handler.handle_batch(commands[i:i + per_save])
            assert all(r.accepted for r in results), results
            events += sum(r.new_events for r in results)
    return events


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()
    s = Settings()
    return (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, load average "
            f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; PostgreSQL {s.database_url.rsplit('@', 1)[-1]} and Kafka "
            f"{s.kafka_bootstrap} on the same machine; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


def fmt_rate(n: int, seconds: float) -> str:
    return f"{n / seconds:,.0f}/s".replace(",", " ")
