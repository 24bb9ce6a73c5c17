"""The published schema: served at /graphql/schema.graphql, identical to the committed SDL,
and every breaking change since the last released version recorded in docs/graphql/CHANGELOG.md."""

from __future__ import annotations

import re

from gateway.schema import SCHEMA_VERSION, sdl
from gateway.schemacheck import DOCS, changelog_section, check, released_versions, unrecorded_breaking_changes


def test_the_served_schema_is_the_committed_one_with_its_version(api) -> None:
    served = api.client.get("/graphql/schema.graphql")
    assert served.status_code == 200 and served.headers["x-relais-schema-version"] == SCHEMA_VERSION
    assert served.headers["content-type"].startswith("application/graphql")
    assert served.text == (DOCS / "schema.graphql").read_text(encoding="utf-8"), \
        "régénérez : python -m gateway.schema > docs/graphql/schema.graphql"


def test_no_breaking_change_since_the_last_release_is_missing_from_the_changelog() -> None:
    assert check(sdl(), SCHEMA_VERSION) == []


def test_the_current_version_has_its_changelog_section() -> None:
    changelog = (DOCS / "CHANGELOG.md").read_text(encoding="utf-8")
    assert changelog_section(changelog, SCHEMA_VERSION).strip()
    assert released_versions(), "docs/graphql/versions/ holds the released SDLs"


def test_a_removed_field_fails_the_check_until_the_changelog_records_it() -> None:
    current = sdl()
    # The field and its description (a block string, on one line or several).
    removed = re.sub(r'^(\s*"""(?:[^"]|"(?!""))*"""\n)?\s*ruleLabel: String!\n', "", current, count=1, flags=re.M)
    assert removed != current
    changelog = (DOCS / "CHANGELOG.md").read_text(encoding="utf-8")
    missing = unrecorded_breaking_changes(current, removed, changelog, SCHEMA_VERSION)
    assert missing == ["Field Alert.ruleLabel was removed."]
    recorded = changelog.replace(f"## {SCHEMA_VERSION}\n", f"## {SCHEMA_VERSION}\n\n**Breaking:** Field Alert.ruleLabel was removed.\n")
    assert unrecorded_breaking_changes(current, removed, recorded, SCHEMA_VERSION) == []
