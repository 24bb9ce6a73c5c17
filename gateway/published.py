"""Everything published for partners that is generated from the code, in one command.

- docs/graphql/schema.graphql: the SDL (gateway.schema);
- docs/graphql/errors.md: the list of error codes (gateway.errorcodes);
- docs/inbound/: the JSON Schemas of the inbound messages, per version (services.ingest.schemas).

`python -m gateway.published` regenerates them all (after a merge that added fields, codes or
commands); `python -m gateway.published --check` changes nothing and exits 1 when one of them
differs from the code, or when the schema has a breaking change not recorded in
docs/graphql/CHANGELOG.md (gateway.schemacheck). infra/scripts/test.sh runs the check before the
whole suite (a few seconds), so CI fails on it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SDL = ROOT / "docs" / "graphql" / "schema.graphql"
ERRORS = ROOT / "docs" / "graphql" / "errors.md"


def differences() -> list[str]:
    """One French line per published file that differs from what the code generates."""
    from gateway.errorcodes import markdown
    from gateway.schema import SCHEMA_VERSION, sdl
    from gateway.schemacheck import check
    from services.ingest.schemas import DEFAULT_OUT, on_disk, rendered

    out: list[str] = []
    current = sdl()
    if not SDL.exists() or SDL.read_text(encoding="utf-8") != current:
        out.append(f"{SDL.relative_to(ROOT)} diffère du schéma du code")
    if not ERRORS.exists() or ERRORS.read_text(encoding="utf-8") != markdown():
        out.append(f"{ERRORS.relative_to(ROOT)} diffère des codes d'erreur du code")
    if on_disk(DEFAULT_OUT) != rendered():
        out.append(f"{DEFAULT_OUT.relative_to(ROOT)}/ diffère des modèles des messages entrants")
    out += [f"changement incompatible non consigné dans docs/graphql/CHANGELOG.md ({SCHEMA_VERSION}) : {line}"
            for line in check(current, SCHEMA_VERSION)]
    return out


def write() -> None:
    from gateway.errorcodes import markdown
    from gateway.schema import sdl
    from services.ingest import schemas

    SDL.write_text(sdl(), encoding="utf-8")
    ERRORS.write_text(markdown(), encoding="utf-8")
    schemas.write(schemas.DEFAULT_OUT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gateway.published",
        description="Régénère (ou vérifie, --check) le SDL, la liste des codes d'erreur et les schémas des "
                    "messages entrants publiés dans docs/.")
    parser.add_argument("--check", action="store_true",
                        help="ne rien écrire ; code de sortie 1 si un fichier publié diffère du code")
    args = parser.parse_args(argv)
    if not args.check:
        write()
    problems = differences()
    for line in problems:
        print(f"publication : {line}", file=sys.stderr)
    if args.check and problems:
        print("publication : régénérez avec « python -m gateway.published » (et consignez les changements "
              "incompatibles dans docs/graphql/CHANGELOG.md)", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
