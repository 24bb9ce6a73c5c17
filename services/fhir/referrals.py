"""Referrals as HL7 FHIR `Task` + `ServiceRequest`, the closed-loop referral pattern of the HL7
Gravity SDOH Clinical Care guide — both ways: the export of the read models' referrals, and a
partner's `Task` answering a referral, read back as the Relais command it means.

The one place this mapping is written. Built with the `fhir.resources` models (R4B package:
`Task`, `ServiceRequest`, `Reference`, `Bundle` are the R4 resources unchanged), so every
resource is checked as it is built; `fhir.resources` does not check a code against its value
set, so the statuses are checked here (:func:`referral_status`).

What Relais records, and what it becomes:

| Relais (read model `referrals`) | FHIR |
| --- | --- |
| a referral (`MakeReferral`) or a GP orientation of a PASS → GP pathway (`OrientToGp`) | one `ServiceRequest` (what is asked: `code.text` = the service, `category` = the information category of `domain.disclosure.referral_category`) and one `Task` (`code` = `fulfill`, `focus` → that ServiceRequest) — both with `identifier` = the referral (or orientation) id, system `urn:relais:referral` |
| its status, `UpdateReferralStatus` | `Task.status`, one to one (Relais's statuses are FHIR Task's: draft, requested, accepted, rejected, cancelled, in-progress, on-hold, failed, completed); the reason in `Task.statusReason.text` |
| `RecordReferralOutcome` honoured / not honoured (with why) | `completed` / `failed` (`statusReason.text` = why) |
| `RecordGpVisitOutcome` went / did not go (with the Médecins du Monde reason) | `completed` / `failed` with `statusReason.coding` = the reason code (system `urn:relais:gp-not-went-reason`: phone_changed, address_not_found, ...) |
| `RecordFollowUpCall` (the PASS calls the person to check the visit) | no status change (the GP has not answered): one `Task.output` per call, type `call_reached` / `call_unanswered` (system `urn:relais:referral-step`), `valueDateTime` = when |
| the pathway | `Task.for` / `ServiceRequest.subject`: a **pseudonymous** Patient reference — `identifier` system `urn:relais:pathway`, value the pathway id (a random UUID, the Kafka record key partners already use; never the person's reference) |
| the agency that referred | `Task.requester` / `ServiceRequest.requester`: Organization, identifier system `urn:relais:agency`, value the agency code |
| the agency referred to | `Task.owner` / `ServiceRequest.performer`: Organization by agency code; for a GP orientation the GP, a Practitioner (system `urn:relais:gp`, the directory's GP reference: a GP is a person, not an agency of Relais) |

`ServiceRequest.status` follows the Task: draft → draft; requested, accepted, in-progress →
active; on-hold → on-hold; completed → completed; rejected, cancelled, failed → revoked (a new
orientation is a new referral in Relais). Free text typed by professionals (a GP visit's
`detail`) is not exported; the status reasons are, as the guide asks.

Inbound (a partner's system answering on `relais.inbound.<agency>`, ce_type
`fr.relais.inbound.FhirTask.v1`, body = the FHIR Task; services.ingest applies it): the
referral is `Task.identifier` (system `urn:relais:referral`) or else `Task.focus`
(`ServiceRequest/<id>`); `Task.for`, when given, must name the message's pathway; `lastModified`
is when it happened. Completed / failed record the outcome (RecordReferralOutcome; for a GP
orientation RecordGpVisitOutcome, when failed with a coded reason), any other status is an
UpdateReferralStatus. The status and its reason come back as they went out: Relais → Task →
Relais is lossless.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from uuid import UUID, uuid5

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task
from pydantic import ValidationError

from domain.disclosure import referral_category
from domain.values import NotWentReason, ReferralStatus
from projections import queries

SYSTEM_REFERRAL = "urn:relais:referral"
SYSTEM_PATHWAY = "urn:relais:pathway"
SYSTEM_AGENCY = "urn:relais:agency"
SYSTEM_GP = "urn:relais:gp"
SYSTEM_NOT_WENT = "urn:relais:gp-not-went-reason"
SYSTEM_STEP = "urn:relais:referral-step"
SYSTEM_CATEGORY = "urn:relais:information-category"
TASK_CODE_SYSTEM = "http://hl7.org/fhir/CodeSystem/task-code"
#: Ids of Tasks and fullUrls of the Bundle's entries (a Task and its ServiceRequest share the referral id).
RESOURCE_NAMESPACE = UUID("6a0f4f3e-2c1b-4e55-9a43-3f9d1f6e7b21")

#: Relais referral status -> FHIR Task status: one to one (the domain took FHIR's codes).
TASK_STATUS: Mapping[ReferralStatus, str] = {status: status.value for status in ReferralStatus}
_FROM_TASK_STATUS = {code: status for status, code in TASK_STATUS.items()}

SERVICE_REQUEST_STATUS: Mapping[ReferralStatus, str] = {
    ReferralStatus.DRAFT: "draft",
    ReferralStatus.REQUESTED: "active",
    ReferralStatus.ACCEPTED: "active",
    ReferralStatus.IN_PROGRESS: "active",
    ReferralStatus.ON_HOLD: "on-hold",
    ReferralStatus.COMPLETED: "completed",
    ReferralStatus.REJECTED: "revoked",
    ReferralStatus.CANCELLED: "revoked",
    ReferralStatus.FAILED: "revoked",
}

_NOT_WENT = frozenset(reason.value for reason in NotWentReason)


class FhirRefused(ValueError):
    """A FHIR body Relais cannot apply; `reason` says precisely why (it goes to the DLQ)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def task_status(status: ReferralStatus | str) -> str:
    return TASK_STATUS[ReferralStatus(status)]


