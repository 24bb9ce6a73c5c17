"""An alert's life through the service and the engine: updated (owner, text, severity) rather
than raised again, acknowledged once, dismissed by its owner, resolved by the fact in French.

Seed situations: a SAS arrival in Rouen without a housing solution (the SIAO joins later), a
release from the Maison d'arrêt de Rouen with a substitution treatment, MdM Rouen's GP
orientations (48 a year, 27 reached).
"""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.values import AlertSeverity, AlertStatus
from tests.unit.risk.world import (
    ADOMA, CARDIO, CASO, CLAT, CPAM, CSAPA, PASS, SIAO, SPIP, USMP, Rejected, World, at, on, paris_midnight,
)


def _names(world: World, pid) -> list[str]:
    return [type(e).__name__ for e in world.events(pid)]


def _sas_without_siao(world: World):
    return world.open("Sas", ADOMA, PASS, CLAT, arrived_on=on(0), from_high_tb_endemicity=False)


def test_the_sas_housing_alert_moves_to_the_siao_when_it_joins_and_rises_as_day_21_nears(world: World) -> None:
    pid = _sas_without_siao(world)
    world.at(paris_midnight(on(6)))  # day 21 is 23/03: fifteen days before
    [alert] = world.open_alerts(pid, "exit-without-housing")
    assert (alert.owner_agency, alert.severity) == (ADOMA.agency, AlertSeverity.MEDIUM)
    assert alert.suggested_action.startswith("Déposer une demande d'hébergement auprès du siao-76")

    world.join(pid, ADOMA, SIAO)  # the SIAO takes part: the next step is its
    [alert] = world.open_alerts(pid, "exit-without-housing")
    assert alert.owner_agency == SIAO.agency
    assert alert.suggested_action.startswith("Trouver une solution d'hébergement avant la fin du séjour au SAS du 23/03")

    assert world.due_at(pid) <= paris_midnight(on(14))  # the engine wakes when the band changes
    world.at(paris_midnight(on(14)))
    assert world.open_alerts(pid, "exit-without-housing")[0].severity is AlertSeverity.HIGH
    world.at(paris_midnight(on(18)))
    assert world.open_alerts(pid, "exit-without-housing")[0].severity is AlertSeverity.CRITICAL

    [only] = world.alerts(pid, "exit-without-housing")  # one alert, never raised again
    updates = [e for e in world.events(pid) if type(e).__name__ == "AlertUpdated" and e.alert_id == only.alert_id]
    assert [(e.owner_agency, e.severity) for e in updates] == [
        (SIAO.agency, AlertSeverity.MEDIUM), (SIAO.agency, AlertSeverity.HIGH), (SIAO.agency, AlertSeverity.CRITICAL)]


def test_a_sas_orientation_to_the_street_does_not_count_as_housing(world: World) -> None:
    pid = world.open("Sas", ADOMA, SIAO, PASS, arrived_on=on(0), from_high_tb_endemicity=False)
    world.send("DecideOrientation", pid, ADOMA, when=at(7), destination="rue", decided_on=on(7))
    world.at(at(8))
    [alert] = world.open_alerts(pid, "exit-without-housing")
    assert alert.owner_agency == SIAO.agency

    world.send("DecideOrientation", pid, ADOMA, when=at(9), destination="CADA de Rouen", decided_on=on(9))
    [alert] = world.alerts(pid, "exit-without-housing")
    assert alert.status is AlertStatus.RESOLVED
    assert alert.resolution_reason == "Orientation décidée : CADA de Rouen."


def _release_with_substitution(world: World):
    pid = world.open("Detention", SPIP, USMP, SIAO, CSAPA, prison="Maison d'arrêt de Rouen", release_date=on(25))
    treatment = uuid4()
    world.send("RecordTreatmentToContinue", pid, USMP, when=at(1), treatment_id=treatment, kind="substitution",
               name="méthadone", prescribed_by=USMP.agency)
    return pid, treatment


def test_a_missed_follow_up_appointment_no_longer_counts_as_treatment_follow_up(world: World) -> None:
    pid, treatment = _release_with_substitution(world)
    appointment = uuid4()
    world.send("BookAppointment", pid, USMP, when=at(2), appointment_id=appointment, with_agency=CSAPA.agency,
               service="CSAPA", scheduled_at=at(26))
    world.send("PlanTreatmentFollowUp", pid, USMP, when=at(2), treatment_id=treatment, appointment_id=appointment)
    world.at(at(20))
    assert world.alerts(pid, "treatment-continuity") == []

    world.send("MarkAppointmentMissed", pid, CSAPA, when=at(26, 2), appointment_id=appointment)
    [alert] = world.open_alerts(pid, "treatment-continuity")
    assert alert.owner_agency == USMP.agency and alert.severity is AlertSeverity.CRITICAL


