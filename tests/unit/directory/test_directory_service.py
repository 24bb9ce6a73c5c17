"""The directory's service: owned, fresh, with a quota that is never exceeded."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from services.directory import DirectoryApplication, DirectoryHandler, DirectoryIndex
from tests.unit.directory.helpers import NOW, envelope, register


def _handler() -> DirectoryHandler:
    return DirectoryHandler(DirectoryApplication(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}))


def test_an_agency_registers_its_service_and_finds_it_in_the_directory() -> None:
    handler, sid = _handler(), uuid4()
    result = handler.handle_payload("RegisterService", register(sid, "mg-martin"))
    assert result.accepted
    [service] = DirectoryIndex(handler.app).services()
    assert service.owner == "mg-martin" and service.details.commune == "Rouen"
    assert service.date_maj == NOW.date()


def test_only_the_owning_agency_may_change_a_service() -> None:
    handler, sid = _handler(), uuid4()
    handler.handle_payload("RegisterService", register(sid, "mg-martin"))
    refused = handler.handle_payload("StopIntake", envelope(sid, "pass", reason="plein"))
    assert not refused.accepted and refused.rejection.code == "NOT_SERVICE_OWNER"
    assert refused.rejection.field == "actor.agency"
    assert handler.handle_payload("StopIntake", envelope(sid, "mg-martin", reason="plein")).accepted
    assert not handler.app.get_service(sid).accepting_new_patients


def test_a_malformed_sheet_is_refused_naming_the_field_in_french() -> None:
    handler = _handler()
    bad_commune = handler.handle_payload("RegisterService", register(uuid4(), "mg-a", details={"code_insee": "7654"}))
    assert bad_commune.rejection.field == "details.code_insee" and "INSEE" in bad_commune.rejection.reason
    bad_hours = handler.handle_payload("RegisterService",
                                       register(uuid4(), "mg-a", details={"horaires_accueil": "lundi matin"}))
    assert bad_hours.rejection.field == "details.horaires_accueil" and "OpenStreetMap" in bad_hours.rejection.reason
    bad_kind = handler.handle_payload("RegisterService", register(uuid4(), "mg-a", details={"kind": "dentiste"}))
    assert bad_kind.rejection.field == "details.kind" and bad_kind.rejection.code == "UNKNOWN_ENUM_VALUE"


def test_a_command_sent_twice_changes_the_service_once() -> None:
    handler, sid = _handler(), uuid4()
    handler.handle_payload("RegisterService", register(sid, "mg-martin"))
    stop = envelope(sid, "mg-martin", reason="congés")
    first, again = handler.handle_payload("StopIntake", stop), handler.handle_payload("StopIntake", stop)
    assert first.accepted and again.accepted and again.duplicate and again.version == first.version


def test_a_sheet_not_updated_within_its_frequency_is_stale_until_confirmed() -> None:
    handler, sid = _handler(), uuid4()
    handler.handle_payload("RegisterService", register(sid, "mg-martin", details={"update_frequency_days": 30}))
    later = NOW + timedelta(days=31)
    assert handler.app.get_service(sid).is_stale(later.date())
    assert handler.handle_payload("ConfirmServiceDetails", envelope(sid, "mg-martin", at=later)).accepted
    assert not handler.app.get_service(sid).is_stale(later.date())


def test_a_referral_declined_gives_its_place_back() -> None:
    handler, sid = _handler(), uuid4()
    handler.handle_payload("RegisterService", register(sid, "mg-martin", quota={"places": 1, "period": "week"}))
    first = uuid4()
    assert handler.handle_payload("TakeReferralPlace",
                                  envelope(sid, "pass", referral_id=first, pathway_id=uuid4())).accepted
    full = handler.handle_payload("TakeReferralPlace", envelope(sid, "pass", referral_id=uuid4(), pathway_id=uuid4()))
    assert full.rejection.code == "QUOTA_EXHAUSTED"
    assert handler.handle_payload("ReturnReferralPlace",
                                  envelope(sid, "mg-martin", referral_id=first, reason="refusée")).accepted
    assert handler.app.get_service(sid).quota_left(NOW.date()) == 1


def test_the_quota_counts_per_period_so_next_week_has_places_again() -> None:
    handler, sid = _handler(), uuid4()
    handler.handle_payload("RegisterService", register(sid, "mg-martin", quota={"places": 1, "period": "week"}))
    handler.handle_payload("TakeReferralPlace", envelope(sid, "pass", referral_id=uuid4(), pathway_id=uuid4()))
    next_week = envelope(sid, "pass", at=NOW + timedelta(days=7), referral_id=uuid4(), pathway_id=uuid4())
    assert handler.handle_payload("TakeReferralPlace", next_week).accepted


@settings(max_examples=40, deadline=None)
@given(places=st.integers(min_value=0, max_value=6), attempts=st.lists(st.booleans(), max_size=15))
def test_places_taken_never_exceed_the_quota_whatever_takes_and_returns_come(places: int,
                                                                            attempts: list[bool]) -> None:
    handler, sid = _handler(), uuid4()
    handler.handle_payload("RegisterService", register(sid, "mg-martin", quota={"places": places, "period": "month"}))
    held: list = []
    for take in attempts:
        if take or not held:
            referral = uuid4()
            if handler.handle_payload("TakeReferralPlace",
                                      envelope(sid, "pass", referral_id=referral, pathway_id=uuid4())).accepted:
                held.append(referral)
        else:
            handler.handle_payload("ReturnReferralPlace",
                                   envelope(sid, "pass", referral_id=held.pop(), reason="expirée"))
        assert handler.app.get_service(sid).places_taken(NOW.date()) == len(held) <= places
