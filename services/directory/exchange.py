"""Export and import of the directory: data·inclusion (the national schema of the *offre
d'insertion*, validated with the `data-inclusion-schema` package) and Open Referral HSDS 3.0
(validated against its JSON schemas, vendored in services/directory/hsds/).

Each format carries what it has a field for under that field's name; what it has none for
(kind, languages in data·inclusion, accepting new patients, quota, saturation, publics by
administrative situation, update frequency...) goes under the `relais` key of the record,
which both formats let through. Export then import gives back the same sheets and state
(`tests/unit/directory/test_directory_exchange.py`); a record of another producer, without the
`relais` key, imports with the defaults.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timezone
from functools import cache
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain.directory import Service
from domain.values import SYSTEM_AGENCY

FORMATS = ("data-inclusion", "hsds")
SOURCE = "relais"
EXTENSION = "relais"
HSDS_DIR = Path(__file__).with_name("hsds")
#: Importing is the platform's act (an administrator's file), not one agency's.
IMPORT_ACTOR = {"agency": SYSTEM_AGENCY, "professional": "import-annuaire", "role": "annuaire"}


def _state(service: Service) -> dict[str, Any]:
    """What neither format has a field for."""
    d = service.details
    return {
        "kind": d.kind.value, "organization": d.organization,
        "statuts_administratifs": [s.value for s in d.statuts_administratifs],
        "accepts_interpreting": d.accepts_interpreting, "update_frequency_days": d.update_frequency_days,
        "accepting_new_patients": service.accepting_new_patients, "stop_reason": service.stop_reason,
        "quota": {"places": service.quota.places, "period": service.quota.period.value} if service.quota else None,
        "saturation": service.saturation.value if service.saturation else None,
    }


# --------------------------------------------------------------------------- data·inclusion
def to_data_inclusion(service: Service) -> dict[str, Any]:
    d = service.details
    record: dict[str, Any] = {
        "source": SOURCE, "structure_id": service.owner, "id": str(service.id), "nom": d.name,
        # data·inclusion wants 5 characters at least; an empty description is kept in `relais`.
        "description": d.description if len(d.description) >= 5 else f"Service : {d.name}",
        "date_maj": service.date_maj.isoformat(),
        "publics": list(d.publics) or None, "conditions_acces": d.conditions_acces,
        "commune": d.commune, "code_insee": d.code_insee, "telephone": d.telephone, "courriel": d.courriel,
        "zone_eligibilite": list(d.zone_eligibilite) or None, "modes_mobilisation": list(d.modes_mobilisation) or None,
        "horaires_accueil": d.horaires_accueil,
        EXTENSION: {**_state(service), "languages": list(d.languages),
                    "description": d.description if len(d.description) < 5 else None},
    }
    return record


def from_data_inclusion(record: Mapping[str, Any]) -> dict[str, Any]:
    x = record.get(EXTENSION) or {}
    description = x["description"] if x.get("description") is not None else record.get("description", "")
    details = {
        "name": record["nom"], "description": description, "code_insee": record.get("code_insee"),
        "commune": record.get("commune"), "publics": list(record.get("publics") or []),
        "conditions_acces": record.get("conditions_acces"), "telephone": record.get("telephone"),
        "courriel": record.get("courriel"), "zone_eligibilite": list(record.get("zone_eligibilite") or []),
        "modes_mobilisation": list(record.get("modes_mobilisation") or []),
        "horaires_accueil": record.get("horaires_accueil"), "languages": x.get("languages", ["fr"]),
    }
    return _imported(str(record["id"]), str(record["structure_id"]), date.fromisoformat(str(record["date_maj"])),
                     details, x)


def validate_data_inclusion(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Errors (one line each, record id first) found by the `data-inclusion-schema` package."""
    from data_inclusion.schema.v1 import Service as DataInclusionService
    from pydantic import ValidationError

    errors = []
    for record in records:
        try:
            # Warnings (a name ending with a point...) are errors here: an export must be clean.
            DataInclusionService.model_validate(record, context={"ignore_warnings": False})
        except ValidationError as invalid:
            for error in invalid.errors():
                errors.append(f"{record.get('id')}: {'.'.join(map(str, error['loc']))}: {error['msg']}")
    return errors


# --------------------------------------------------------------------------- HSDS 3.0
def _child(service: Service, what: str, key: str = "") -> str:
    return str(uuid5(service.id, f"{what}:{key}"))


def organization_id(owner: str) -> str:
    return str(uuid5(NAMESPACE_URL, f"urn:relais:agency:{owner}"))


def to_hsds(service: Service) -> dict[str, Any]:
    d = service.details
    sid = str(service.id)
    record: dict[str, Any] = {
        "id": sid, "name": d.name, "description": d.description, "status": "active",
        "organization_id": organization_id(service.owner),
        "organization": {"id": organization_id(service.owner), "name": d.organization,
                         "description": d.organization},
        "eligibility_description": d.conditions_acces,
        "interpretation_services": ("Interprétariat professionnel ou par téléphone accepté."
                                    if d.accepts_interpreting else None),
        "email": d.courriel,
        "assured_date": service.date_maj.isoformat(),
        "last_modified": datetime.combine(service.date_maj, time(0), tzinfo=timezone.utc).isoformat(),
        "languages": [{"id": _child(service, "language", code), "service_id": sid, "code": code}
                      for code in d.languages],
        "phones": [{"id": _child(service, "phone"), "service_id": sid, "number": d.telephone}] if d.telephone else [],
        # HSDS schedules are RFC 5545 rules; the OpenStreetMap expression is kept as their text.
        "schedules": ([{"id": _child(service, "schedule"), "service_id": sid, "description": d.horaires_accueil}]
                      if d.horaires_accueil else []),
        "service_areas": [{"id": _child(service, "area", code), "service_id": sid, "name": code,
                           "description": "code INSEE (commune ou département)"} for code in d.zone_eligibilite],
        EXTENSION: {**_state(service), "owner": service.owner, "code_insee": d.code_insee, "commune": d.commune,
                    "publics": list(d.publics), "modes_mobilisation": list(d.modes_mobilisation)},
    }
    return {k: v for k, v in record.items() if v is not None}


