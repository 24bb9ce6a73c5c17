"""A partner's FHIR Task answering a referral, through the real broker and PostgreSQL: applied as
the referral's status or outcome under the checks of every inbound message; the bad ones land
in the dead-letter topic with a precise reason."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition

from infra.kafka.cloudevents import CloudEvent
from infra.kafka.consumer import ConsumerRunner, RunnerConfig
from infra.kafka.deadletter import dlq_info
from infra.kafka.producer import EventProducer
from services.bootstrap import build_pathways_application
from services.fhir.referrals import SYSTEM_NOT_WENT, SYSTEM_PATHWAY, SYSTEM_REFERRAL
from services.ingest.handler import IngestHandler
from services.pathways import PathwaysHandler
from services.settings import Settings

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
PASS = {"agency": "pass", "professional": "ide-017", "role": "infirmier"}  # orients to a GP: medical facts
TEST_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # synthetic, tests only
CSAPA_DOCTOR = {"actorprofessional": "dr-csapa-3", "actorrole": "medecin"}
PASS_NURSE = {"actorprofessional": "ide-pass-1", "actorrole": "infirmier"}
PASS_SOCIAL_WORKER = {"actorprofessional": "as-017", "actorrole": "assistante_sociale"}


@pytest.fixture
def world(pg_url: str, pg_schema: str, kafka_bootstrap: str, kafka_admin: Any):
    settings = Settings(mode="distributed", database_url=pg_url, database_schema=pg_schema, cipher_key=TEST_KEY)
    pathways = PathwaysHandler(build_pathways_application(settings))
    prefix = f"t{uuid.uuid4().hex[:10]}"
    topics = {"csapa": f"{prefix}.inbound.csapa", "pass": f"{prefix}.inbound.pass"}
    dlq = f"{prefix}.deadletter"
    kafka_admin.create_topics({**{t: {"num_partitions": 2, "replication_factor": 1} for t in topics.values()},
                               dlq: {"num_partitions": 1, "replication_factor": 1}}, wait_for_metadata=True)
    producer = EventProducer(kafka_bootstrap, client_id="partner-fhir")
    runner = ConsumerRunner(
        IngestHandler(pathways, topic_prefix=prefix),
        RunnerConfig(group_id=f"ingest-{prefix}", topics=list(topics.values()), bootstrap_servers=kafka_bootstrap,
                     schema=pg_schema, deadletter_topic=dlq, on_duplicate="skip",
                     session_timeout_ms=6000, heartbeat_interval_ms=500),
        conninfo=pg_url,
    )
    yield pathways, producer, runner, topics, dlq, kafka_bootstrap
    runner.close()
    producer.close()
    kafka_admin.delete_topics([*topics.values(), dlq], raise_errors=False)


def cmd(pathways: PathwaysHandler, name: str, pathway_id: uuid.UUID, **fields: Any) -> None:
    result = pathways.handle_payload(name, {"command_id": str(uuid.uuid4()), "pathway_id": str(pathway_id),
                                            "actor": PASS, "occurred_at": NOW.isoformat(), **fields})
    assert result.accepted, result.rejection


def pathway_with_referrals(pathways: PathwaysHandler) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """A PASS → GP pathway with a referral to the CSAPA and a GP orientation."""
    pathway_id, referral_id, orientation_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    cmd(pathways, "OpenPassGpPathway", pathway_id, person_ref="P-7f3a", territory="76", lead_agency="pass")
    cmd(pathways, "AddAgency", pathway_id, agency="csapa", role="addiction_care")
    cmd(pathways, "MakeReferral", pathway_id, referral_id=str(referral_id), to_agency="csapa", service="addictologie")
    cmd(pathways, "OpenCoverage", pathway_id, scheme="ame", opened_on="2026-03-02", expires_on=None)
    cmd(pathways, "OrientToGp", pathway_id, orientation_id=str(orientation_id), gp_ref="MG-012", gp_commune="Rouen")
    return pathway_id, referral_id, orientation_id


def fhir_task(referral_id: uuid.UUID, status: str, *, reason: dict[str, Any] | None = None, hours: float = 1,
              pathway_id: uuid.UUID | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Task", "status": status, "intent": "order",
        "identifier": [{"system": SYSTEM_REFERRAL, "value": str(referral_id)}],
        "focus": {"reference": f"ServiceRequest/{referral_id}"},
        "lastModified": (NOW + timedelta(hours=hours)).isoformat(),
    }
    if reason is not None:
        body["statusReason"] = reason
    if pathway_id is not None:
        body["for"] = {"identifier": {"system": SYSTEM_PATHWAY, "value": str(pathway_id)}}
    return body


def message(pathway_id: uuid.UUID, data: Any, actor: dict[str, str] | None) -> CloudEvent:
    return CloudEvent(id=str(uuid.uuid4()), source="/partner/fhir", type="fr.relais.inbound.FhirTask.v1",
                      subject=str(pathway_id), partitionkey=str(pathway_id), time=NOW, data=data,
                      extensions=dict(actor or {}))


def drain(runner: ConsumerRunner, expected_polled: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while runner.totals.polled < expected_polled:
        assert time.monotonic() < deadline, f"only {runner.totals.polled}/{expected_polled} records seen"
        runner.run_once(timeout_ms=200)


def dead_letter_reasons(bootstrap: str, topic: str, expected: int) -> list[str]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    records: list[Any] = []
    deadline = time.monotonic() + 30
    while len(records) < expected and time.monotonic() < deadline:
        for batch in consumer.poll(timeout_ms=300).values():
            records.extend(batch)
    consumer.close()
    return [dlq_info(r.headers)["dlq_reason"] for r in records]


def test_partner_fhir_tasks_answer_a_referral_and_a_gp_orientation(world) -> None:
    pathways, producer, runner, topics, _dlq, _ = world
    pathway_id, referral_id, orientation_id = pathway_with_referrals(pathways)
    producer.send_all(topics["csapa"], [
        message(pathway_id, fhir_task(referral_id, "accepted", hours=1, pathway_id=pathway_id), CSAPA_DOCTOR),
        message(pathway_id, fhir_task(referral_id, "completed", hours=30), CSAPA_DOCTOR),
    ])
    producer.send_all(topics["pass"], [message(pathway_id, fhir_task(
        orientation_id, "failed", hours=48,
        reason={"coding": [{"system": SYSTEM_NOT_WENT, "code": "phone_changed"}]}), PASS_NURSE)])
    drain(runner, 3)
    assert runner.totals.applied == 3 and runner.totals.deadlettered == 0
    pathway = pathways.app.get_pathway(pathway_id)
    referral = pathway.referrals[referral_id]
    assert (referral.status.value, referral.outcome.value) == ("completed", "honoured")
    assert referral.outcome_at == NOW + timedelta(hours=30)  # Task.lastModified, not the arrival time
    orientation = pathway.orientations[orientation_id]
    assert (orientation.outcome.value, orientation.not_went_reason.value) == ("did_not_go", "phone_changed")
    assert pathway.referrals[orientation_id].status.value == "failed"
    assert pathway.last_actor.agency == "pass" and pathway.last_actor.professional == "ide-pass-1"


def test_bad_fhir_tasks_are_dead_lettered_with_a_precise_reason_and_good_ones_around_them_apply(world) -> None:
    pathways, producer, runner, topics, dlq, bootstrap = world
    pathway_id, referral_id, orientation_id = pathway_with_referrals(pathways)
    other_pathway, others_referral, _ = pathway_with_referrals(pathways)
    bad = [
        (message(pathway_id, fhir_task(referral_id, "entered-in-error"), CSAPA_DOCTOR),
         "'entered-in-error' is not a FHIR Task status"),
        (message(pathway_id, fhir_task(others_referral, "accepted"), CSAPA_DOCTOR),
         f"referral {others_referral} is not a referral of pathway {pathway_id}"),
        (message(pathway_id, {"referral": str(referral_id), "status": "accepted"}, CSAPA_DOCTOR),
         "a FHIR Task is expected"),
        (message(pathway_id, {"resourceType": "Task", "status": "accepted", "intent": "order", "focus": "x"},
                 CSAPA_DOCTOR), "not a valid FHIR Task: focus"),
        (message(pathway_id, fhir_task(referral_id, "accepted", pathway_id=other_pathway), CSAPA_DOCTOR),
         "Task.for: pathway"),
        (message(pathway_id, fhir_task(referral_id, "accepted"), None), "ce_actorprofessional"),
        (message(pathway_id, fhir_task(referral_id, "rejected"), CSAPA_DOCTOR), "reason"),  # rejected needs why
    ]
    pass_bad = [  # a social worker may not record a GP visit outcome (medical)
        (message(pathway_id, fhir_task(orientation_id, "completed"), PASS_SOCIAL_WORKER),
         "RecordGpVisitOutcome refused: actor.role: Votre rôle ne permet pas d'enregistrer des informations de catégorie « medical »"),
    ]
    producer.send_all(topics["csapa"], [m for m, _ in bad] + [message(pathway_id, fhir_task(referral_id, "in-progress"),
                                                                      CSAPA_DOCTOR)])
    producer.send_all(topics["pass"], [m for m, _ in pass_bad])
    drain(runner, len(bad) + len(pass_bad) + 1)
    assert runner.totals.applied == 1
    assert pathways.app.get_pathway(pathway_id).referrals[referral_id].status.value == "in-progress"
    assert pathways.app.get_pathway(pathway_id).orientations[orientation_id].outcome is None
    reasons = dead_letter_reasons(bootstrap, dlq, expected=len(bad) + len(pass_bad))
    assert len(reasons) == len(bad) + len(pass_bad), reasons
    for _message, expected in bad + pass_bad:
        assert any(expected in reason for reason in reasons), f"no reason says {expected!r}:\n" + "\n".join(reasons)
