"""rights-not-open: exit or care appointment within N days without open coverage; AME/CSS expiring
within 30 days with no renewal filed."""

from __future__ import annotations

from uuid import uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.rules import check_rights_not_open, next_deadline_rights_not_open, resolved_findings
from domain import texts
from domain.disclosure import rule_entry
from domain.values import CoverageScheme, InformationCategory
from tests.unit.rules.builders import (
    CADA, CARDIO, CPAM, MICRO, PASS, ROUEN, SPIP, at, mr_m, on, paris, paris_midnight, raise_alert_for, release,
)

RULE = "rights-not-open"
RULE_CATEGORY = rule_entry(RULE).category


def _cardiology(pathway, day: int = 10):
    appointment = uuid4()
    pathway.book_appointment(
        appointment_id=appointment, with_agency=CARDIO.agency, service="consultation de cardiologie",
        scheduled_at=paris(on(day), 14, 30), interpreter_needed=True, language=None, actor=CADA, occurred_at=at(1),
    )
    return appointment


def test_cardiology_in_seven_days_with_ame_filed_but_not_open_raises_rights_not_open_owned_by_cpam() -> None:
    pathway = mr_m()
    pathway.apply_for_coverage(scheme=CoverageScheme.AME, applied_on=on(0), actor=CADA, occurred_at=at(0))
    _cardiology(pathway, 10)

    threshold = paris(on(3), 14, 30)  # 7 days before the consultation
    assert check_rights_not_open(pathway, threshold - MICRO, ROUEN) == []
    assert next_deadline_rights_not_open(pathway, at(1), ROUEN) == threshold
    [finding] = check_rights_not_open(pathway, threshold, ROUEN)

    assert finding.subject == "coverage"
    assert finding.owner_agency == CPAM.agency
    assert "consultation de cardiologie" in texts.full(finding.suggested_action)
    assert "dossier AME déposé le 02/03" in texts.full(finding.suggested_action)
    assert any(f.ref.startswith("appointment:") for f in finding.triggering_facts)


def test_the_cpam_reads_an_actionable_sentence_that_names_no_care() -> None:
    pathway = mr_m()
    pathway.apply_for_coverage(scheme=CoverageScheme.AME, applied_on=on(0), actor=CADA, occurred_at=at(0))
    _cardiology(pathway, 10)
    [finding] = check_rights_not_open(pathway, paris(on(3), 14, 30), ROUEN)
    without_medical = {InformationCategory.IDENTITY, InformationCategory.SOCIAL, InformationCategory.ADMINISTRATIVE}
    read = texts.render(finding.suggested_action, without_medical, RULE_CATEGORY)
    assert read == "Ouvrir les droits santé avant l'échéance du 12/03 à 14h30 (dossier AME déposé le 02/03)."
    assert texts.full(finding.suggested_action).startswith("Ouvrir les droits santé avant le rendez-vous "
                                                           "consultation de cardiologie du ")


def test_release_in_fifteen_days_without_any_application_is_the_spip_s_to_file() -> None:
    pathway = release(25)
    [finding] = check_rights_not_open(pathway, paris_midnight(on(10)), ROUEN)
    assert finding.owner_agency == SPIP.agency
    assert finding.suggested_action.startswith("Déposer la demande de droits santé")
    assert check_rights_not_open(pathway, paris_midnight(on(10)) - MICRO, ROUEN) == []


def test_opening_the_ame_resolves_the_alert_with_the_opening_named() -> None:
    pathway = mr_m()
    pathway.apply_for_coverage(scheme=CoverageScheme.AME, applied_on=on(0), actor=CADA, occurred_at=at(0))
    _cardiology(pathway, 10)
    [finding] = check_rights_not_open(pathway, at(5), ROUEN)
    raise_alert_for(pathway, finding, at(5))

    pathway.open_coverage(scheme=CoverageScheme.AME, opened_on=on(6), expires_on=on(371), actor=CPAM, occurred_at=at(6))

    assert check_rights_not_open(pathway, at(6), ROUEN) == []
    [resolution] = resolved_findings(pathway.open_alerts, [], pathway)
    assert resolution.reason == f"Droits santé ouverts (AME ouverte le {on(6):%d/%m})."


def test_rights_opened_before_the_appointment_window_raise_nothing() -> None:
    pathway = mr_m()
    pathway.open_coverage(scheme=CoverageScheme.AME, opened_on=on(0), expires_on=on(365), actor=CPAM, occurred_at=at(0))
    _cardiology(pathway, 10)
    for day in (3, 9, 11):
        assert check_rights_not_open(pathway, at(day), ROUEN) == []
    # The only moment left is the renewal reminder, 30 days before the AME ends.
    assert next_deadline_rights_not_open(pathway, at(1), ROUEN) == paris_midnight(on(335))


