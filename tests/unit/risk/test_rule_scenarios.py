"""One scenario per rule of the catalogue, from the seed situations, through the whole engine:
commands on the pathways service -> relay -> in-process bus -> risk engine -> alert events.

Each "fires" test checks that the alert is raised at the right moment (not a minute before the
threshold, and at the threshold on the clock sweep — or on the event itself for the rules that
fire on a fact), names the owner agency, carries the ids of the events behind it, a French
suggested action and a severity, and is resolved, with the fact as the reason, when the
missing fact arrives. Each "does not fire" test gives the fact in time.
"""

from __future__ import annotations

from uuid import uuid4

from domain import texts
from domain.rules import CATALOGUE
from domain.values import AlertSeverity, AlertStatus
from tests.unit.risk.world import (
    ADOMA, CADA, CARDIO, CASO, CLAT, CPAM, CSAPA, DAC, EMPP, MATERNITY, MINUTE, PASS, PMI, SIAO, SPIP, USMP,
    World, at, on, paris_midnight,
)

FRENCH_WORDS = ("le ", "la ", "les ", "du ", "de ", "avant", "pour", "avec", "sans", "auprès", "à ")


def only(world: World, pathway_id, rule_id: str):
    alerts = world.alerts(pathway_id, rule_id)
    assert len(alerts) == 1, [(a.rule_id, a.subject, a.status) for a in world.alerts(pathway_id)]
    return alerts[0]


def check_alert(alert, *, owner: str, severity: AlertSeverity, action_starts: str, events: list[str]) -> None:
    assert alert.status is AlertStatus.RAISED
    assert alert.owner_agency == owner
    assert alert.severity is severity
    action = texts.full(alert.suggested_action)  # every part: the owner's care team reads it whole
    assert action.startswith(action_starts), action
    assert any(w in action for w in FRENCH_WORDS)
    assert alert.triggering_event_ids, "an alert must name the events behind it"
    assert set(events) <= set(alert.triggering_event_ids), (events, alert.triggering_event_ids)


def check_resolved(world: World, pathway_id, rule_id: str, reason: str) -> None:
    [alert] = world.alerts(pathway_id, rule_id)
    assert alert.status is AlertStatus.RESOLVED
    assert texts.full(alert.resolution_reason).startswith(reason), alert.resolution_reason


def test_every_rule_of_the_catalogue_has_a_firing_and_a_silent_scenario_here() -> None:
    names = {name for name in globals() if name.startswith("test_")}
    for rule in CATALOGUE:
        slug = rule.rule_id.replace("-", "_")
        assert any(n.startswith(f"test_{slug}_fires") for n in names), rule.rule_id
        assert any(n.startswith(f"test_{slug}_does_not_fire") for n in names), rule.rule_id


# --------------------------------------------------------------------------- exit-without-housing
def test_exit_without_housing_fires_fifteen_days_before_release_owned_by_the_siao_and_resolves_on_confirmed_housing(
    world: World,
) -> None:
    pid = world.open("Detention", SPIP, USMP, SIAO, prison="Maison d'arrêt de Rouen", release_date=on(25))
    request = uuid4()
    world.send("RequestHousing", pid, SPIP, when=at(1), request_id=request, via_agency=SIAO.agency, needed_from=on(25))
    threshold = paris_midnight(on(10))

    world.at(threshold - MINUTE)
    assert world.alerts(pid, "exit-without-housing") == []
    assert world.due_at(pid) == threshold

    world.at(threshold)
    alert = only(world, pid, "exit-without-housing")
    check_alert(alert, owner="siao-76", severity=AlertSeverity.MEDIUM,
                action_starts="Confirmer une solution d'hébergement avec le siao-76 avant la sortie de détention du 27/03",
                events=world.event_ids(pid, "DetentionPathwayOpened") + world.event_ids(pid, "HousingRequested"))

    world.send("OfferHousing", pid, SIAO, when=at(12), request_id=request, place="CHRS Emmaüs Rouen", available_on=on(25))
    assert world.open_alerts(pid, "exit-without-housing")
    world.send("ConfirmHousing", pid, SPIP, when=at(13), request_id=request)
    check_resolved(world, pid, "exit-without-housing", "Hébergement confirmé (CHRS Emmaüs Rouen).")


