"""The territory settings on real PostgreSQL (the distributed mode): versions, and two
administrators changing the same version at once: one wins, the other is told to read again."""

from __future__ import annotations

import threading

import pytest
from psycopg_pool import ConnectionPool

from services.risk.territory_settings import (
    PostgresTerritorySettingsStore,
    SettingsRefused,
    SettingsSource,
    StaleSettingsVersion,
)


@pytest.fixture
def store(pg_url, pg_schema):
    pool = ConnectionPool(pg_url, min_size=1, max_size=4, open=True, kwargs={"autocommit": True})
    yield PostgresTerritorySettingsStore(pool, pg_schema)
    pool.close()


def test_versions_are_kept_with_who_and_when_and_the_latest_is_in_force(store) -> None:
    store.change("76", {"stalled_days": 30}, changed_by="pro-ars-1", agency="ars")
    store.change("76", {"digest_hour": 6}, changed_by="pro-ars-2", agency="ars", expected_version=1)
    current = store.current("76")
    assert (current.version, current.changed_by, current.settings.stalled_days, current.settings.digest_hour) == (
        2, "pro-ars-2", 30, 6)
    assert [v.changed_by for v in store.history("76")] == ["pro-ars-1", "pro-ars-2"]
    assert store.current("27") is None
    assert SettingsSource(store, ttl_s=0)("76").stalled_days == 30
    assert SettingsSource(store, ttl_s=0)("27").stalled_days == 21  # the defaults


def test_two_changes_of_the_same_version_at_once_store_one(store) -> None:
    store.change("76", {"stalled_days": 30}, changed_by="a", agency="ars")
    outcomes: list[str] = []
    barrier = threading.Barrier(4)

    def change(days: int) -> None:
        barrier.wait()
        try:
            store.change("76", {"stalled_days": days}, changed_by=f"pro-{days}", agency="ars", expected_version=1)
            outcomes.append("stored")
        except StaleSettingsVersion:
            outcomes.append("stale")

    threads = [threading.Thread(target=change, args=(d,)) for d in (10, 11, 12, 13)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["stale", "stale", "stale", "stored"]
    assert store.current("76").version == 2


def test_a_refused_document_stores_nothing(store) -> None:
    with pytest.raises(SettingsRefused) as refused:
        store.change("76", {"tb_screening_days": "dix"}, changed_by="a", agency="ars")
    assert refused.value.refusals == [("tb_screening_days", "nombre entier attendu")]
    assert store.history("76") == []
