"""infra/kafka/topics.toml, read without a broker (`python -m infra.kafka.topics list`)."""

from __future__ import annotations

import subprocess
import sys

from infra.kafka.topics import load_topics

AGENCIES = ["pass", "siao", "dac", "cpam", "association", "spip", "usmp", "maternite", "pmi", "sas", "mg"]


def test_the_topic_file_defines_the_relais_topics_and_one_inbound_topic_per_agency():
    names = {t.name for t in load_topics()}
    assert {"relais.pathway-events", "relais.deadletter", "relais.alerts", "relais.directory-events"} <= names
    assert {f"relais.inbound.{a}" for a in AGENCIES} <= names
    assert len(names) == 4 + len(AGENCIES)


def test_the_directory_event_stream_is_kept_forever_like_the_pathway_events():
    (events,) = [t for t in load_topics() if t.name == "relais.directory-events"]
    assert events.config["retention.ms"] == "-1" and events.config["cleanup.policy"] == "delete"


def test_the_pathway_event_stream_is_kept_forever_and_never_compacted():
    (events,) = [t for t in load_topics() if t.name == "relais.pathway-events"]
    assert events.config["cleanup.policy"] == "delete"
    assert events.config["retention.ms"] == "-1"
    assert events.partitions >= 3


def test_the_prefix_setting_renames_every_topic():
    assert all(t.name.startswith("acme.") for t in load_topics(prefix="acme"))


def test_topics_list_prints_one_line_per_topic():
    run = subprocess.run([sys.executable, "-m", "infra.kafka.topics", "list"], capture_output=True, text=True,
                         timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    assert len(run.stdout.splitlines()) == 4 + len(AGENCIES)
    assert "relais.inbound.maternite\tpartitions=3" in run.stdout