def test_exit_without_housing_does_not_fire_when_housing_was_confirmed_before_the_window(world: World) -> None:
    pid = world.open("Detention", SPIP, USMP, SIAO, prison="Maison d'arrêt de Rouen", release_date=on(25))
    request = uuid4()
    world.send("RequestHousing", pid, SPIP, when=at(1), request_id=request, via_agency=SIAO.agency)
    world.send("OfferHousing", pid, SIAO, when=at(3), request_id=request, place="CHRS", available_on=on(25))
    world.send("ConfirmHousing", pid, SPIP, when=at(4), request_id=request)

    for day in (10, 20, 24):
        world.at(at(day))
    assert world.alerts(pid, "exit-without-housing") == []


# --------------------------------------------------------------------------- rights-not-open
def test_rights_not_open_fires_a_week_before_the_cardiology_appointment_owned_by_cpam_and_resolves_when_ame_opens(
    world: World,
) -> None:
    pid = world.open("PassGp", CASO, PASS, CARDIO, CPAM)
    world.send("ApplyForCoverage", pid, CASO, when=at(1), scheme="ame", applied_on=on(1))
    appointment = uuid4()
    world.send("BookAppointment", pid, CASO, when=at(1), appointment_id=appointment, with_agency=CARDIO.agency,
               service="cardiologie", scheduled_at=at(10))
    threshold = at(3)  # scheduled day 10, 09:00 UTC; seven days before

    world.at(threshold - MINUTE)
    assert world.alerts(pid, "rights-not-open") == []
    world.at(threshold)
    alert = only(world, pid, "rights-not-open")
    assert alert.subject == "coverage"
    check_alert(alert, owner="cpam-76", severity=AlertSeverity.MEDIUM,
                action_starts="Ouvrir les droits santé avant le rendez-vous cardiologie du 12/03",
                events=world.event_ids(pid, "AppointmentBooked") + world.event_ids(pid, "CoverageApplied"))

    world.send("OpenCoverage", pid, CPAM, when=at(5), scheme="ame", opened_on=on(5), expires_on=on(370))
    check_resolved(world, pid, "rights-not-open", "Droits santé ouverts (AME ouverte le 07/03)")


def test_rights_not_open_does_not_fire_when_ame_opened_before_the_appointment_window(world: World) -> None:
    pid = world.open("PassGp", CASO, PASS, CARDIO, CPAM)
    world.send("ApplyForCoverage", pid, CASO, when=at(1), scheme="ame", applied_on=on(1))
    world.send("BookAppointment", pid, CASO, when=at(1), appointment_id=uuid4(), with_agency=CARDIO.agency,
               service="cardiologie", scheduled_at=at(10))
    world.send("OpenCoverage", pid, CPAM, when=at(2), scheme="ame", opened_on=on(2), expires_on=on(367))

    for day in (3, 9):
        world.at(at(day))
    assert world.alerts(pid, "rights-not-open") == []


# --------------------------------------------------------------------------- interpreter-missing
def _mr_m(world: World):
    """Mr M., 75, housed in a CADA, AME open, needs an Arabic interpreter for cardiology."""
    pid = world.open("PassGp", CADA, PASS, CARDIO, CPAM)
    world.send("OpenCoverage", pid, CPAM, scheme="ame", opened_on=on(0), expires_on=on(360))
    world.send("RecordInterpreterNeed", pid, CADA, language="arabe")
    appointment = uuid4()
    world.send("BookAppointment", pid, CADA, when=at(0, 1), appointment_id=appointment, with_agency=CARDIO.agency,
               service="cardiologie", scheduled_at=at(5, 1), interpreter_needed=True)
    return pid, appointment


def test_interpreter_missing_fires_48_hours_before_mr_ms_cardiology_appointment_owned_by_the_cada_and_resolves_when_ism_is_booked(
    world: World,
) -> None:
    pid, appointment = _mr_m(world)
    threshold = at(3, 1)

    world.at(threshold - MINUTE)
    assert world.alerts(pid, "interpreter-missing") == []
    world.at(threshold)
    alert = only(world, pid, "interpreter-missing")
    assert alert.subject == f"appointment:{appointment}"
    check_alert(alert, owner=CADA.agency, severity=AlertSeverity.HIGH,
                action_starts="Réserver un interprète (arabe) pour le rendez-vous du 07/03",
                events=world.event_ids(pid, "AppointmentBooked"))

    world.send("BookInterpreter", pid, CADA, when=at(4), appointment_id=appointment, provider="ISM Interprétariat")
    check_resolved(world, pid, "interpreter-missing", "Interprète réservé (ISM Interprétariat).")


