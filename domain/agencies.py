"""The agency registry: the organisations that may take part in pathways and hold tokens.

An agency is known by its code (what tokens, topics and pathway events name), its kind, the
territory (département) it works in and a FINESS-like identifier (9 characters, the first two
being the département, as the national FINESS registry numbers health and social
establishments; absent for those FINESS does not list, such as a GP or a volunteer group).

The platform's own identity (`SYSTEM_AGENCY`) is never an agency of the registry: no token can
name it. Kept small on purpose: the directory of services extends it later.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from domain.values import SYSTEM_AGENCY


class AgencyKind(StrEnum):
    PASS = "pass"  # permanence d'accès aux soins de santé
    SIAO = "siao"
    DAC = "dac"
    CPAM = "cpam"
    SPIP = "spip"
    USMP = "usmp"
    SMPR = "smpr"
    MATERNITE = "maternite"
    PMI = "pmi"
    SAS = "sas"
    ASSOCIATION = "association"
    MG = "mg"  # médecin généraliste
    CLAT = "clat"
    CEGIDD = "cegidd"
    CSAPA = "csapa"
    CAARUD = "caarud"
    CMP = "cmp"
    EMPP = "empp"
    HEBERGEMENT = "hebergement"  # CADA, HUDA, CHRS, LHSS
    HOPITAL = "hopital"  # établissement de santé (a CHU, one of its departments)
    ARS = "ars"  # agence régionale de santé (de-identified indicators)
    AUTORITE = "autorite"  # an authority that reads the audit trail (CNIL, a regional DPO)


#: `NN` (metropolitan), `2A`/`2B` (Corsica), `971`-`976` (overseas).
TERRITORY = re.compile(r"^(0[1-9]|[1-8][0-9]|9[0-5]|2[AB]|97[1-6])$")
#: Nine characters, the first two the département (`2A`/`2B` for Corsica, `97` overseas).
FINESS = re.compile(r"^(\d{2}|2[AB])\d{7}$")
CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class InvalidRegistry(ValueError):
    """An entry of the registry is malformed; the message (French) names it."""


@dataclass(frozen=True)
class Agency:
    code: str
    kind: AgencyKind
    name: str
    territory: str
    finess: str | None = None

    def __post_init__(self) -> None:
        where = f"structure « {self.code} »"
        if not CODE.fullmatch(self.code):  # `$` alone would let a final newline through
            raise InvalidRegistry(f"{where} : code invalide (minuscules, chiffres et tirets, 63 au plus).")
        if self.code == SYSTEM_AGENCY:
            raise InvalidRegistry(f"{where} : ce code est l'identité de la plateforme, pas une structure.")
        if not TERRITORY.fullmatch(self.territory):
            raise InvalidRegistry(f"{where} : territoire « {self.territory} » invalide (code de département).")
        if not self.name.strip():
            raise InvalidRegistry(f"{where} : nom manquant.")
        if self.finess is not None:
            if not FINESS.match(self.finess):
                raise InvalidRegistry(f"{where} : identifiant FINESS « {self.finess} » invalide (9 caractères).")
            if self.finess[:2] != self.territory[:2]:
                raise InvalidRegistry(f"{where} : l'identifiant FINESS ne commence pas par son département.")


class AgencyRegistry(Mapping[str, Agency]):
    """Agencies by code (read-only)."""

    def __init__(self, agencies: Iterable[Agency]) -> None:
        by_code: dict[str, Agency] = {}
        for agency in agencies:
            if agency.code in by_code:
                raise InvalidRegistry(f"structure « {agency.code} » : déclarée deux fois.")
            by_code[agency.code] = agency
        self._by_code = by_code

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> AgencyRegistry:
        """From plain records (`code`, `kind`, `name`, `territory`, optional `finess`), as a data
        file holds them; a missing field or an unknown kind is an InvalidRegistry naming it."""
        agencies = []
        for index, record in enumerate(records, start=1):
            if not isinstance(record, Mapping):
                raise InvalidRegistry(f"structure n°{index} : une table de champs est attendue.")
            code = str(record.get("code", f"n°{index}"))
            missing = [k for k in ("code", "kind", "name", "territory") if not isinstance(record.get(k), str)]
            if missing:
                raise InvalidRegistry(f"structure « {code} » : champ(s) manquant(s) {', '.join(missing)}.")
            unknown = set(record) - {"code", "kind", "name", "territory", "finess"}
            if unknown:
                raise InvalidRegistry(f"structure « {code} » : champ(s) inconnu(s) {', '.join(sorted(unknown))}.")
            try:
                kind = AgencyKind(record["kind"])
            except ValueError:
                raise InvalidRegistry(f"structure « {code} » : type « {record['kind']} » inconnu "
                                      f"(parmi {', '.join(k.value for k in AgencyKind)}).") from None
            finess = record.get("finess")
            if finess is not None and not isinstance(finess, str):
                raise InvalidRegistry(f"structure « {code} » : identifiant FINESS invalide (9 caractères).")
            agencies.append(Agency(code=record["code"], kind=kind, name=record["name"],
                                   territory=record["territory"], finess=finess))
        return cls(agencies)

    def display_names(self) -> dict[str, str]:
        """Code -> display name: what a French sentence names each agency by."""
        return {code: agency.name for code, agency in self._by_code.items()}

    def __getitem__(self, code: str) -> Agency:
        return self._by_code[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_code)

    def __len__(self) -> int:
        return len(self._by_code)
