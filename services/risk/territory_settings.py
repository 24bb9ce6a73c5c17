"""The territory settings in force: one versioned source for the engine, the digest and the back-test.

A territory administrator (role `admin_territoire`, GraphQL `changeTerritorySettings`) changes
the thresholds, severity bands, enabled rules and noise-control hours of its own territory. A
change is a partial document (the fields it names; `null` puts a field back to its default)
merged into the version in force and validated whole by the domain's pydantic model
(`domain.rules.settings.TerritorySettings`); every refusal names the field and the reason, in
French. An accepted change is stored as version N+1 with who and when; no row is ever updated,
so the history is the list of versions (table `territory_settings`, migration 004, PostgreSQL in
the distributed mode, SQLite in the embedded one).

The risk engine and the alerting digest read the version in force through
:class:`SettingsSource`, which remembers it for `ttl_s` seconds: a change reaches the other
processes within that delay, never half-applied (a version is one row).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from domain.errors import refused_input
from domain.rules.settings import TerritorySettings, settings_for

#: Fields a document may not set: the territory is the row's, agency names are the registry's.
_NOT_SETTABLE = frozenset({"territory", "agency_names"})
SETTABLE_FIELDS: tuple[str, ...] = tuple(f for f in TerritorySettings.model_fields if f not in _NOT_SETTABLE)


class SettingsRefused(ValueError):
    """A settings document Relais will not store: `refusals` is [(field, French reason)]."""

    code = "INVALID_SETTINGS"

    def __init__(self, refusals: list[tuple[str, str]]) -> None:
        self.refusals = refusals
        super().__init__("Réglages refusés : " + " ; ".join(f"champ « {f} » : {r}" for f, r in refusals) + ".")


class StaleSettingsVersion(SettingsRefused):
    """The change was written against a version that is no longer the one in force."""

    code = "STALE_VERSION"

    def __init__(self, expected: int, current: int) -> None:
        super().__init__([("expectedVersion", f"la version en vigueur est {current}, pas {expected} : "
                                              "relisez les réglages puis recommencez")])


@dataclass(frozen=True)
class SettingsVersion:
    territory: str
    version: int
    #: The fields this territory sets (the others are the defaults).
    document: Mapping[str, Any]
    settings: TerritorySettings
    changed_by: str
    agency: str
    changed_at: datetime


def validate_document(territory: str, document: Mapping[str, Any],
                      base: TerritorySettings | None = None) -> TerritorySettings:
    """`document` as the settings of `territory` (over `base`, default: the defaults), or
    :class:`SettingsRefused` naming every field refused and why."""
    if not isinstance(document, Mapping):
        raise SettingsRefused([("settings", "un objet JSON est attendu")])
    refusals = [(name, "réglage non modifiable ici" if name in _NOT_SETTABLE else "réglage inconnu")
                for name in document if name not in SETTABLE_FIELDS]
    known = {name: value for name, value in document.items() if name in SETTABLE_FIELDS}
    start = (base or settings_for(territory)).model_dump(exclude={"agency_names"})
    try:
        settings = TerritorySettings.model_validate({**start, **known, "territory": territory})
    except ValidationError as error:
        refusals += [(".".join(str(p) for p in e["loc"]) or "settings", refused_input(e)[1]) for e in error.errors()]
    if refusals:
        raise SettingsRefused(refusals)
    return settings


def merged(current: Mapping[str, Any], change: Mapping[str, Any]) -> dict[str, Any]:
    """The document after `change`: its fields override, a `None` removes the field (default)."""
    out = {k: v for k, v in current.items()}
    for name, value in change.items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out


class TerritorySettingsStore(Protocol):
    def current(self, territory: str) -> SettingsVersion | None: ...
    def history(self, territory: str) -> list[SettingsVersion]: ...
    def change(self, territory: str, change: Mapping[str, Any], *, changed_by: str, agency: str,
               expected_version: int | None = None, at: datetime | None = None) -> SettingsVersion: ...


class _SqlSettingsStore:
    """The versioning and validation, over a dialect's connection (subclasses)."""

    p = "?"

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        raise NotImplementedError

    def _table(self) -> str:
        return "territory_settings"

    def _row(self, row: tuple[Any, ...]) -> SettingsVersion:
        territory, version, document, changed_by, agency, changed_at = row
        doc = json.loads(document)
        at = changed_at if isinstance(changed_at, datetime) else datetime.fromisoformat(changed_at)
        return SettingsVersion(territory, version, doc, validate_document(territory, doc), changed_by, agency,
                               at if at.tzinfo else at.replace(tzinfo=UTC))

    def _select(self, conn: Any, territory: str, latest: bool) -> list[SettingsVersion]:
        order = "DESC LIMIT 1" if latest else "ASC"
        rows = conn.execute(f"SELECT territory, version, document, changed_by, agency, changed_at FROM "
                            f"{self._table()} WHERE territory = {self.p} ORDER BY version {order}",
                            (territory,)).fetchall()
        return [self._row(tuple(r)) for r in rows]

    def current(self, territory: str) -> SettingsVersion | None:
        with self._transaction() as conn:
            found = self._select(conn, territory, latest=True)
        return found[0] if found else None

    def history(self, territory: str) -> list[SettingsVersion]:
        with self._transaction() as conn:
            return self._select(conn, territory, latest=False)

    def change(self, territory: str, change: Mapping[str, Any], *, changed_by: str, agency: str,
               expected_version: int | None = None, at: datetime | None = None) -> SettingsVersion:
        """Store `change` merged into the version in force as the next version; refused
        (SettingsRefused) when a field is invalid or `expected_version` is not the one in force."""
        if not isinstance(change, Mapping):
            raise SettingsRefused([("settings", "un objet JSON est attendu")])
        at = (at or datetime.now(UTC)).astimezone(UTC)
        with self._transaction() as conn:
            found = self._select(conn, territory, latest=True)
            current = found[0] if found else None
            number = current.version if current else 0
            if expected_version is not None and expected_version != number:
                raise StaleSettingsVersion(expected_version, number)
            settings = validate_document(territory, merged(current.document if current else {}, change))
            # Stored as validated ("7" -> 7, a rule list sorted): a version reads back as it applies.
            applied = settings.model_dump(mode="json")
            document = {name: applied[name] for name in merged(current.document if current else {}, change)}
            self._insert(conn, (territory, number + 1, json.dumps(document, sort_keys=True, ensure_ascii=False),
                                changed_by, agency, self._moment(at)), expected_version, number)
        return SettingsVersion(territory, number + 1, document, settings, changed_by, agency, at)

    def _moment(self, at: datetime) -> Any:
        return at

    def _insert(self, conn: Any, row: tuple[Any, ...], expected: int | None, number: int) -> None:
        try:
            conn.execute(f"INSERT INTO {self._table()} VALUES ({', '.join([self.p] * 6)})", row)
        except Exception as exc:  # two changes read the same version: the second reads again
            if type(exc).__name__ in ("UniqueViolation", "IntegrityError"):
                raise StaleSettingsVersion(expected if expected is not None else number, number + 1) from None
            raise


