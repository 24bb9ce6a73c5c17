"""What a partner system may publish on `relais.inbound.<agency>`, and how it becomes a command.

A message is a CloudEvent (Kafka binding, binary mode):
- `ce_type` = `fr.relais.inbound.<Command>.v1`, e.g. `fr.relais.inbound.ConfirmHousing.v1`
  (the SIAO confirms a housing place), `...OpenCoverage.v1` (the CPAM opens AME),
  `...UpdateReferralStatus.v1` (a GP accepts or declines a referral);
- `ce_subject` = `ce_partitionkey` = record key = the pathway id;
- `ce_id` = the partner's own message id: the command id is derived from it, so a message
  delivered twice is applied once;
- the JSON body = the command's fields (see docs/inbound/), without `command_id`, with an
  `actor` naming the professional and role; the agency is the topic's, never the body's;
- or, `ce_type` = `fr.relais.inbound.FhirTask.v1`: the body is an HL7 FHIR `Task` answering a
  referral (Gravity SDOH closed loop; services/fhir/referrals.py says which command it is) and
  the professional and role are the CloudEvents extensions `ce_actorprofessional` and
  `ce_actorrole` (FHIR has no place for Relais's roles).

Every message passes the same checks as a GraphQL mutation: the agency is the topic's, and the
pathways handler applies the write policy (`domain.writepolicy.check_write`: membership, input
bounds, which agency, which role) to it as to any command.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from pydantic import BaseModel

from domain import disclosure
from domain.errors import NotInCatalogue
from domain.values import SYSTEM_AGENCY
from domain.writepolicy import WRITE_POLICY, Writer
from services.directory.commands import OWNER_COMMANDS
from services.pathways.commands import COMMANDS

TYPE_PREFIX = "fr.relais.inbound."
TYPE_VERSION = "v1"
INBOUND_ID_NAMESPACE = UUID("0d4f2f8a-5d43-4a8e-b7a2-8f0f0e3c9b11")

#: Commands only the risk engine sends (the write policy's): no partner message is one.
RESERVED_FOR_RELAIS = frozenset(name for name, rule in WRITE_POLICY.items() if rule.writer is Writer.ENGINE)
INBOUND_COMMANDS = {name: cls for name, cls in COMMANDS.items() if name not in RESERVED_FOR_RELAIS}
#: The directory's owner commands: an agency's own services, changed from its own topic
#: (`ce_subject` = the service id), with the same checks as the GraphQL mutations.
DIRECTORY_INBOUND = OWNER_COMMANDS
#: A partner's FHIR Task answering a referral: not a command of its own, it becomes one.
FHIR_TASK = "FhirTask"
#: CloudEvents extensions naming who sent a FHIR Task (its body has no Relais actor).
ACTOR_EXTENSIONS = {"professional": "actorprofessional", "role": "actorrole"}


class InboundRefused(ValueError):
    """The message cannot become a command; `reason` says precisely why, `code` is the code a
    GraphQL caller making the same mistake gets (docs/graphql/errors.md); both go to the DLQ."""

    def __init__(self, reason: str, code: str = "INVALID_VALUE") -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


def agency_of(topic: str, prefix: str = "relais") -> str:
    """`relais.inbound.siao` -> `siao`."""
    head = f"{prefix}.inbound."
    if not topic.startswith(head) or len(topic) == len(head):
        raise InboundRefused(f"topic {topic!r} is not an inbound agency topic ({head}<agency>)", code="BAD_REQUEST")
    agency = topic[len(head):]
    if agency == SYSTEM_AGENCY:  # the platform's own actor passes the write policy: never a partner
        raise InboundRefused(f"topic {topic!r}: {SYSTEM_AGENCY!r} is Relais itself, not an agency", code="FORBIDDEN")
    return agency


def command_name(ce_type: str) -> str:
    if not ce_type.startswith(TYPE_PREFIX):
        raise InboundRefused(f"ce_type {ce_type!r}: expected {TYPE_PREFIX}<Command>.{TYPE_VERSION}",
                             code="UNKNOWN_COMMAND")
    name, _, version = ce_type[len(TYPE_PREFIX):].rpartition(".")
    if version != TYPE_VERSION or not name:
        raise InboundRefused(f"ce_type {ce_type!r}: unknown version {version!r} (supported: {TYPE_VERSION})",
                             code="UNKNOWN_COMMAND")
    if name in RESERVED_FOR_RELAIS:
        raise InboundRefused(f"ce_type {ce_type!r}: {name} is reserved to Relais' risk engine", code="FORBIDDEN")
    if name == FHIR_TASK or name in DIRECTORY_INBOUND:
        return name
    if name not in INBOUND_COMMANDS:
        raise InboundRefused(f"ce_type {ce_type!r}: unknown message type {name!r}", code="UNKNOWN_COMMAND")
    try:
        disclosure.command_entry(name)  # a command the disclosure catalogue cannot categorise is not applied
    except NotInCatalogue as unknown:
        raise InboundRefused(f"ce_type {ce_type!r}: {unknown.reason}", code=unknown.code) from None
    return name


def command_id_for(agency: str, ce_id: str) -> UUID:
    return uuid5(INBOUND_ID_NAMESPACE, f"{agency}\x00{ce_id}")


def to_command_payload(*, agency: str, ce_id: str, subject: str | None, data: Any,
                       target: str = "pathway_id") -> dict[str, Any]:
    """The pathways service's payload for this message (validated there, with field names);
    `target` is the field `ce_subject` fills (`service_id` for a directory command)."""
    if not isinstance(data, dict):
        raise InboundRefused(f"body: a JSON object is expected, got {type(data).__name__}", code="MALFORMED_REQUEST")
    payload = dict(data)
    payload.pop("command_id", None)  # the partner's message id is the only idempotency key
    actor = payload.get("actor")
    if not isinstance(actor, dict):
        raise InboundRefused("actor: an object {professional, role} is expected", code="REQUIRED_FIELD")
    claimed = actor.get("agency")
    if claimed is not None and claimed != agency:
        raise InboundRefused(f"actor.agency: {claimed!r} may not publish on the {agency!r} topic", code="FORBIDDEN")
    payload["actor"] = {**actor, "agency": agency}
    target_id = payload.get(target)
    if target_id is None:
        payload[target] = subject
    elif subject is not None and str(target_id) != subject:
        raise InboundRefused(f"{target}: {target_id!r} differs from ce_subject {subject!r}")
    payload["command_id"] = str(command_id_for(agency, ce_id))
    return payload


def fhir_task_data(data: Any, *, subject: str | None, extensions: dict[str, str], time: datetime | None,
                   is_gp_orientation: Callable[[str, str], bool]) -> tuple[str, dict[str, Any]]:
    """The command and body a FHIR Task message means. `is_gp_orientation(pathway_id,
    referral_id)` tells a GP orientation from a referral, and refuses a referral the pathway
    does not have. `time`: the message's ce_time, when the Task has no lastModified."""
    # Imported here: the FHIR models load only in processes that receive a FHIR Task.
    from services.fhir.referrals import FhirRefused, command_for, parse_task, task_update

    missing = [ext for ext in ACTOR_EXTENSIONS.values() if not extensions.get(ext)]
    if missing:
        raise InboundRefused(f"ce_{missing[0]}: a FHIR Task names who answers in the extensions "
                             f"ce_{ACTOR_EXTENSIONS['professional']} and ce_{ACTOR_EXTENSIONS['role']}",
                             code="REQUIRED_FIELD")
    try:
        update = task_update(parse_task(data))
        if update.pathway_id is not None and subject is not None and update.pathway_id != subject:
            raise FhirRefused(f"Task.for: pathway {update.pathway_id!r} differs from ce_subject {subject!r}")
        pathway_id = subject or update.pathway_id
        if pathway_id is None:
            raise FhirRefused("Task.for or ce_subject: which pathway the Task is about is missing")
        name, fields = command_for(update, gp_orientation=is_gp_orientation(pathway_id, update.referral_id))
    except FhirRefused as refused:
        raise InboundRefused(refused.reason) from None
    at = update.at or time
    if at is None:
        raise InboundRefused("Task.lastModified: when the status changed is missing (nor is there a ce_time)",
                             code="REQUIRED_FIELD")
    actor = {field: extensions[ext] for field, ext in ACTOR_EXTENSIONS.items()}
    return name, {**{k: v for k, v in fields.items() if v is not None}, "actor": actor,
                  "occurred_at": at.isoformat(), "pathway_id": pathway_id}


