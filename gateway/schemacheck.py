"""The schema's compatibility check: every breaking change between the last released SDL
(docs/graphql/versions/<version>.graphql) and the current one must be recorded, in graphql-core's
own words (`find_breaking_changes`), in the current version's section of docs/graphql/CHANGELOG.md.

`python -m gateway.schemacheck` prints the unrecorded ones and exits 1 when there are any.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from graphql import build_schema, find_breaking_changes

DOCS = Path(__file__).resolve().parents[1] / "docs" / "graphql"


def released_versions(docs: Path = DOCS) -> list[str]:
    """The released versions whose SDL is kept, oldest first (semver order)."""
    def key(v: str) -> tuple[int, ...]:
        return tuple(int(x) for x in v.split("."))
    return sorted((p.stem for p in (docs / "versions").glob("*.graphql")), key=key)


def changelog_section(changelog: str, version: str) -> str:
    """The text of `## <version>` up to the next `## ` heading ('' when absent)."""
    match = re.search(rf"^## {re.escape(version)}\b.*?$(.*?)(?=^## |\Z)", changelog, re.S | re.M)
    return match.group(1) if match else ""


def unrecorded_breaking_changes(previous_sdl: str, current_sdl: str, changelog: str, version: str) -> list[str]:
    """graphql-core's description of each breaking change not quoted in the version's section."""
    section = changelog_section(changelog, version)
    changes = find_breaking_changes(build_schema(previous_sdl), build_schema(current_sdl))
    return [c.description for c in changes if c.description not in section]


def check(current_sdl: str, current_version: str, docs: Path = DOCS) -> list[str]:
    """Against the last released version older than `current_version`."""
    older = [v for v in released_versions(docs) if v != current_version]
    if not older:
        return []
    previous = (docs / "versions" / f"{older[-1]}.graphql").read_text(encoding="utf-8")
    changelog = (docs / "CHANGELOG.md").read_text(encoding="utf-8")
    return unrecorded_breaking_changes(previous, current_sdl, changelog, current_version)


if __name__ == "__main__":
    from gateway.schema import SCHEMA_VERSION, sdl

    missing = check(sdl(), SCHEMA_VERSION)
    for line in missing:
        print(f"changement incompatible non consigné dans docs/graphql/CHANGELOG.md ({SCHEMA_VERSION}) : {line}")
    sys.exit(1 if missing else 0)