class SqliteTerritorySettingsStore(_SqlSettingsStore):
    """Embedded mode: an SQLite file (tables from infra/sqlite/migrations/)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        from infra.sqlite.migrations import connect

        self._lock = threading.Lock()
        self._conn = connect(path)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def _moment(self, at: datetime) -> str:
        return at.isoformat()


class PostgresTerritorySettingsStore(_SqlSettingsStore):
    """Distributed mode: the table in `schema` (infra/postgres/migrations/004)."""

    p = "%s"

    def __init__(self, pool: Any, schema: str = "public") -> None:
        from psycopg import sql

        self._pool = pool
        self._qualified = sql.Identifier(schema, "territory_settings").as_string(None)

    def _table(self) -> str:
        return self._qualified

    @contextmanager
    def _transaction(self) -> Iterator[Any]:
        with self._pool.connection() as conn, conn.transaction():
            yield conn


class SettingsSource:
    """The settings in force of a territory, as the engine and the digest read them: the
    store's latest version (remembered `ttl_s` seconds), else `fallback` (configured
    settings, e.g. the tests'), else the defaults named after the territory."""

    def __init__(self, store: TerritorySettingsStore | None, *, fallback: Mapping[str, TerritorySettings] | None = None,
                 ttl_s: float = 5.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store, self.fallback, self.ttl_s, self._now = store, dict(fallback or {}), ttl_s, monotonic
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, TerritorySettings]] = {}

    def __call__(self, territory: str) -> TerritorySettings:
        now = self._now()
        with self._lock:
            hit = self._cache.get(territory)
            if hit is not None and now - hit[0] < self.ttl_s:
                return hit[1]
        found = self.store.current(territory) if self.store is not None else None
        base = settings_for(territory, self.fallback)
        settings = found.settings if found is not None else base
        with self._lock:
            previous = self._cache.get(territory)
            # Same version: keep the same object (the engine remembers derived settings by identity).
            if previous is not None and previous[1] == settings:
                settings = previous[1]
            self._cache[territory] = (now, settings)
        return settings