def test_treatment_follow_up_is_checked_against_the_current_release_date(world: World) -> None:
    pid, treatment = _release_with_substitution(world)
    appointment = uuid4()
    world.send("BookAppointment", pid, USMP, when=at(2), appointment_id=appointment, with_agency=CSAPA.agency,
               service="CSAPA", scheduled_at=at(26))
    world.send("PlanTreatmentFollowUp", pid, USMP, when=at(2), treatment_id=treatment, appointment_id=appointment)
    world.send("ScheduleRelease", pid, SPIP, when=at(3), release_date=on(40))  # the release moves later

    world.at(paris_midnight(on(30)))  # ten days before the new date
    [alert] = world.open_alerts(pid, "treatment-continuity")
    assert "sortie du 11/04" in alert.suggested_action


def test_acknowledging_twice_stores_one_event(world: World) -> None:
    pid = _sas_without_siao(world)
    world.at(paris_midnight(on(6)))
    [alert] = world.open_alerts(pid, "exit-without-housing")
    for hour in (1, 2):
        world.send("AcknowledgeAlert", pid, ADOMA, when=at(6, hour), alert_id=alert.alert_id)
    assert _names(world, pid).count("AlertAcknowledged") == 1
    assert world.alerts(pid, "exit-without-housing")[0].status is AlertStatus.ACKNOWLEDGED


def test_the_owner_dismisses_an_alert_with_a_reason_and_the_engine_does_not_raise_it_again(world: World) -> None:
    pid = _sas_without_siao(world)
    world.at(paris_midnight(on(6)))
    [alert] = world.open_alerts(pid, "exit-without-housing")
    with pytest.raises(Rejected, match="la structure qui en a la charge"):
        world.send("DismissAlert", pid, PASS, when=at(6, 1), alert_id=alert.alert_id, reason="false_alarm")

    world.send("DismissAlert", pid, ADOMA, when=at(6, 2), alert_id=alert.alert_id, reason="handled_elsewhere",
               detail="hébergée par sa sœur à Elbeuf")
    [dismissed] = world.alerts(pid, "exit-without-housing")
    assert dismissed.status is AlertStatus.DISMISSED and dismissed.dismissed_by == ADOMA.agency
    for day in (8, 14, 18):
        world.at(paris_midnight(on(day)))
    assert len(world.alerts(pid, "exit-without-housing")) == 1  # never raised again for that risk


def test_consent_missing_for_a_gp_who_never_joined_is_resolved_by_the_referral_ending(world: World) -> None:
    pid = world.open("PassGp", CASO, PASS)
    world.send("OpenCoverage", pid, CASO, scheme="ame", opened_on=on(0), expires_on=on(360))
    orientation = uuid4()
    world.send("OrientToGp", pid, CASO, when=at(1), orientation_id=orientation, gp_ref="mg", gp_commune="Rouen",
               accepts_phone_interpreting=True)
    [alert] = world.open_alerts(pid, "consent-missing")
    assert alert.subject == "consent:mg" and alert.owner_agency == CASO.agency

    world.send("UpdateReferralStatus", pid, CASO, when=at(2), referral_id=orientation, status="cancelled",
               reason="la personne a trouvé un médecin plus proche")
    [alert] = world.alerts(pid, "consent-missing")
    assert alert.status is AlertStatus.RESOLVED
    assert alert.resolution_reason == "Orientation vers mg terminée : son accord n'est plus nécessaire."
    assert "n'intervient plus" not in alert.resolution_reason


def test_the_rights_alert_turns_high_three_days_before_the_appointment_without_a_new_event(world: World) -> None:
    pid = world.open("PassGp", CASO, PASS, CARDIO, CPAM)
    world.send("BookAppointment", pid, CASO, when=at(0, 1), appointment_id=uuid4(), with_agency=CARDIO.agency,
               service="cardiologie", scheduled_at=at(10, 5))
    world.at(paris_midnight(on(4)))
    [alert] = world.open_alerts(pid, "rights-not-open")
    assert alert.severity is AlertSeverity.MEDIUM
    # The appointment is on 12/03: high from 09/03, three days before; the engine wakes then.
    assert world.due_at(pid) == paris_midnight(on(7))
    world.at(paris_midnight(on(7)))
    [alert] = world.open_alerts(pid, "rights-not-open")
    assert alert.severity is AlertSeverity.HIGH
    assert len(world.alerts(pid, "rights-not-open")) == 1
