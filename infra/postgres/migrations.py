"""A small SQL migration runner: `infra/postgres/migrations/NNN_name.sql`, applied in order.

Each file runs once per schema, in its own transaction together with its row in
`schema_migrations` (version, name, checksum, applied_at). Running again applies only what is
new, so it is idempotent; an advisory lock keeps two runners from applying the same file at
once. A file changed after it was applied is an error (write a new migration instead).

    python -m infra.postgres.migrations apply [--database-url URL] [--schema NAME]
    python -m infra.postgres.migrations status [...]

Defaults come from RELAIS_DATABASE_URL and RELAIS_DATABASE_SCHEMA (services.settings).

The migrations own every table Relais writes (audit, webhooks, deliveries, risk deadlines,
relay and consumer positions, applied CloudEvents ids, projection registry and positions,
checksums); no constructor creates one, and :func:`require` (called by the composition root
and the consumer runner when they start) refuses a schema with a migration missing, in one
French sentence. Two kinds of tables are left out by design: the event store's, created by
the eventsourcing library's recorder, and the projections' versioned tables `<table>_vN`
with their views, created by projections/schema.ensure_current when a version starts or a
rebuild builds N+1 beside N. The embedded mode's SQLite files get the same list from
infra/sqlite/migrations/ (infra/sqlite/migrations.py).
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_FILE = re.compile(r"^(\d{3,})_([a-z0-9_]+)\.sql$")
# Any constant works; it only has to be the same for every runner.
_LOCK_KEY = 0x52454C414953  # "RELAIS"


class MigrationError(RuntimeError):
    """A migration cannot be applied; the message says which and why."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations of `directory`, ordered by version; rejects bad names and duplicates."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        m = _FILE.match(path.name)
        if not m:
            raise MigrationError(f"{path.name}: nom invalide, attendu NNN_nom.sql (ex. 002_read_models.sql)")
        version = int(m.group(1))
        if version in found:
            raise MigrationError(f"{path.name}: version {version} déjà prise par {found[version].path.name}")
        found[version] = Migration(version, m.group(2), path, path.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


def _ident(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", name):
        raise MigrationError(f"nom de schéma invalide : {name!r}")
    return f'"{name}"'


def apply(conninfo: str, schema: str = "public", directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Apply what is not yet applied in `schema`; returns the migrations applied now."""
    import psycopg

    migrations = discover(directory)
    applied_now: list[Migration] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA IF NOT EXISTS {_ident(schema)}")
        conn.execute(f"SET search_path TO {_ident(schema)}")
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version integer PRIMARY KEY,"
                " name text NOT NULL,"
                " checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {v: c for v, c in conn.execute("SELECT version, checksum FROM schema_migrations")}
            for m in migrations:
                if m.version in done:
                    if done[m.version] != m.checksum:
                        raise MigrationError(
                            f"{m.path.name} a changé depuis son application dans le schéma {schema} : "
                            "ne modifiez pas une migration appliquée, ajoutez-en une nouvelle"
                        )
                    continue
                try:
                    # One transaction per file: the file and its schema_migrations row, or neither.
                    with conn.transaction():
                        conn.execute(m.sql)
                        conn.execute(
                            "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                            (m.version, m.name, m.checksum),
                        )
                except psycopg.Error as exc:
                    raise MigrationError(f"{m.path.name} a échoué : {str(exc).strip()}") from exc
                applied_now.append(m)
        finally:
            if not conn.closed:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
    return applied_now


def status(conninfo: str, schema: str = "public", directory: Path = MIGRATIONS_DIR) -> list[tuple[Migration, bool]]:
    """(migration, applied?) for every migration file."""
    import psycopg

    migrations = discover(directory)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = 'schema_migrations'",
            (schema,),
        ).fetchone()
        done = set()
        if exists:
            done = {v for (v,) in conn.execute(f"SELECT version FROM {_ident(schema)}.schema_migrations")}
    return [(m, m.version in done) for m in migrations]


def pending(conn, schema: str, directory: Path = MIGRATIONS_DIR) -> list[Migration]:  # noqa: ANN001
    """The migrations not applied in `schema`, on an open psycopg connection."""
    exists = conn.execute(
        "SELECT 1 FROM information_schema.tables WHERE table_schema = %s AND table_name = 'schema_migrations'",
        (schema,),
    ).fetchone()
    done = set()
    if exists:
        done = {v for (v,) in conn.execute(f"SELECT version FROM {_ident(schema)}.schema_migrations")}
    return [m for m in discover(directory) if m.version not in done]


def require(conn, schema: str) -> None:  # noqa: ANN001 - psycopg.Connection
    """Raise :class:`MigrationError` (French) unless every migration is applied in `schema`."""
    missing = pending(conn, schema)
    if missing:
        names = ", ".join(f"{m.version:03d}_{m.name}" for m in missing)
        raise MigrationError(
            f"schéma PostgreSQL {schema} : migration(s) non appliquée(s) : {names} : lancez "
            f"`python -m infra.postgres.migrations apply --schema {schema}` (infra/scripts/up.sh le fait)")


def main(argv: Sequence[str] | None = None) -> int:
    from services.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m infra.postgres.migrations", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["apply", "status"])
    parser.add_argument("--database-url", help="PostgreSQL URL (default RELAIS_DATABASE_URL)")
    parser.add_argument("--schema", help="schema (default RELAIS_DATABASE_SCHEMA)")
    args = parser.parse_args(argv)
    settings = Settings()
    url = args.database_url or settings.database_url
    schema = args.schema or settings.database_schema
    try:
        if args.command == "status":
            for m, done in status(url, schema):
                print(f"{m.version:03d} {m.name}: {'appliquée' if done else 'en attente'}")
            return 0
        applied = apply(url, schema)
    except MigrationError as exc:
        print(f"[relais] ERREUR : migration : {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - psycopg errors: one line, not a traceback
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"[relais] ERREUR : PostgreSQL ({url.split('@')[-1]}) : {first} : "
              "lancez infra/scripts/up.sh ou corrigez RELAIS_DATABASE_URL.", file=sys.stderr)
        return 1
    total = len(discover())
    print(f"[relais] PostgreSQL : migrations du schéma {schema} : {len(applied)} appliquée(s), "
          f"{total - len(applied)} déjà en place"
          + (f" ({', '.join(f'{m.version:03d}_{m.name}' for m in applied)})" if applied else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