def test_interpreter_missing_fires_for_mr_m_when_the_booking_left_the_interpreter_flag_unset(world: World) -> None:
    """The seed case: the person's need is inherited by every appointment."""
    pid = world.open("PassGp", CADA, PASS, CARDIO, CPAM)
    world.send("OpenCoverage", pid, CPAM, scheme="ame", opened_on=on(0), expires_on=on(360))
    world.send("RecordInterpreterNeed", pid, CADA, language="arabe")
    appointment = uuid4()
    world.send("BookAppointment", pid, CADA, when=at(0, 1), appointment_id=appointment, with_agency=CARDIO.agency,
               service="cardiologie", scheduled_at=at(5, 1))  # interpreter_needed defaults to False
    world.at(at(3, 1) - MINUTE)
    assert world.alerts(pid, "interpreter-missing") == []
    world.at(at(3, 1))
    alert = only(world, pid, "interpreter-missing")
    check_alert(alert, owner=CADA.agency, severity=AlertSeverity.HIGH,
                action_starts="Réserver un interprète (arabe) pour le rendez-vous du 07/03",
                events=world.event_ids(pid, "AppointmentBooked"))
    world.send("BookInterpreter", pid, CADA, when=at(4), appointment_id=appointment, provider="ISM Interprétariat")
    check_resolved(world, pid, "interpreter-missing", "Interprète réservé (ISM Interprétariat).")


def test_interpreter_missing_does_not_fire_when_the_interpreter_was_booked_in_time(world: World) -> None:
    pid, appointment = _mr_m(world)
    world.send("BookInterpreter", pid, CARDIO, when=at(1), appointment_id=appointment, provider="ISM")
    for moment in (at(3, 1), at(5)):
        world.at(moment)
    assert world.alerts(pid, "interpreter-missing") == []


# --------------------------------------------------------------------------- referral-unverified
def _referral(world: World):
    pid = world.open("PassGp", CASO, PASS, CSAPA)
    referral = uuid4()
    world.send("MakeReferral", pid, PASS, when=at(1), referral_id=referral, to_agency=CSAPA.agency,
               service="consultation addictologie")
    return pid, referral


def test_referral_unverified_fires_fourteen_days_after_the_orientation_owned_by_the_referring_pass_and_resolves_on_the_outcome(
    world: World,
) -> None:
    pid, referral = _referral(world)
    threshold = at(15)

    world.at(threshold - MINUTE)
    assert world.alerts(pid, "referral-unverified") == []
    world.at(threshold)
    alert = only(world, pid, "referral-unverified")
    check_alert(alert, owner=PASS.agency, severity=AlertSeverity.MEDIUM,
                action_starts="Vérifier auprès de la personne et de csapa-rouen si l'orientation du 03/03",
                events=world.event_ids(pid, "ReferralMade"))

    world.send("RecordReferralOutcome", pid, PASS, when=at(16), referral_id=referral, outcome="honoured")
    check_resolved(world, pid, "referral-unverified", "Orientation honorée.")


def test_referral_unverified_does_not_fire_when_the_follow_up_call_recorded_the_outcome_in_time(world: World) -> None:
    pid, referral = _referral(world)
    world.send("RecordReferralOutcome", pid, PASS, when=at(10), referral_id=referral, outcome="honoured")
    world.at(at(15))
    world.at(at(30))
    assert world.alerts(pid, "referral-unverified") == []


# --------------------------------------------------------------------------- missed-appointment-unfollowed
def _missed(world: World):
    pid = world.open("PassGp", CASO, PASS)
    appointment = uuid4()
    world.send("BookAppointment", pid, CASO, appointment_id=appointment, with_agency=PASS.agency,
               service="consultation PASS", scheduled_at=at(2))
    world.send("MarkAppointmentMissed", pid, PASS, when=at(2, 2), appointment_id=appointment)
    return pid, appointment