def test_a_pass_appointment_needs_no_open_rights() -> None:
    pathway = mr_m()
    pathway.book_appointment(appointment_id=uuid4(), with_agency=PASS.agency, service="consultation PASS",
                             scheduled_at=at(3), interpreter_needed=False, language=None, actor=CADA, occurred_at=at(1))
    assert check_rights_not_open(pathway, at(2), ROUEN) == []


def test_soins_urgents_alone_are_not_open_rights() -> None:
    pathway = release(25)
    pathway.open_coverage(scheme=CoverageScheme.URGENT_CARE, opened_on=on(0), expires_on=None, actor=SPIP, occurred_at=at(0))
    assert [f.subject for f in check_rights_not_open(pathway, at(12), ROUEN)] == ["coverage"]


def test_ame_expiring_in_thirty_days_without_renewal_raises_and_filing_it_resolves() -> None:
    pathway = mr_m()
    pathway.open_coverage(scheme=CoverageScheme.AME, opened_on=on(-300), expires_on=on(60), actor=CPAM, occurred_at=at(0))
    threshold = paris_midnight(on(30))

    assert check_rights_not_open(pathway, threshold - MICRO, ROUEN) == []
    assert next_deadline_rights_not_open(pathway, at(0), ROUEN) == threshold
    [finding] = check_rights_not_open(pathway, threshold, ROUEN)
    assert finding.subject == "renewal:ame"
    assert finding.owner_agency == PASS.agency  # the PASS taking part files it
    assert f"expire le {on(60):%d/%m}" in finding.suggested_action
    raise_alert_for(pathway, finding, threshold)

    pathway.file_coverage_renewal(scheme=CoverageScheme.AME, filed_on=on(32), actor=CADA, occurred_at=at(32))

    assert check_rights_not_open(pathway, at(32), ROUEN) == []
    [resolution] = resolved_findings(pathway.open_alerts, [], pathway)
    assert resolution.reason == f"Renouvellement déposé le {on(32):%d/%m}."


def test_renewal_filed_early_raises_nothing() -> None:
    pathway = mr_m()
    pathway.open_coverage(scheme=CoverageScheme.CSS, opened_on=on(-300), expires_on=on(60), actor=CPAM, occurred_at=at(0))
    pathway.file_coverage_renewal(scheme=CoverageScheme.CSS, filed_on=on(10), actor=CADA, occurred_at=at(10))
    assert check_rights_not_open(pathway, at(59), ROUEN) == []
    assert next_deadline_rights_not_open(pathway, at(10), ROUEN) is None


def test_nothing_filed_yet_the_pass_taking_part_owns_the_application() -> None:
    pathway = mr_m()
    _cardiology(pathway, 10)
    [finding] = check_rights_not_open(pathway, at(5), ROUEN)
    assert finding.owner_agency == PASS.agency
    assert texts.full(finding.suggested_action).startswith(
        "Déposer la demande de droits santé (PUMa/CSS ou AME) avant le rendez-vous")


def test_a_filed_application_stays_with_a_participant_when_the_cpam_does_not_take_part() -> None:
    pathway = mr_m(PASS, CARDIO)
    pathway.apply_for_coverage(scheme=CoverageScheme.AME, applied_on=on(0), actor=CADA, occurred_at=at(0))
    _cardiology(pathway, 10)
    [finding] = check_rights_not_open(pathway, at(5), ROUEN)
    assert finding.owner_agency == PASS.agency  # never the territory's CPAM outside the pathway


def test_after_the_release_is_recorded_the_action_says_to_file_now_not_before_the_past_release() -> None:
    pathway = release(5)
    [before] = check_rights_not_open(pathway, at(1), ROUEN)
    assert f"avant la sortie de détention du {on(5):%d/%m}" in before.suggested_action

    pathway.record_release(released_on=on(5), actor=SPIP, occurred_at=at(5, 10))
    [after] = check_rights_not_open(pathway, at(8), ROUEN)

    assert after.suggested_action == (
        "Déposer la demande de droits santé (PUMa/CSS ou AME) sans attendre : "
        f"la personne est sortie le {on(5):%d/%m} sans droits ouverts.")
    assert "avant" not in after.suggested_action


@settings(max_examples=40, deadline=None)
@given(planned=st.integers(min_value=1, max_value=30), released=st.integers(min_value=0, max_value=30),
       seen_after=st.integers(min_value=0, max_value=20), filed=st.booleans())
def test_once_out_no_rights_action_advises_acting_before_a_date_already_past(
        planned: int, released: int, seen_after: int, filed: bool) -> None:
    pathway = release(planned)
    if filed:
        pathway.apply_for_coverage(scheme=CoverageScheme.AME, applied_on=on(0), actor=SPIP, occurred_at=at(0))
    pathway.record_release(released_on=on(released), actor=SPIP, occurred_at=at(released, 10))
    now = at(released + seen_after, 12)
    for finding in check_rights_not_open(pathway, now, ROUEN):
        assert "avant" not in finding.suggested_action, finding.suggested_action
        assert f"sortie le {on(released):%d/%m}" in finding.suggested_action
