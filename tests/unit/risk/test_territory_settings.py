"""Territory settings: validated documents (every refusal names the field and the reason),
versioned with who and when, read by the engine as the one source of its thresholds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.rules import CATALOGUE, evaluate
from domain.rules.settings import TerritorySettings
from domain.values import AlertSeverity
from services.risk.territory_settings import (
    SettingsRefused,
    SettingsSource,
    SqliteTerritorySettingsStore,
    StaleSettingsVersion,
    validate_document,
)
from tests.unit.risk.world import CASO, PASS, World, at
from tests.unit.rules.histories import histories
from tests.unit.rules.test_properties import PROPERTY, offsets

RULE_IDS = [rule.rule_id for rule in CATALOGUE]


def refusals_of(document: dict) -> dict[str, str]:
    with pytest.raises(SettingsRefused) as refused:
        validate_document("76", document)
    return dict(refused.value.refusals)


def test_every_refused_field_is_named_with_its_reason_in_french() -> None:
    found = refusals_of({"contact_failed_attempts": 0, "digest_hour": 25, "push_min_severity": "urgent",
                         "enabled_rules": ["contact-lost", "no-such-rule"]})
    assert found["contact_failed_attempts"] == "doit être supérieur ou égal à 1"
    assert found["digest_hour"] == "doit être inférieur ou égal à 23"
    assert found["push_min_severity"].startswith("valeur non reconnue (attendu : ")
    assert found["enabled_rules"].startswith("règle inconnue : no-such-rule (règles : exit-without-housing")


def test_unknown_fields_and_the_territory_itself_are_refused_by_name() -> None:
    assert refusals_of({"stalled_dayz": 3, "territory": "75", "agency_names": {}}) == {
        "stalled_dayz": "réglage inconnu", "territory": "réglage non modifiable ici",
        "agency_names": "réglage non modifiable ici"}


def test_a_high_band_shorter_than_the_critical_band_is_refused() -> None:
    assert refusals_of({"exit_critical_days": 5, "exit_high_days": 4}) == {
        "exit_high_days": "doit être supérieur ou égal à exit_critical_days (5)"}


def test_each_change_is_a_new_version_with_who_and_when_and_null_restores_the_default() -> None:
    store = SqliteTerritorySettingsStore()
    assert store.current("76") is None
    first = store.change("76", {"stalled_days": 30, "digest_hour": 7}, changed_by="pro-ars-1", agency="ars",
                         at=datetime(2026, 3, 1, 9, tzinfo=UTC))
    second = store.change("76", {"digest_hour": None, "push_min_severity": "critical"}, changed_by="pro-ars-2",
                          agency="ars", expected_version=1)
    assert (first.version, second.version) == (1, 2)
    current = store.current("76")
    assert current.version == 2 and current.changed_by == "pro-ars-2"
    assert current.document == {"stalled_days": 30, "push_min_severity": "critical"}
    assert current.settings.digest_hour == 8 and current.settings.push_min_severity is AlertSeverity.CRITICAL
    history = store.history("76")
    assert [(v.version, v.changed_by, v.changed_at.date().isoformat()) for v in history][0] == (
        1, "pro-ars-1", "2026-03-01")
    assert history[0].settings.digest_hour == 7  # an old version is kept as it was


def test_a_change_written_against_an_old_version_is_refused_and_stores_nothing() -> None:
    store = SqliteTerritorySettingsStore()
    store.change("76", {"stalled_days": 30}, changed_by="a", agency="ars")
    store.change("76", {"stalled_days": 25}, changed_by="b", agency="ars")
    with pytest.raises(StaleSettingsVersion) as stale:
        store.change("76", {"stalled_days": 10}, changed_by="a", agency="ars", expected_version=1)
    assert stale.value.refusals[0][0] == "expectedVersion" and "version en vigueur est 2" in str(stale.value)
    assert store.current("76").settings.stalled_days == 25


def test_an_invalid_change_stores_nothing() -> None:
    store = SqliteTerritorySettingsStore()
    with pytest.raises(SettingsRefused):
        store.change("76", {"stalled_days": -1}, changed_by="a", agency="ars")
    assert store.history("76") == []


def test_the_engine_reads_its_thresholds_from_the_version_in_force(tmp_path: Path) -> None:
    store = SqliteTerritorySettingsStore(tmp_path / "settings.sqlite3")
    store.change("76", {"contact_failed_attempts": 5}, changed_by="pro-ars-1", agency="ars")
    world = World(tmp_path, settings_source=SettingsSource(store, ttl_s=0))
    try:
        pid = world.open("PassGp", CASO, PASS)
        for day in (1, 2, 3):
            world.send("RecordContactAttempt", pid, CASO, when=at(day), reached=False)
        assert world.alerts(pid, "contact-lost") == []  # 3 failures: not enough in this territory
        store.change("76", {"contact_failed_attempts": None}, changed_by="pro-ars-1", agency="ars")
        world.send("RecordContactAttempt", pid, CASO, when=at(4), reached=False)
        assert len(world.alerts(pid, "contact-lost")) == 1  # back to the default, 3
    finally:
        world.close()


@PROPERTY
@given(histories(), offsets, st.sets(st.sampled_from(RULE_IDS)))
def test_a_territory_runs_only_the_rules_it_enabled(played, offset, enabled) -> None:
    settings = played.settings.model_copy(update={"enabled_rules": frozenset(enabled)})
    found = evaluate(played.pathway, played.end + offset, settings)
    assert {f.rule_id for f in found} <= enabled
    everything = {f.rule_id for f in evaluate(played.pathway, played.end + offset, played.settings)}
    assert {f.rule_id for f in found} == everything & enabled


INT_FIELDS = [name for name, f in TerritorySettings.model_fields.items() if f.annotation is int]


@PROPERTY
@given(st.dictionaries(st.sampled_from(INT_FIELDS + ["unknown_field", "territory"]),
                       st.one_of(st.integers(-5, 60), st.text(max_size=3), st.none()), max_size=6))
def test_a_document_is_stored_whole_or_refused_naming_only_its_own_fields(document) -> None:
    store = SqliteTerritorySettingsStore()
    try:
        version = store.change("76", document, changed_by="pro-ars-1", agency="ars")
    except SettingsRefused as refused:
        # Each refusal names a field of the document, or a band the document's change broke
        # ("exit_high_days : doit être supérieur ou égal à exit_critical_days (8)").
        assert refused.refusals and all(field in document or any(name in reason for name in document)
                                        for field, reason in refused.refusals)
        assert all(reason for _field, reason in refused.refusals)
        assert store.history("76") == []
    else:
        kept = {k for k, v in document.items() if v is not None}
        assert set(version.document) == kept and store.current("76").settings == version.settings
        for name in kept:  # stored as it applies ("7" is stored 7)
            assert version.document[name] == getattr(version.settings, name) == int(document[name])
