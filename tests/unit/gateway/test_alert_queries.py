"""A partner reads one alert by its id, the events that raised it (the same ids as the timeline's
entries), and lists alerts by status with a count per status."""

from __future__ import annotations

import uuid

from tests.unit.gateway.conftest import token
from tests.unit.gateway.test_alert_owners_act import Harness, _accepted, relais  # noqa: F401 - the fixture

ALERT = ("query($id: UUID!) { alert(id: $id) { alertId status ruleId "
         "triggeringEvents { eventId position infoCategory type label occurredAt } redactions { field } } }")
TIMELINE = "query($id: UUID!) { pathway(id: $id) { timeline(first: 50) { entries { eventId position type } } } }"
LIST = ("query($f: AlertFilter) { alerts(filter: $f) { totalCount countsByStatus { status count } "
        "edges { node { alertId status } } } }")


def _care_refused(relais: Harness) -> tuple[str, str]:
    api, pass_ = relais.api, token("pass", "medecin")
    pid = str(uuid.uuid4())
    _accepted(api.send("OpenPassGpPathway", {"pathwayId": pid, "personRef": "P-alrt01", "territory": "76",
                                             "leadAgency": "pass"}, as_=pass_))
    _accepted(api.send("AddAgency", {"pathwayId": pid, "agency": "dac", "role": "COORDINATION"}, as_=pass_))
    _accepted(api.send("RecordCareRefusal", {"pathwayId": pid, "refusalId": str(uuid.uuid4()),
                                             "care": "hospitalisation", "proposedBy": "pass",
                                             "reason": "refus de la personne"}, as_=pass_))
    relais.evaluate(pid)
    alert_id = next(str(a.alert_id) for a in relais.engine.pathways.app.get_pathway(uuid.UUID(pid)).open_alerts
                    if a.rule_id == "care-refused")
    return pid, alert_id


def test_an_alert_read_by_its_id_names_the_events_that_raised_it_with_the_timelines_ids(relais) -> None:
    pid, alert_id = _care_refused(relais)
    pass_ = token("pass", "medecin")
    alert = relais.api(ALERT, {"id": alert_id}, as_=pass_)["alert"]
    assert alert["alertId"] == alert_id and alert["ruleId"] == "care-refused" and alert["status"] == "RAISED"
    (trigger,) = alert["triggeringEvents"]
    assert trigger["type"] == "CareRefused" and trigger["label"] and trigger["occurredAt"]
    entries = relais.api(TIMELINE, {"id": pid}, as_=pass_)["pathway"]["timeline"]["entries"]
    same = [e for e in entries if e["eventId"] == trigger["eventId"]]
    assert same == [{"eventId": trigger["eventId"], "position": trigger["position"], "type": "CareRefused"}]
    assert len({e["eventId"] for e in entries}) == len(entries)


def test_an_alert_of_a_pathway_the_agency_is_not_on_reads_as_unknown(relais) -> None:
    _pid, alert_id = _care_refused(relais)
    stranger = relais.api(ALERT, {"id": alert_id}, as_=token("usmp", "medecin"))["alert"]
    unknown = relais.api(ALERT, {"id": str(uuid.uuid4())}, as_=token("pass", "medecin"))["alert"]
    assert stranger is None and unknown is None


def test_a_triggering_event_the_role_may_not_see_keeps_its_id_but_not_its_type(relais) -> None:
    _pid, alert_id = _care_refused(relais)
    volunteer = relais.api(ALERT, {"id": alert_id}, as_=token("pass", "benevole"))["alert"]
    (trigger,) = volunteer["triggeringEvents"]
    assert trigger["eventId"] and trigger["type"] is None and trigger["label"] is None
    assert "triggeringEvents[0].type" in {r["field"] for r in volunteer["redactions"]}


def test_alerts_are_listed_by_status_with_a_count_for_every_status(relais) -> None:
    pid, alert_id = _care_refused(relais)
    api, dac = relais.api, token("dac", "coordinateur")
    mine = {"pathwayId": pid, "ruleId": "care-refused"}
    listed = api(LIST, {"f": mine}, as_=dac)["alerts"]
    assert [e["node"]["alertId"] for e in listed["edges"]] == [alert_id] and listed["totalCount"] == 1
    _accepted(api.send("DismissAlert", {"pathwayId": pid, "alertId": alert_id, "reason": "PERSON_REFUSED"}, as_=dac))
    api.settle(pid, relais.engine.pathways.app.repository.get(uuid.UUID(pid)).version)

    open_now = api(LIST, {"f": mine}, as_=dac)["alerts"]
    closed = api(LIST, {"f": {**mine, "statuses": ["RESOLVED", "DISMISSED"]}}, as_=dac)["alerts"]
    assert open_now["edges"] == [] and open_now["totalCount"] == 0
    assert [e["node"] for e in closed["edges"]] == [{"alertId": alert_id, "status": "DISMISSED"}]
    assert closed["totalCount"] == 1
    counts = {c["status"]: c["count"] for c in closed["countsByStatus"]}
    assert counts == {"RAISED": 0, "ACKNOWLEDGED": 0, "ESCALATED": 0, "RESOLVED": 0, "DISMISSED": 1}
    assert api(ALERT, {"id": alert_id}, as_=dac)["alert"]["status"] == "DISMISSED"
