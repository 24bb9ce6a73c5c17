"""The directory's quota on the real PostgreSQL: many coordinators at once never take more
places than the quota, and a returned place can be taken again."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from uuid import uuid4

import pytest

from services.bootstrap import build_directory_application
from services.directory import DirectoryApplication, DirectoryHandler
from services.settings import Settings
from tests.unit.directory.helpers import envelope, register


@pytest.fixture
def directory_app(pg_url: str, pg_schema: str) -> Iterator[DirectoryApplication]:
    app = build_directory_application(Settings(mode="distributed", database_url=pg_url, database_schema=pg_schema))
    yield app
    app.close()


def test_sixteen_coordinators_racing_for_five_places_get_exactly_five(directory_app: DirectoryApplication) -> None:
    sid = uuid4()
    assert DirectoryHandler(directory_app).handle_payload(
        "RegisterService", register(sid, "mg-martin", quota={"places": 5, "period": "week"})).accepted
    start, results, lock = threading.Barrier(16), [], threading.Lock()

    def coordinator(n: int) -> None:
        handler = DirectoryHandler(directory_app)  # one per coordinator, as separate gateways would be
        start.wait()
        for _ in range(3):
            result = handler.handle_payload("TakeReferralPlace", envelope(
                sid, f"pass-{n}", referral_id=uuid4(), pathway_id=uuid4()))
            with lock:
                results.append(result)

    threads = [threading.Thread(target=coordinator, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    accepted = [r for r in results if r.accepted]
    refused = {r.rejection.code for r in results if not r.accepted}
    assert len(results) == 48 and len(accepted) == 5 and refused == {"QUOTA_EXHAUSTED"}
    stored = directory_app.get_service(sid)
    assert len(stored.places) == 5 and stored.quota_left(envelope(sid, "x")["occurred_at"].date()) == 0


def test_a_place_given_back_is_taken_by_the_next_coordinator_on_postgres(directory_app: DirectoryApplication) -> None:
    sid, held = uuid4(), uuid4()
    handler = DirectoryHandler(directory_app)
    handler.handle_payload("RegisterService", register(sid, "mg-martin", quota={"places": 1, "period": "month"}))
    assert handler.handle_payload("TakeReferralPlace", envelope(sid, "pass", referral_id=held,
                                                                pathway_id=uuid4())).accepted
    assert not handler.handle_payload("TakeReferralPlace", envelope(sid, "dac", referral_id=uuid4(),
                                                                    pathway_id=uuid4())).accepted
    assert handler.handle_payload("ReturnReferralPlace", envelope(sid, "mg-martin", referral_id=held,
                                                                  reason="déclinée")).accepted
    assert handler.handle_payload("TakeReferralPlace", envelope(sid, "dac", referral_id=uuid4(),
                                                                pathway_id=uuid4())).accepted