def referral_status(code: str | None) -> ReferralStatus:
    """The Relais status of a FHIR Task status; an unknown one is refused (with the known ones)."""
    try:
        return _FROM_TASK_STATUS[str(code)]
    except KeyError:
        raise FhirRefused(f"Task.status: {code!r} is not a FHIR Task status Relais records "
                          f"(one of {', '.join(TASK_STATUS.values())})") from None


# --------------------------------------------------------------------------- export
def _ref(kind: str, system: str, value: str | None) -> dict[str, Any] | None:
    return None if value is None else {"type": kind, "identifier": {"system": system, "value": str(value)}}


def resource_id(kind: str, referral_id: str) -> str:
    return str(uuid5(RESOURCE_NAMESPACE, f"{kind}/{referral_id}"))


def _dt(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _is_gp(row: Mapping[str, Any]) -> bool:
    return bool(row.get("is_gp_orientation"))


def _owner(row: Mapping[str, Any]) -> dict[str, Any] | None:
    if _is_gp(row):
        return _ref("Practitioner", SYSTEM_GP, row["to_agency"])
    return _ref("Organization", SYSTEM_AGENCY, row["to_agency"])


def status_reason(row: Mapping[str, Any]) -> dict[str, Any] | None:
    reason = row.get("status_reason")
    if reason is None:
        return None
    if _is_gp(row) and row.get("outcome") == "not_honoured" and reason in _NOT_WENT:
        return {"coding": [{"system": SYSTEM_NOT_WENT, "code": reason}], "text": reason}
    return {"text": reason}


def service_request(row: Mapping[str, Any]) -> ServiceRequest:
    """The ServiceRequest of one `referrals` row: what was asked, of whom, for whom."""
    rid = str(row["referral_id"])
    category = referral_category(row.get("to_agency"), row.get("service"))
    return ServiceRequest.model_validate({
        "resourceType": "ServiceRequest",
        "id": rid,
        "identifier": [{"system": SYSTEM_REFERRAL, "value": rid}],
        "status": SERVICE_REQUEST_STATUS[ReferralStatus(row["status"])],
        "intent": "order",
        "category": [{"coding": [{"system": SYSTEM_CATEGORY, "code": category.value}]}],
        "code": {"text": row.get("service") or "orientation"},
        "subject": _ref("Patient", SYSTEM_PATHWAY, row["pathway_id"]),
        "authoredOn": _dt(row["made_at"]),
        "requester": _ref("Organization", SYSTEM_AGENCY, row.get("made_by")),
        "performer": [p for p in [_owner(row)] if p],
    })


def task(row: Mapping[str, Any], steps: Sequence[Mapping[str, Any]] = ()) -> Task:
    """The Task of one `referrals` row and its `referral_steps` (the follow-up calls)."""
    rid = str(row["referral_id"])
    status = ReferralStatus(row["status"])
    terminal_at = row.get("outcome_at") or (row.get("status_changed_at") if status in (
        ReferralStatus.COMPLETED, ReferralStatus.FAILED, ReferralStatus.REJECTED, ReferralStatus.CANCELLED) else None)
    calls = [s for s in steps if s.get("step") in ("call_reached", "call_unanswered")]
    return Task.model_validate({
        "resourceType": "Task",
        "id": resource_id("Task", rid),
        "identifier": [{"system": SYSTEM_REFERRAL, "value": rid}],
        "status": task_status(status),
        "statusReason": status_reason(row),
        "intent": "order",
        "code": {"coding": [{"system": TASK_CODE_SYSTEM, "code": "fulfill"}]},
        # literal (the ServiceRequest's id) and logical (its identifier): a Bundle entry's
        # urn:uuid fullUrl gives a relative reference no base, the identifier matches anywhere
        "focus": {"reference": f"ServiceRequest/{rid}", "type": "ServiceRequest",
                  "identifier": {"system": SYSTEM_REFERRAL, "value": rid}},
        "for": _ref("Patient", SYSTEM_PATHWAY, row["pathway_id"]),
        "authoredOn": _dt(row["made_at"]),
        "lastModified": _dt(row.get("status_changed_at") or row["made_at"]),
        "requester": _ref("Organization", SYSTEM_AGENCY, row.get("made_by")),
        "owner": _owner(row),
        "executionPeriod": {"start": _dt(row["made_at"]), **({"end": _dt(terminal_at)} if terminal_at else {})},
        "output": [{"type": {"coding": [{"system": SYSTEM_STEP, "code": s["step"]}]}, "valueDateTime": _dt(s["at"])}
                   for s in calls] or None,
    })


def bundle(referrals: Iterable[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]], *,
           at: datetime | None = None) -> Bundle:
    """A `collection` Bundle: for each (row, steps), its ServiceRequest then its Task."""
    entries: list[dict[str, Any]] = []
    for row, steps in referrals:
        request, its_task = service_request(row), task(row, steps)
        entries.append({"fullUrl": f"urn:uuid:{resource_id('ServiceRequest', request.id)}", "resource": request})
        entries.append({"fullUrl": f"urn:uuid:{its_task.id}", "resource": its_task})
    return Bundle.model_validate({"resourceType": "Bundle", "type": "collection",
                                  "timestamp": (at or datetime.now(timezone.utc)).isoformat(), "entry": entries})