def test_missed_appointment_unfollowed_fires_seven_days_after_the_missed_pass_visit_owned_by_the_booking_caso_and_resolves_when_the_person_is_reached(
    world: World,
) -> None:
    pid, appointment = _missed(world)
    threshold = at(9)

    world.at(threshold - MINUTE)
    assert world.alerts(pid, "missed-appointment-unfollowed") == []
    world.at(threshold)
    alert = only(world, pid, "missed-appointment-unfollowed")
    check_alert(alert, owner=CASO.agency, severity=AlertSeverity.HIGH,
                action_starts="Recontacter la personne après le rendez-vous manqué du 04/03",
                events=world.event_ids(pid, "AppointmentMissed"))

    world.send("RecordContactAttempt", pid, CASO, when=at(10), reached=True, channel="phone")
    check_resolved(world, pid, "missed-appointment-unfollowed", "Personne recontactée ou nouveau rendez-vous pris.")


def test_missed_appointment_unfollowed_does_not_fire_when_a_new_appointment_was_booked_within_the_week(
    world: World,
) -> None:
    pid, _ = _missed(world)
    world.send("BookAppointment", pid, CASO, when=at(4), appointment_id=uuid4(), with_agency=PASS.agency,
               service="consultation PASS", scheduled_at=at(8))
    world.at(at(9))
    world.at(at(20))
    assert world.alerts(pid, "missed-appointment-unfollowed") == []


# --------------------------------------------------------------------------- contact-lost
def test_contact_lost_fires_on_the_third_failed_call_owned_by_the_lead_and_resolves_when_a_new_number_is_recorded(
    world: World,
) -> None:
    pid = world.open("PassGp", CASO, PASS)
    world.send("RecordContactAttempt", pid, CASO, when=at(1), reached=False)
    world.send("RecordContactAttempt", pid, CASO, when=at(2), reached=False)
    assert world.alerts(pid, "contact-lost") == []

    world.send("RecordContactAttempt", pid, CASO, when=at(3), reached=False)  # fires on the fact, no sweep
    alert = only(world, pid, "contact-lost")
    check_alert(alert, owner=CASO.agency, severity=AlertSeverity.HIGH,
                action_starts="Personne injoignable (3 tentatives de contact sans réponse)",
                events=world.event_ids(pid, "ContactAttempted")[-1:])
    assert alert.raised_at == at(3)

    world.send("RecordPhoneStatus", pid, CASO, when=at(4), status="valid")
    check_resolved(world, pid, "contact-lost", "Nouveau numéro de téléphone enregistré.")


def test_contact_lost_does_not_fire_when_the_person_answers_before_the_third_attempt(world: World) -> None:
    pid = world.open("PassGp", CASO, PASS)
    for day, reached in ((1, False), (2, False), (3, True), (4, False)):
        world.send("RecordContactAttempt", pid, CASO, when=at(day), reached=reached)
    world.at(at(10))
    assert world.alerts(pid, "contact-lost") == []


# --------------------------------------------------------------------------- referral-declined
def _gp_orientation(world: World):
    """MdM Rouen: the PASS orients the person to a GP once the AME is open."""
    pid = world.open("PassGp", CASO, PASS, CPAM)
    world.send("OpenCoverage", pid, CPAM, scheme="ame", opened_on=on(0), expires_on=on(360))
    orientation = uuid4()
    world.send("OrientToGp", pid, PASS, when=at(1), orientation_id=orientation, gp_ref="mg-rouen-17",
               gp_commune="Rouen")
    return pid, orientation


def test_referral_declined_fires_when_the_gp_no_longer_takes_patients_owned_by_the_pass_and_resolves_on_a_new_orientation(
    world: World,
) -> None:
    pid, orientation = _gp_orientation(world)
    world.send("RecordGpVisitOutcome", pid, PASS, when=at(5), orientation_id=orientation, outcome="did_not_go",
               reason="gp_not_taking_patients")
    alert = only(world, pid, "referral-declined")
    assert alert.raised_at == at(5)
    check_alert(alert, owner=PASS.agency, severity=AlertSeverity.HIGH,
                action_starts="Nouvelle orientation nécessaire : mg-rouen-17 n'a pas pris la personne en charge",
                events=world.event_ids(pid, "OrientedToGp") + world.event_ids(pid, "GpVisitOutcomeRecorded"))
    assert "ne prend plus de nouveaux patients" in alert.suggested_action

    world.send("OrientToGp", pid, PASS, when=at(6), orientation_id=uuid4(), gp_ref="mg-rouen-42", gp_commune="Rouen")
    check_resolved(world, pid, "referral-declined", "Nouvelle orientation faite ou besoin couvert.")


