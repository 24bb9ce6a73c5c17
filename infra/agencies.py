"""The agency registry's data file (infra/agencies.toml by default; RELAIS_AGENCIES_FILE)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from domain.agencies import AgencyRegistry, InvalidRegistry

#: The synthetic territory's agencies, shipped with Relais (development, tests, demonstrations).
AGENCIES_FILE = Path(__file__).with_name("agencies.toml")


def load_registry(path: Path | None = None) -> AgencyRegistry:
    """The registry in `path` (default AGENCIES_FILE): `[[agency]]` tables of code, kind, name,
    territory and optional finess. Any problem is an InvalidRegistry whose message (French, one
    line) names the file and the entry."""
    path = Path(path) if path is not None else AGENCIES_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidRegistry(f"registre des structures {path} illisible ({exc.strerror or exc}).") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidRegistry(f"registre des structures {path} : TOML invalide ({exc}).") from None
    records = data.get("agency")
    if not isinstance(records, list) or not records:
        raise InvalidRegistry(f"registre des structures {path} : aucune table [[agency]].")
    try:
        return AgencyRegistry.from_records(records)
    except InvalidRegistry as exc:
        raise InvalidRegistry(f"registre des structures {path} : {exc}") from None


@cache
def _names(path: Path | None) -> Mapping[str, str]:
    return load_registry(path).display_names()


def agency_names() -> Mapping[str, str]:
    """Code -> display name, from the configured registry (RELAIS_AGENCIES_FILE, as Settings
    reads it, else AGENCIES_FILE): the one source of the names French sentences use."""
    configured = os.environ.get("RELAIS_AGENCIES_FILE")
    return _names(Path(configured) if configured else None)


def display_name(code: str | None) -> str:
    """The agency's display name; a code the registry does not know (a GP's directory reference,
    say) is shown as it is."""
    if code is None:
        return "?"
    return agency_names().get(code, code)