def export_territory(conn: Any, territory: str, *, progress: Any = None, at: datetime | None = None) -> Bundle:
    """Every referral of `territory` in the read models on `conn` (projections.queries), as one
    Bundle. `progress`: an infra.progress.Progress (one tick per referral), or None.
    Nothing here checks who asks: a caller showing it to a partner filters first."""
    rows = queries.referrals(conn, territory=territory)
    if progress is not None:
        progress.start(len(rows))

    def each() -> Iterable[tuple[Mapping[str, Any], Sequence[Mapping[str, Any]]]]:
        for done, row in enumerate(rows, start=1):
            yield row, queries.referral_steps(conn, row["referral_id"])
            if progress is not None:
                progress.update(done)

    result = bundle(each(), at=at)
    if progress is not None:
        progress.finish()
    return result


def export_json(resource: Any) -> str:
    """FHIR JSON of a resource built here (what `fhir.resources` parses back)."""
    return resource.model_dump_json(exclude_none=True)


# --------------------------------------------------------------------------- inbound
@dataclass(frozen=True)
class TaskUpdate:
    """What a partner's Task says about a referral."""

    referral_id: str
    status: ReferralStatus
    reason: str | None
    reason_code: str | None  # a coded reason (`urn:relais:gp-not-went-reason`)
    pathway_id: str | None  # `Task.for`, when given
    at: datetime | None  # `Task.lastModified`


def parse_task(data: Any) -> Task:
    """A FHIR Task from a message body; anything else is refused with the first problem."""
    if not isinstance(data, dict) or data.get("resourceType") != "Task":
        got = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
        raise FhirRefused(f"body: a FHIR Task is expected (resourceType 'Task'), got {got!r}")
    try:
        return Task.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "Task"
        raise FhirRefused(f"body: not a valid FHIR Task: {where}: {first['msg']}") from None


def _identifier(values: Sequence[Any] | None, system: str) -> str | None:
    for identifier in values or ():
        if identifier.system == system and identifier.value:
            return str(identifier.value)
    return None


