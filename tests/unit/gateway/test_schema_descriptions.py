"""Every type, field, argument and enum value of the published schema says what it is (a partner reads the
SDL, not our code), every role has an English name, and a mutation's description says what it
records and who may send it."""

from __future__ import annotations

import re

from graphql import GraphQLEnumType

from domain import disclosure
from gateway.descriptions import DOMAIN_VALUE_LABELS, VALUES, undescribed
from gateway.schema import build_schema
from gateway.types import ROLE_NAMES


def test_every_type_field_and_argument_of_the_schema_has_a_description() -> None:
    missing = undescribed(build_schema(dev=True)._schema)  # noqa: SLF001
    assert missing == [], "décrivez-les dans gateway/descriptions.py (ou sur leur définition)"


def test_every_role_of_the_domain_has_one_english_graphql_name_and_keeps_its_token_code() -> None:
    assert set(ROLE_NAMES) == set(disclosure.Role)
    names = [name for name, _ in ROLE_NAMES.values()]
    assert len(set(names)) == len(names) and all(re.fullmatch(r"[A-Z][A-Z_]*", n) for n in names)
    role = build_schema(dev=True)._schema.type_map["Role"]  # noqa: SLF001
    assert {v.value for v in role.values.values()} == {r.value for r in disclosure.Role}


def test_a_mutation_description_says_what_it_records_and_who_may_send_it() -> None:
    mutation = build_schema(dev=True)._schema.mutation_type  # noqa: SLF001
    gp = mutation.fields["recordGpVisitOutcome"].description
    assert "Information médicale" in gp and "medecin" in gp and "travailleur_social" not in gp
    raise_alert = mutation.fields["raiseAlert"].description
    assert "moteur de règles seulement" in raise_alert
    assert not any(f.description.startswith("Commande ") for f in mutation.fields.values())
    assert "orientToGp" in mutation.fields["makeReferral"].description


def test_me_answers_the_english_role_and_the_token_code(api) -> None:
    from tests.tokens import token

    me = api("{ me { role roleCode } }", as_=token("pass", "coordinateur"))["me"]
    assert me == {"role": "COORDINATOR", "roleCode": "coordinateur"}


def test_every_enum_value_of_the_schema_says_what_it_means_in_french() -> None:
    schema = build_schema(dev=True)._schema  # noqa: SLF001
    missing = [m for m in undescribed(schema) if m.split(".")[0] in schema.type_map
               and isinstance(schema.type_map[m.split(".")[0]], GraphQLEnumType)]
    assert missing == [], "décrivez-les dans gateway/descriptions.py (VALUES ou un libellé du domaine)"
    assert schema.type_map["PathwayKind"].values["PASS_GP"].description.startswith("Relais de la PASS")


def test_an_enum_value_the_domain_labels_is_described_by_that_label() -> None:
    values = build_schema(dev=True)._schema.type_map["ReferralStatus"].values  # noqa: SLF001
    assert values["COMPLETED"].description == "Réalisée."
    assert values["IN_PROGRESS"].description == "En cours."
    severity = build_schema(dev=True)._schema.type_map["AlertSeverity"].values  # noqa: SLF001
    assert severity["CRITICAL"].description == "Critique."
    assert not any(key.split(".")[0] in DOMAIN_VALUE_LABELS for key in VALUES), "un libellé en double"


def test_every_value_the_glossary_describes_is_a_value_of_the_schema() -> None:
    schema = build_schema(dev=True)._schema  # noqa: SLF001
    stale = [key for key in VALUES if key.partition(".")[2] not in getattr(
        schema.type_map.get(key.partition(".")[0]), "values", {})]
    assert stale == []
