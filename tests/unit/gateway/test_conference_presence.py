"""A case conference records as present the agencies that CONFIRM it, each for itself: the
convener holds it with the agencies it invites, every other agency confirms its own presence
(by its member, through GraphQL or its inbound topic), and nobody records another agency."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest

from tests.unit.gateway.conftest import token
from tests.unit.gateway.test_trust_boundary import accepted, join, open_detention

CONFERENCES = "query($id: UUID!) { pathway(id: $id) { caseConferences { conferenceId agencies present } } }"


def conference(api, pid: str, invited: list[str]) -> str:
    cid = str(uuid.uuid4())
    accepted(api.send("HoldCaseConference", {"pathwayId": pid, "conferenceId": cid, "agencies": invited,
                                             "decisions": ["Relais hébergement avant la sortie"]},
                      as_=token("usmp", "medecin")))
    return cid


def shown(api, pid: str) -> dict:
    [c] = api(CONFERENCES, {"id": pid}, as_=token("usmp", "medecin"))["pathway"]["caseConferences"]
    return c


def test_the_conference_shows_who_was_invited_and_who_confirmed(api):
    pid = open_detention(api)
    join(api, pid, "siao", "HOUSING")
    join(api, pid, "spip", "JUSTICE")
    cid = conference(api, pid, ["usmp", "siao", "spip"])
    assert shown(api, pid) == {"conferenceId": cid, "agencies": ["usmp", "siao", "spip"], "present": ["usmp"]}
    accepted(api.send("ConfirmConferencePresence", {"pathwayId": pid, "conferenceId": cid},
                      as_=token("siao", "travailleur_social")))
    assert shown(api, pid)["present"] == ["usmp", "siao"]  # spip was invited, has not confirmed


def test_nobody_can_record_another_agency_as_present(api):
    pid = open_detention(api)
    join(api, pid, "siao", "HOUSING")
    join(api, pid, "spip", "JUSTICE")
    cid = conference(api, pid, ["usmp", "siao", "spip"])
    # The command has no agency to name: the present agency is the caller's.
    naming = api.post("mutation($i: ConfirmConferencePresenceInput!) { confirmConferencePresence(input: $i) "
                      "{ __typename } }", {"i": {"commandId": str(uuid.uuid4()), "pathwayId": pid,
                                                 "conferenceId": cid, "agency": "spip",
                                                 "occurredAt": datetime.now(timezone.utc).isoformat()}},
                      as_=token("siao", "travailleur_social")).json()
    assert naming["errors"] and not naming.get("data")  # refused as an ill-formed input
    assert shown(api, pid)["present"] == ["usmp"]


def test_an_agency_not_invited_or_confirming_twice_is_refused_with_the_reason(api):
    pid = open_detention(api)
    join(api, pid, "siao", "HOUSING")
    join(api, pid, "spip", "JUSTICE")
    cid = conference(api, pid, ["usmp", "siao"])
    uninvited = api.send("ConfirmConferencePresence", {"pathwayId": pid, "conferenceId": cid},
                         as_=token("spip", "conseiller_penitentiaire"))
    assert uninvited["field"] == "conferenceId" and "pas invitée" in uninvited["reason"]
    again = api.send("ConfirmConferencePresence", {"pathwayId": pid, "conferenceId": cid}, as_=token("usmp", "medecin"))
    assert again["field"] == "conferenceId" and "déjà confirmée" in again["reason"]


def test_an_agency_outside_the_pathway_cannot_be_invited(api):
    pid = open_detention(api)
    out = api.send("HoldCaseConference", {"pathwayId": pid, "conferenceId": str(uuid.uuid4()),
                                          "agencies": ["usmp", "caso"], "decisions": []}, as_=token("usmp", "medecin"))
    assert out["__typename"] == "CommandRefused" and out["field"] == "agencies" and "caso" in out["reason"]


def test_through_its_inbound_topic_an_agency_confirms_for_itself_only(api):
    from infra.kafka.cloudevents import CloudEvent
    from infra.kafka.consumer import ConsumedMessage, RejectMessage
    from services.ingest.handler import IngestHandler

    pid = open_detention(api)
    join(api, pid, "siao", "HOUSING")
    join(api, pid, "spip", "JUSTICE")
    cid = conference(api, pid, ["usmp", "siao", "spip"])
    ingest = IngestHandler(api.client.app.state.gateway.pathways)

    def inbound(agency: str, actor: dict) -> ConsumedMessage:
        event = CloudEvent(id=str(uuid.uuid4()), source=f"/partners/{agency}",
                           type="fr.relais.inbound.ConfirmConferencePresence.v1", subject=pid, partitionkey=pid,
                           time=datetime.now(timezone.utc),
                           data={"conference_id": cid, "actor": actor,
                                 "occurred_at": datetime.now(timezone.utc).isoformat()})
        return ConsumedMessage(topic=f"relais.inbound.{agency}", partition=0, offset=0, key=None, value=None,
                               headers=(), timestamp_ms=0, event=event)

    # The SPIP's system may not confirm in the SIAO's name...
    with pytest.raises(RejectMessage, match="actor.agency"):
        ingest.handle(None, inbound("spip", {"agency": "siao", "professional": "cpip-2",
                                             "role": "conseiller_penitentiaire"}))
    # ...and confirms for itself.
    ingest.handle(None, inbound("spip", {"professional": "cpip-2", "role": "conseiller_penitentiaire"}))
    api.settle(pid, api.client.app.state.gateway.pathways.app.get_pathway(uuid.UUID(pid)).version)
    assert shown(api, pid)["present"] == ["usmp", "spip"]