def test_referral_declined_does_not_fire_when_the_person_went_to_the_gp(world: World) -> None:
    pid, orientation = _gp_orientation(world)
    world.send("RecordGpVisitOutcome", pid, PASS, when=at(5), orientation_id=orientation, outcome="went")
    world.at(at(30))
    assert world.alerts(pid, "referral-declined") == []


# --------------------------------------------------------------------------- treatment-continuity
def _release_with_methadone(world: World):
    pid = world.open("Detention", SPIP, USMP, SIAO, CSAPA, prison="Maison d'arrêt de Rouen", release_date=on(20))
    treatment = uuid4()
    world.send("RecordTreatmentToContinue", pid, USMP, when=at(1), treatment_id=treatment, kind="substitution",
               name="méthadone 60 mg", prescribed_by=USMP.agency)
    return pid, treatment


def test_treatment_continuity_fires_ten_days_before_release_with_methadone_owned_by_the_usmp_and_resolves_on_a_csapa_follow_up(
    world: World,
) -> None:
    pid, treatment = _release_with_methadone(world)
    threshold = paris_midnight(on(10))

    world.at(threshold - MINUTE)
    assert world.alerts(pid, "treatment-continuity") == []
    world.at(threshold)
    alert = only(world, pid, "treatment-continuity")
    check_alert(alert, owner=USMP.agency, severity=AlertSeverity.CRITICAL,
                action_starts="Prendre un premier rendez-vous après la sortie du 22/03",
                events=world.event_ids(pid, "TreatmentToContinueRecorded") + world.event_ids(pid, "DetentionPathwayOpened"))

    appointment = uuid4()
    world.send("BookAppointment", pid, USMP, when=at(11), appointment_id=appointment, with_agency=CSAPA.agency,
               service="CSAPA primo-consultation", scheduled_at=at(21))
    world.send("PlanTreatmentFollowUp", pid, USMP, when=at(11), treatment_id=treatment, appointment_id=appointment)
    check_resolved(world, pid, "treatment-continuity", "Rendez-vous de suivi après la sortie programmé le 23/03.")


def test_treatment_continuity_does_not_fire_when_the_csapa_appointment_was_planned_early(world: World) -> None:
    pid, treatment = _release_with_methadone(world)
    appointment = uuid4()
    world.send("BookAppointment", pid, USMP, when=at(2), appointment_id=appointment, with_agency=CSAPA.agency,
               service="CSAPA primo-consultation", scheduled_at=at(21))
    world.send("PlanTreatmentFollowUp", pid, USMP, when=at(2), treatment_id=treatment, appointment_id=appointment)
    for day in (10, 19):
        world.at(at(day))
    assert world.alerts(pid, "treatment-continuity") == []


# --------------------------------------------------------------------------- newborn-without-follow-up
def _mother_housed_with_newborn(world: World):
    pid = world.open("Maternity", MATERNITY, SIAO, PMI, maternity_ward="Maternité CHU Rouen", discharge_date=on(10))
    request = uuid4()
    world.send("RequestHousing", pid, MATERNITY, request_id=request, via_agency=SIAO.agency)
    world.send("OfferHousing", pid, SIAO, request_id=request, place="Centre maternel", available_on=on(10))
    world.send("ConfirmHousing", pid, MATERNITY, request_id=request)
    world.send("RegisterNewborn", pid, MATERNITY, when=at(0, 2), newborn_ref="NN-0019", born_on=on(0))
    return pid


def test_newborn_without_follow_up_fires_seven_days_before_discharge_without_pmi_owned_by_the_maternity_and_resolves_on_the_pmi_link(
    world: World,
) -> None:
    pid = _mother_housed_with_newborn(world)
    threshold = paris_midnight(on(3))

    world.at(threshold - MINUTE)
    assert world.alerts(pid, "newborn-without-follow-up") == []
    world.at(threshold)
    alert = only(world, pid, "newborn-without-follow-up")
    assert alert.subject == "newborn:pmi"
    check_alert(alert, owner=MATERNITY.agency, severity=AlertSeverity.HIGH,
                action_starts="Faire le lien avec la PMI avant la sortie de maternité du 12/03",
                events=world.event_ids(pid, "NewbornRegistered"))

    world.send("LinkPmi", pid, MATERNITY, when=at(4), pmi_agency=PMI.agency, first_visit_on=on(11))
    check_resolved(world, pid, "newborn-without-follow-up", "Lien PMI fait (pmi-76).")


