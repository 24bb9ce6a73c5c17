"""Inbound partner messages: what becomes a command and what is refused, with the reason."""

from __future__ import annotations

import json

import pytest

from services.ingest.messages import (
    InboundRefused,
    agency_of,
    command_id_for,
    command_name,
    to_command_payload,
)
from services.ingest.schemas import on_disk, rendered

ACTOR = {"professional": "coord-4", "role": "coordinateur"}


def test_the_agency_is_taken_from_the_topic_not_from_the_message() -> None:
    payload = to_command_payload(agency="siao", ce_id="m1", subject="p-1", data={"actor": ACTOR, "request_id": "r"})
    assert payload["actor"]["agency"] == "siao"
    assert payload["pathway_id"] == "p-1"


def test_a_message_claiming_another_agency_is_refused() -> None:
    with pytest.raises(InboundRefused, match="actor.agency"):
        to_command_payload(agency="siao", ce_id="m1", subject="p", data={"actor": {**ACTOR, "agency": "cpam"}})


def test_the_command_id_comes_from_the_message_id_so_a_redelivery_is_the_same_command() -> None:
    first = to_command_payload(agency="siao", ce_id="m1", subject="p", data={"actor": ACTOR, "command_id": "forged"})
    again = to_command_payload(agency="siao", ce_id="m1", subject="p", data={"actor": ACTOR})
    other_agency = command_id_for("cpam", "m1")
    assert first["command_id"] == again["command_id"] != str(other_agency)


@pytest.mark.parametrize(
    ("ce_type", "reason"),
    [
        ("fr.relais.inbound.RaiseAlert.v1", "reserved"),
        ("fr.relais.inbound.ConfirmHousing.v9", "unknown version"),
        ("com.example.ConfirmHousing.v1", "expected fr.relais.inbound."),
        ("fr.relais.inbound.Nope.v1", "unknown message type"),
    ],
)
def test_unknown_or_reserved_message_types_are_refused_with_the_reason(ce_type: str, reason: str) -> None:
    with pytest.raises(InboundRefused, match=reason):
        command_name(ce_type)


def test_a_body_that_is_not_an_object_or_names_another_pathway_is_refused() -> None:
    with pytest.raises(InboundRefused, match="JSON object"):
        to_command_payload(agency="siao", ce_id="m", subject="p", data=[1, 2])
    with pytest.raises(InboundRefused, match="differs from ce_subject"):
        to_command_payload(agency="siao", ce_id="m", subject="p", data={"actor": ACTOR, "pathway_id": "q"})


def test_only_agency_topics_are_inbound_topics() -> None:
    assert agency_of("relais.inbound.cpam") == "cpam"
    with pytest.raises(InboundRefused):
        agency_of("relais.pathway-events")


def test_published_inbound_schemas_match_the_command_models() -> None:
    assert on_disk() == rendered(), "run: python -m services.ingest.schemas"


def test_the_schemas_are_published_in_the_folder_of_their_ce_type_version() -> None:
    from services.ingest.messages import TYPE_PREFIX, TYPE_VERSION

    published = rendered()
    schema = json.loads(published[f"{TYPE_VERSION}/ConfirmHousing.schema.json"])
    assert schema["title"] == f"{TYPE_PREFIX}ConfirmHousing.{TYPE_VERSION}"
    assert all(name == "README.md" or name.startswith(f"{TYPE_VERSION}/") for name in published)


def test_no_inbound_topic_speaks_as_relais_itself() -> None:
    # The platform's own actor passes the write policy (domain.writepolicy): never a partner's.
    with pytest.raises(InboundRefused, match="Relais itself"):
        agency_of("relais.inbound.relais")