def from_hsds(record: Mapping[str, Any]) -> dict[str, Any]:
    x = record.get(EXTENSION) or {}
    schedules = record.get("schedules") or []
    phones = record.get("phones") or []
    details = {
        "name": record["name"], "description": record.get("description", ""),
        "code_insee": x.get("code_insee"), "commune": x.get("commune"),
        "publics": x.get("publics", ["tous-publics"]), "modes_mobilisation": x.get("modes_mobilisation", []),
        "conditions_acces": record.get("eligibility_description"), "courriel": record.get("email"),
        "telephone": phones[0]["number"] if phones else None,
        "horaires_accueil": schedules[0].get("description") if schedules else None,
        "zone_eligibilite": [area["name"] for area in record.get("service_areas") or []],
        "languages": [lang["code"] for lang in record.get("languages") or [] if lang.get("code")],
    }
    if "organization" not in x and record.get("organization"):
        x = {**x, "organization": record["organization"]["name"]}
    if "accepts_interpreting" not in x:
        x = {**x, "accepts_interpreting": bool(record.get("interpretation_services"))}
    when = record.get("assured_date") or str(record.get("last_modified", ""))[:10]
    return _imported(str(record["id"]), str(x.get("owner") or record.get("organization_id")),
                     date.fromisoformat(when), details, x)


@cache
def _hsds_validator() -> Any:
    import jsonschema_rs

    schemas = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in HSDS_DIR.glob("*.json")}
    base = "https://relais.invalid/hsds/3.0/"  # the files $ref each other by file name
    registry = jsonschema_rs.Registry([(base + name, schema) for name, schema in schemas.items()])
    return jsonschema_rs.validator_for(schemas["service.json"], registry=registry, base_uri=base + "service.json",
                                       validate_formats=True)


def validate_hsds(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Errors (one line each, record id first) against the HSDS 3.0 `service` schema."""
    validator = _hsds_validator()
    return [f"{record.get('id')}: {'/'.join(map(str, error.instance_path))}: {error.message}"
            for record in records for error in validator.iter_errors(dict(record))]


# --------------------------------------------------------------------------- both
def export_records(services: Iterable[Service], fmt: str) -> list[dict[str, Any]]:
    convert = {"data-inclusion": to_data_inclusion, "hsds": to_hsds}[fmt]
    return [convert(s) for s in sorted(services, key=lambda s: str(s.id))]


def validate(records: Sequence[Mapping[str, Any]], fmt: str) -> list[str]:
    return {"data-inclusion": validate_data_inclusion, "hsds": validate_hsds}[fmt](records)


def parse_records(records: Iterable[Mapping[str, Any]], fmt: str) -> list[dict[str, Any]]:
    convert = {"data-inclusion": from_data_inclusion, "hsds": from_hsds}[fmt]
    return [convert(r) for r in records]


def _imported(record_id: str, owner: str, date_maj: date, details: dict[str, Any],
              x: Mapping[str, Any]) -> dict[str, Any]:
    try:
        service_id = UUID(record_id)
    except ValueError:  # another producer's id ("dora--42"): a stable UUID of it
        service_id = uuid5(NAMESPACE_URL, f"urn:relais:service:{record_id}")
    details = {**details, "kind": x.get("kind", "autre"), "organization": x.get("organization", owner),
               "statuts_administratifs": x.get("statuts_administratifs", []),
               "accepts_interpreting": x.get("accepts_interpreting", False),
               "update_frequency_days": x.get("update_frequency_days", 90)}
    return {"service_id": service_id, "owner": owner, "date_maj": date_maj,
            "details": {k: v for k, v in details.items() if v is not None},
            "accepting_new_patients": x.get("accepting_new_patients", True), "stop_reason": x.get("stop_reason"),
            "quota": x.get("quota"), "saturation": x.get("saturation")}


def import_records(directory: Any, imported: Iterable[Mapping[str, Any]]) -> list[Any]:
    """Register each imported service (as Relais, for its owner), dated its `date_maj`, then
    stop its intake when it was stopped. Ids derive from the service and the day: importing
    the same file twice registers each service once. Returns the directory's answers."""
    answers = []
    for item in imported:
        at = datetime.combine(item["date_maj"], time(0), tzinfo=timezone.utc)
        stopped_with_reason = not item["accepting_new_patients"] and item["stop_reason"]
        sid = item["service_id"]
        answers.append(directory.command("RegisterService", {
            "command_id": uuid5(sid, f"import:{item['date_maj']}"), "service_id": sid, "actor": IMPORT_ACTOR,
            "occurred_at": at, "owner": item["owner"], "details": item["details"],
            "accepting_new_patients": bool(item["accepting_new_patients"] or stopped_with_reason),
            "quota": item["quota"], "saturation": item["saturation"]}))
        if stopped_with_reason:
            answers.append(directory.command("StopIntake", {
                "command_id": uuid5(sid, f"import-stop:{item['date_maj']}"), "service_id": sid,
                "actor": IMPORT_ACTOR, "occurred_at": at, "reason": item["stop_reason"]}))
    return answers