def task_update(resource: Task) -> TaskUpdate:
    status = referral_status(resource.status)
    referral_id = _identifier(resource.identifier, SYSTEM_REFERRAL)
    focus = resource.focus.reference if resource.focus is not None and resource.focus.reference else None
    if referral_id is None and focus is not None and focus.startswith("ServiceRequest/"):
        referral_id = focus[len("ServiceRequest/"):]
    if referral_id is None:
        raise FhirRefused(f"Task.identifier ({SYSTEM_REFERRAL}) or Task.focus (ServiceRequest/<id>): "
                          "which referral the Task answers is missing")
    try:
        referral_id = str(UUID(referral_id))
    except ValueError:
        raise FhirRefused(f"Task: referral id {referral_id!r} is not a Relais referral id (UUID)") from None
    reason_text, reason_code = None, None
    if resource.statusReason is not None:
        reason_text = resource.statusReason.text
        reason_code = next((c.code for c in resource.statusReason.coding or () if c.system == SYSTEM_NOT_WENT), None)
    subject = resource.for_fhir
    pathway_id = _identifier([subject.identifier] if subject and subject.identifier else None, SYSTEM_PATHWAY)
    at = resource.lastModified
    if isinstance(at, datetime) and at.tzinfo is None:
        raise FhirRefused("Task.lastModified: a date and time with its time zone is expected")
    return TaskUpdate(referral_id, status, reason_text or reason_code, reason_code, pathway_id,
                      at if isinstance(at, datetime) else None)


def command_for(update: TaskUpdate, *, gp_orientation: bool) -> tuple[str, dict[str, Any]]:
    """The Relais command a Task update means, and its fields (without actor, ids and time).

    A GP orientation records its visit outcome when the Task is completed, or failed with a
    coded reason (`urn:relais:gp-not-went-reason`); failed with a reason in text only, it is a
    status change (the reason kept as written), as any other status."""
    if gp_orientation and update.status is ReferralStatus.COMPLETED:
        return "RecordGpVisitOutcome", {"orientation_id": update.referral_id, "outcome": "went"}
    if gp_orientation and update.status is ReferralStatus.FAILED and update.reason_code is not None:
        if update.reason_code not in _NOT_WENT:
            raise FhirRefused(f"Task.statusReason: {update.reason_code!r} is not a code of {SYSTEM_NOT_WENT} "
                              f"(one of {', '.join(sorted(_NOT_WENT))})")
        fields: dict[str, Any] = {"orientation_id": update.referral_id, "outcome": "did_not_go",
                                  "reason": update.reason_code}
        if update.reason and update.reason != update.reason_code:
            fields["detail"] = update.reason
        return "RecordGpVisitOutcome", fields
    if not gp_orientation and update.status in (ReferralStatus.COMPLETED, ReferralStatus.FAILED):
        honoured = update.status is ReferralStatus.COMPLETED
        return "RecordReferralOutcome", {"referral_id": update.referral_id,
                                         "outcome": "honoured" if honoured else "not_honoured",
                                         "reason": update.reason}
    return "UpdateReferralStatus", {"referral_id": update.referral_id, "status": update.status.value,
                                    "reason": update.reason}


def inbound_task_schema() -> dict[str, Any]:
    """JSON Schema of the part of a FHIR Task that Relais reads (docs/inbound/v1/FhirTask.schema.json);
    the rest of the Task may be any valid FHIR."""
    identifier = {"type": "object", "properties": {"system": {"type": "string"}, "value": {"type": "string"}}}
    return {
        "description": "An HL7 FHIR R4 Task answering a Relais referral (Gravity SDOH closed loop): its "
                       "status, with a reason for rejected/failed/cancelled. The professional and role are the "
                       "CloudEvents extensions ce_actorprofessional and ce_actorrole. Any other FHIR Task "
                       "element is accepted and ignored.",
        "type": "object",
        "required": ["resourceType", "status", "intent"],
        "properties": {
            "resourceType": {"const": "Task"},
            "status": {"enum": list(TASK_STATUS.values())},
            "intent": {"type": "string", "description": "FHIR Task.intent, e.g. order"},
            "identifier": {"type": "array", "items": identifier,
                           "description": f"The referral answered: system {SYSTEM_REFERRAL}, value its id (UUID)."},
            "focus": {"type": "object", "properties": {"reference": {"type": "string", "pattern": "^ServiceRequest/"}},
                      "description": "ServiceRequest/<referral id>: the referral, when identifier does not say it."},
            "for": {"type": "object", "properties": {"identifier": identifier},
                    "description": f"Optional: system {SYSTEM_PATHWAY}, value the pathway id (must be ce_subject)."},
            "statusReason": {
                "type": "object",
                "description": f"Why (rejected, failed, cancelled): text; for a GP orientation not honoured, "
                               f"a coding of {SYSTEM_NOT_WENT}.",
                "properties": {
                    "text": {"type": "string"},
                    "coding": {"type": "array", "items": {"type": "object", "properties": {
                        "system": {"type": "string"}, "code": {"enum": sorted(_NOT_WENT)}}}},
                },
            },
            "lastModified": {"type": "string", "format": "date-time",
                             "description": "When the status changed (default: ce_time)."},
        },
    }
