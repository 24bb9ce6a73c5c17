"""Export and import of the directory: data·inclusion validated with the national schema's own
package, HSDS 3.0 against its JSON schemas, and export -> import -> export gives the same file."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from services.directory import Directory, DirectoryApplication, DirectoryHandler
from services.directory.exchange import export_records, import_records, parse_records, validate
from tests.unit.directory.helpers import NOW, envelope, register


def _directory() -> Directory:
    return Directory(DirectoryHandler(DirectoryApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})))


def _rouen() -> Directory:
    directory = _directory()
    full, quota, plain = uuid4(), uuid4(), uuid4()
    directory.command("RegisterService", register(full, "mg-1", at=NOW - timedelta(days=40), details={
        "name": "Cabinet du Dr Aubert", "zone_eligibilite": ["76681"], "code_insee": "76681",
        "commune": "Sotteville-lès-Rouen", "languages": ["fr", "ar"], "accepts_interpreting": True,
        "telephone": "+33235000001", "courriel": "cabinet.aubert@example.org", "description": "",
        "publics": ["personnes-exilees"], "statuts_administratifs": ["asylum_seeker", "undocumented"],
        "modes_mobilisation": ["telephoner"], "conditions_acces": "AME ou PUMa ouverte"}))
    directory.command("StopIntake", envelope(full, "mg-1", at=NOW - timedelta(days=3), reason="patientèle complète"))
    directory.command("RegisterService", register(quota, "csapa-rouen", details={
        "name": "CSAPA La Boussole", "kind": "csapa", "organization": "Association La Boussole",
        "description": "Consultations addictologie sans rendez-vous le matin.", "zone_eligibilite": ["76"],
        "horaires_accueil": "Mo-Fr 09:00-12:30; PH off", "update_frequency_days": 30},
        quota={"places": 4, "period": "week"}, saturation="high"))
    directory.command("RegisterService", register(plain, "ism-interpretariat", details={
        "name": "ISM Interprétariat", "kind": "interpretariat", "organization": "ISM",
        "code_insee": "75056", "commune": "Paris", "languages": ["fr", "ar", "ps", "ti"], "publics": []}))
    return directory


@pytest.mark.parametrize("fmt", ["data-inclusion", "hsds"])
def test_the_export_is_valid_in_its_format(fmt: str) -> None:
    records = export_records(_rouen().index.services(), fmt)
    assert len(records) == 3 and validate(records, fmt) == []


@pytest.mark.parametrize("fmt", ["data-inclusion", "hsds"])
def test_export_then_import_gives_the_same_directory(fmt: str) -> None:
    first = export_records(_rouen().index.services(), fmt)
    again = _directory()
    answers = import_records(again, parse_records(first, fmt))
    assert all(a.accepted for a in answers), [a.rejection for a in answers if not a.accepted]
    assert export_records(again.index.services(), fmt) == first
    assert all(a.duplicate for a in import_records(again, parse_records(first, fmt)))  # the same file twice


def test_a_data_inclusion_export_with_a_bad_value_is_reported_with_its_record_and_field() -> None:
    records: list[dict[str, Any]] = export_records(_rouen().index.services(), "data-inclusion")
    records[0]["modes_mobilisation"] = ["pigeon-voyageur"]
    records[1]["code_insee"] = "7654"
    errors = validate(records, "data-inclusion")
    assert any(e.startswith(f"{records[0]['id']}: modes_mobilisation") for e in errors)
    assert any(e.startswith(f"{records[1]['id']}: code_insee") for e in errors)


def test_an_hsds_export_with_a_bad_value_is_reported_with_its_record_and_path() -> None:
    records: list[dict[str, Any]] = export_records(_rouen().index.services(), "hsds")
    records[0]["status"] = "overbooked"
    del records[1]["languages"][0]["id"]
    errors = validate(records, "hsds")
    assert any(e.startswith(f"{records[0]['id']}: status") for e in errors)
    assert any(e.startswith(f"{records[1]['id']}: languages/0") for e in errors)


def test_a_data_inclusion_record_of_another_producer_imports_with_the_defaults() -> None:
    directory = _directory()
    record = {"source": "dora", "structure_id": "dora--42", "id": "dora--AB12", "nom": "Permanence santé",
              "description": "Permanence d'accès aux droits de santé.", "date_maj": "2026-11-02",
              "code_insee": "76540", "commune": "Rouen", "horaires_accueil": "Tu 14:00-17:00"}
    [answer] = import_records(directory, parse_records([record], "data-inclusion"))
    assert answer.accepted, answer.rejection
    [service] = directory.index.services()
    assert service.owner == "dora--42" and service.details.kind.value == "autre"
    assert service.details.languages == ("fr",) and service.date_maj.isoformat() == "2026-11-02"