def test_newborn_without_follow_up_does_not_fire_when_pmi_and_housing_were_arranged_in_time(world: World) -> None:
    pid = _mother_housed_with_newborn(world)
    world.send("LinkPmi", pid, MATERNITY, when=at(1), pmi_agency=PMI.agency, first_visit_on=on(11))
    for day in (3, 9):
        world.at(at(day))
    assert world.alerts(pid, "newborn-without-follow-up") == []


# --------------------------------------------------------------------------- screening-overdue
def _sas(world: World):
    pid = world.open("Sas", ADOMA, SIAO, PASS, CLAT, arrived_on=on(0), from_high_tb_endemicity=True)
    world.send("DecideOrientation", pid, ADOMA, when=at(1), destination="CADA Rouen", decided_on=on(1))
    return pid


def test_screening_overdue_fires_ten_days_after_sas_arrival_without_tb_screening_owned_by_the_clat_and_resolves_on_screening(
    world: World,
) -> None:
    pid = _sas(world)
    threshold = paris_midnight(on(10))

    world.at(threshold - MINUTE)
    assert world.alerts(pid, "screening-overdue") == []
    world.at(threshold)
    alert = only(world, pid, "screening-overdue")
    assert alert.subject == "screening:tb"
    check_alert(alert, owner=CLAT.agency, severity=AlertSeverity.HIGH,
                action_starts="Organiser le dépistage de la tuberculose au CLAT (arrivée au SAS le 02/03",
                events=world.event_ids(pid, "SasPathwayOpened"))

    world.send("RecordClatScreening", pid, CLAT, when=at(11), screened_on=on(11))
    check_resolved(world, pid, "screening-overdue", "Dépistage CLAT réalisé le 13/03.")


def test_screening_overdue_does_not_fire_when_the_clat_appointment_was_booked_in_the_first_days(world: World) -> None:
    pid = _sas(world)
    world.send("BookAppointment", pid, ADOMA, when=at(3), appointment_id=uuid4(), with_agency=CLAT.agency,
               service="radio pulmonaire CLAT", scheduled_at=at(8))
    for day in (10, 11):
        world.at(at(day))
    assert world.alerts(pid, "screening-overdue") == []


def test_screening_overdue_fires_when_the_clat_appointment_falls_after_the_ten_days(world: World) -> None:
    pid = _sas(world)
    world.send("BookAppointment", pid, ADOMA, when=at(3), appointment_id=uuid4(), with_agency=CLAT.agency,
               service="radio pulmonaire CLAT", scheduled_at=at(16))
    world.at(at(11))
    alert = only(world, pid, "screening-overdue")
    assert alert.subject == "screening:tb" and alert.owner_agency == CLAT.agency


# --------------------------------------------------------------------------- stalled
def _pathway_with_open_need(world: World):
    pid = world.open("PassGp", CASO, PASS)
    world.send("RecordNeed", pid, CASO, need_id=uuid4(), category="care", description="suivi diabète")
    return pid


def test_stalled_fires_three_weeks_after_the_last_progress_owned_by_the_lead_and_its_own_alert_does_not_reset_it(
    world: World,
) -> None:
    pid = _pathway_with_open_need(world)
    threshold = at(21)

    world.at(threshold - MINUTE)
    assert world.alerts(pid, "stalled") == []
    world.at(threshold)
    alert = only(world, pid, "stalled")
    check_alert(alert, owner=CASO.agency, severity=AlertSeverity.MEDIUM,
                action_starts="Parcours sans mouvement depuis le 02/03 avec 1 besoin ouvert",
                events=world.event_ids(pid, "NeedRecorded"))
    world.at(at(22))
    assert world.open_alerts(pid, "stalled"), "the engine's own alert is not progress"

    world.send("RecordContactAttempt", pid, CASO, when=at(23), reached=True)
    check_resolved(world, pid, "stalled", "Nouvelle activité sur le parcours.")


def test_stalled_does_not_fire_when_the_pathway_moved_within_three_weeks(world: World) -> None:
    pid = _pathway_with_open_need(world)
    world.send("RecordContactAttempt", pid, CASO, when=at(15), reached=True)
    world.at(at(21))
    world.at(at(35))
    assert world.alerts(pid, "stalled") == []
    assert world.due_at(pid) == at(36)


