"""The agency registry: typed entries, the platform's own identity never among them, and the
shipped synthetic registry covering every agency the synthetic territory and partners name."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.agencies import Agency, AgencyKind, AgencyRegistry, InvalidRegistry
from domain.values import SYSTEM_AGENCY
from infra.agencies import load_registry

GOOD = {"code": "siao-14", "kind": "siao", "name": "SIAO du Calvados", "territory": "14", "finess": "140000001"}


def test_a_well_formed_record_becomes_a_typed_agency():
    registry = AgencyRegistry.from_records([GOOD])
    assert registry["siao-14"] == Agency("siao-14", AgencyKind.SIAO, "SIAO du Calvados", "14", "140000001")
    assert "siao-14" in registry and "siao-76" not in registry and len(registry) == 1


@pytest.mark.parametrize(("change", "complaint"), [
    ({"code": SYSTEM_AGENCY}, "identité de la plateforme"),
    ({"territory": "99x"}, "territoire « 99x » invalide"),
    ({"kind": "prefecture-imaginaire"}, "type « prefecture-imaginaire » inconnu"),
    ({"finess": "76000001"}, "FINESS « 76000001 » invalide"),
    ({"finess": "760000001"}, "ne commence pas par son département"),
    ({"code": "SIAO 14"}, "code invalide"),
    ({"name": " "}, "nom manquant"),
    ({"name": None}, "champ(s) manquant(s) name"),
    ({"siret": "123"}, "champ(s) inconnu(s) siret"),
])
def test_a_malformed_record_is_refused_naming_the_agency_and_the_fault(change, complaint):
    record = {k: v for k, v in {**GOOD, **change}.items() if v is not None}
    with pytest.raises(InvalidRegistry) as refused:
        AgencyRegistry.from_records([record])
    assert complaint in str(refused.value)


def test_an_agency_declared_twice_is_refused():
    with pytest.raises(InvalidRegistry, match="déclarée deux fois"):
        AgencyRegistry.from_records([GOOD, GOOD])


def test_corsican_and_overseas_territories_are_departements_too():
    AgencyRegistry.from_records([{**GOOD, "territory": "2A", "finess": "2A0000001"},
                                 {**GOOD, "code": "pass-974", "kind": "pass", "territory": "974",
                                  "finess": "970000001"}])


@given(st.text(max_size=70))
def test_any_code_is_either_a_registry_code_or_refused_and_never_the_platform(code):
    try:
        agency = Agency(code, AgencyKind.ASSOCIATION, "Association", "76")
    except InvalidRegistry:
        return
    assert agency.code != SYSTEM_AGENCY and agency.code == agency.code.lower().strip()


def test_the_shipped_registry_names_every_agency_of_the_synthetic_territory_and_of_the_inbound_topics():
    from infra.kafka.topics import load_topics
    from services.territory.synthetic import generate

    registry = load_registry()
    named: set[str] = set()
    for story in generate(40, seed=3):
        # The GPs a PASS orients to (`gp_ref`, e.g. MG-047) are entries of the future directory of
        # services, not registry agencies: consent is granted to them by that reference.
        gps = {payload["gp_ref"] for _name, payload in story.commands if "gp_ref" in payload}
        for _name, payload in story.commands:
            named.add(payload["actor"]["agency"])
            named.update(v for k, v in payload.items() if (k == "agency" or k.endswith("_agency")) and v not in gps)
    inbound = {t.name.removeprefix("relais.inbound.") for t in load_topics() if t.name.startswith("relais.inbound.")}
    assert named and inbound
    assert (named | inbound) - set(registry) == set()
    assert SYSTEM_AGENCY not in registry


def test_a_registry_file_with_a_bad_entry_is_refused_in_one_line_naming_the_file(tmp_path: Path):
    path = tmp_path / "agencies.toml"
    path.write_text('[[agency]]\ncode = "pass"\nkind = "pass"\nname = "PASS"\nterritory = "99x"\n', encoding="utf-8")
    with pytest.raises(InvalidRegistry) as refused:
        load_registry(path)
    assert str(path) in str(refused.value) and "\n" not in str(refused.value)
