"""missed-appointment-unfollowed: a missed appointment with no new contact or appointment within N days."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from domain.rules import check_missed_appointment_unfollowed, next_deadline_missed_appointment_unfollowed, resolved_findings
from domain.values import AlertSeverity
from tests.unit.rules.builders import CSAPA, MICRO, ROUEN, SPIP, at, on, paris, raise_alert_for, release


def _missed_csapa(pathway):
    appointment = uuid4()
    pathway.book_appointment(appointment_id=appointment, with_agency=CSAPA.agency, service="consultation CSAPA",
                             scheduled_at=paris(on(26), 10), interpreter_needed=False, language=None,
                             actor=SPIP, occurred_at=at(5))
    pathway.mark_appointment_missed(appointment_id=appointment, actor=CSAPA, occurred_at=paris(on(26), 12))
    return appointment


def test_csapa_appointment_missed_after_release_and_unfollowed_for_seven_days_raises_owned_by_the_spip() -> None:
    pathway = release(25)
    appointment = _missed_csapa(pathway)
    # Seven days of elapsed time (the clocks change on 29/03: 11h in Rouen, not 10h).
    threshold = paris(on(26), 10) + timedelta(days=7)
    assert threshold == paris(on(33), 11)

    assert check_missed_appointment_unfollowed(pathway, threshold - MICRO, ROUEN) == []
    assert next_deadline_missed_appointment_unfollowed(pathway, paris(on(26), 12), ROUEN) == threshold
    [finding] = check_missed_appointment_unfollowed(pathway, threshold, ROUEN)

    assert finding.subject == f"appointment:{appointment}"
    assert finding.owner_agency == SPIP.agency  # the agency that booked it follows the person
    assert finding.severity is AlertSeverity.HIGH
    # The day and time, not the care: the SPIP reads the (social) alert and calls the person.
    assert finding.suggested_action == (
        f"Recontacter la personne après le rendez-vous manqué du {on(26):%d/%m} à 10h00 et proposer un nouveau rendez-vous."
    )


def test_reaching_the_person_after_the_missed_appointment_resolves_it() -> None:
    pathway = release(25)
    _missed_csapa(pathway)
    [finding] = check_missed_appointment_unfollowed(pathway, at(34), ROUEN)
    raise_alert_for(pathway, finding, at(34))

    pathway.record_contact_attempt(reached=True, channel="téléphone", actor=SPIP, occurred_at=at(35))

    assert check_missed_appointment_unfollowed(pathway, at(35), ROUEN) == []
    [resolution] = resolved_findings(pathway.open_alerts, [], pathway)
    assert resolution.reason == "Personne recontactée ou nouveau rendez-vous pris."


def test_a_new_csapa_appointment_booked_the_next_day_raises_nothing() -> None:
    pathway = release(25)
    _missed_csapa(pathway)
    pathway.book_appointment(appointment_id=uuid4(), with_agency=CSAPA.agency, service="consultation CSAPA",
                             scheduled_at=paris(on(29), 10), interpreter_needed=False, language=None,
                             actor=CSAPA, occurred_at=at(27))
    assert check_missed_appointment_unfollowed(pathway, at(40), ROUEN) == []
    assert next_deadline_missed_appointment_unfollowed(pathway, at(27), ROUEN) is None


def test_an_unanswered_call_is_not_a_follow_up() -> None:
    pathway = release(25)
    _missed_csapa(pathway)
    pathway.record_contact_attempt(reached=False, channel="téléphone", actor=SPIP, occurred_at=at(28))
    assert len(check_missed_appointment_unfollowed(pathway, at(34), ROUEN)) == 1