# --------------------------------------------------------------------------- consent-missing
def test_consent_missing_fires_when_the_siao_joins_without_the_persons_consent_and_resolves_when_consent_is_given(
    world: World,
) -> None:
    pid = world.open("PassGp", CASO, PASS)
    world.join(pid, CASO, SIAO, consent=False)
    alert = only(world, pid, "consent-missing")
    assert alert.subject == "consent:siao-76"
    check_alert(alert, owner=CASO.agency, severity=AlertSeverity.MEDIUM,
                action_starts="Recueillir l'accord de la personne pour partager les informations utiles avec siao-76",
                events=world.event_ids(pid, "AgencyJoined")[-1:])

    world.send("GrantConsent", pid, CASO, when=at(1), agency=SIAO.agency, categories=["social"], collected_by="p-recueil", informed_by="oral")
    check_resolved(world, pid, "consent-missing", "Consentement recueilli pour siao-76.")


def test_consent_missing_does_not_fire_when_consent_was_given_before_the_agency_joined(world: World) -> None:
    pid = world.open("PassGp", CASO, PASS, SIAO, DAC)
    world.at(at(5))
    assert world.alerts(pid, "consent-missing") == []


# --------------------------------------------------------------------------- care-refused
def _hospitalisation_proposed(world: World):
    pid = world.open("PassGp", CASO, PASS, EMPP, DAC)
    appointment = uuid4()
    world.send("BookAppointment", pid, EMPP, appointment_id=appointment, with_agency=EMPP.agency,
               service="hospitalisation en psychiatrie", scheduled_at=at(3))
    return pid, appointment


def test_care_refused_fires_when_the_person_refuses_hospitalisation_owned_by_the_dac_and_resolves_after_a_case_conference(
    world: World,
) -> None:
    pid, appointment = _hospitalisation_proposed(world)
    world.send("CancelAppointment", pid, EMPP, when=at(2), appointment_id=appointment,
               reason="La personne refuse l'hospitalisation")
    alert = only(world, pid, "care-refused")
    check_alert(alert, owner=DAC.agency, severity=AlertSeverity.HIGH,
                action_starts="La personne a refusé le 04/03 une prise en charge proposée : organiser une synthèse",
                events=world.event_ids(pid, "AppointmentCancelled"))

    world.send("HoldCaseConference", pid, DAC, when=at(4), conference_id=uuid4(),
               agencies=[DAC.agency, EMPP.agency, CASO.agency], decisions=["Maraude EMPP deux fois par semaine"])
    check_resolved(world, pid, "care-refused", "Synthèse tenue.")


def test_care_refused_recorded_as_a_fact_raises_one_alert_naming_that_event_and_resolves_after_a_case_conference(
    world: World,
) -> None:
    pid, appointment = _hospitalisation_proposed(world)
    refusal = uuid4()
    world.send("RecordCareRefusal", pid, EMPP, when=at(2), refusal_id=refusal, care="hospitalisation en psychiatrie",
               proposed_by=EMPP.agency, reason="« Je ne retournerai pas à l'hôpital »", related_id=appointment)
    world.send("CancelAppointment", pid, EMPP, when=at(2), appointment_id=appointment,
               reason="La personne refuse l'hospitalisation")
    alert = only(world, pid, "care-refused")
    assert alert.subject == f"refusal:{refusal}"
    check_alert(alert, owner=DAC.agency, severity=AlertSeverity.HIGH,
                action_starts="La personne a refusé le 04/03 une prise en charge proposée : organiser une synthèse",
                events=world.event_ids(pid, "CareRefused"))

    world.send("HoldCaseConference", pid, DAC, when=at(4), conference_id=uuid4(),
               agencies=[DAC.agency, EMPP.agency, CASO.agency], decisions=["Maraude EMPP deux fois par semaine"])
    check_resolved(world, pid, "care-refused", "Synthèse tenue.")


def test_care_refused_does_not_fire_when_the_service_itself_postponed_the_appointment(world: World) -> None:
    pid, appointment = _hospitalisation_proposed(world)
    world.send("CancelAppointment", pid, EMPP, when=at(2), appointment_id=appointment,
               reason="Pas de lit disponible, report par le service")
    world.at(at(5))
    assert world.alerts(pid, "care-refused") == []