class InboundActor(BaseModel):
    professional: str
    role: str


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of each inbound message body, from the command models."""
    schemas: dict[str, dict[str, Any]] = {}
    for name, cls in sorted(INBOUND_COMMANDS.items()):
        schema = cls.model_json_schema()
        props = schema.get("properties", {})
        props.pop("command_id", None)
        props["actor"] = InboundActor.model_json_schema()
        schema["required"] = [r for r in schema.get("required", []) if r not in {"command_id", "pathway_id"}]
        props.get("pathway_id", {}).setdefault("description", "Optional: defaults to ce_subject.")
        schema["title"] = f"{TYPE_PREFIX}{name}.{TYPE_VERSION}"
        schemas[name] = schema
    from services.directory.commands import DIRECTORY_COMMANDS

    for name in sorted(DIRECTORY_INBOUND):
        schema = DIRECTORY_COMMANDS[name].model_json_schema()
        props = schema.get("properties", {})
        props.pop("command_id", None)
        props["actor"] = InboundActor.model_json_schema()
        schema["required"] = [r for r in schema.get("required", []) if r not in {"command_id", "service_id"}]
        props.get("service_id", {}).setdefault("description", "Optional: defaults to ce_subject (the service id).")
        schema["title"] = f"{TYPE_PREFIX}{name}.{TYPE_VERSION}"
        schemas[name] = schema
    from services.fhir.referrals import inbound_task_schema

    schemas[FHIR_TASK] = {**inbound_task_schema(), "title": f"{TYPE_PREFIX}{FHIR_TASK}.{TYPE_VERSION}"}
    return dict(sorted(schemas.items()))
