"""Crypto-shredding: one data key per person, wrapped by a master key, in a key store.

* :class:`MasterKeys` — the master keys from settings (`RELAIS_MASTER_KEYS`,
  `id:base64,id:base64...`): the first wraps, every one listed unwraps, so that a rotation
  runs while the processes still hold the old key (docs/security.md, "Rotation").
* :class:`KeyStore` — the data keys (tables of migration 005: `person_keys`, `pathway_keys`,
  `erased_keys`), in PostgreSQL (distributed) or SQLite (embedded). A person is named by a
  keyed hash of their reference (HMAC-SHA256 under the store's own `lookup` key, itself a
  wrapped data key), never by the reference. Destroying a person's key makes everything
  sealed with it unreadable, wherever the copies are (event store rows, Kafka messages).
* :class:`PersonalCipher` — seals and opens bytes with the key of a pathway's person
  (AES-256-GCM, 96-bit synthetic nonce (HMAC of what is sealed), the pathway id and event version as associated data, so a
  sealed part cannot be moved to another event).

Unwrapped keys are cached for `cache_ttl_s` (30 s by default): a destroyed key is forgotten by
the other processes within that time, and at once by a process that reads the erasure event.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol, TextIO

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
KEY_BYTES = 32
#: The row of the store's own key, the one naming persons by a keyed hash.
LOOKUP_KEY_ID = "lookup"
ALGORITHM = "A256GCM"


class KeyStoreError(RuntimeError):
    """A key cannot be used: unknown master key, damaged wrapping. The message is French."""


class MalformedMasterKeys(ValueError):
    """`RELAIS_MASTER_KEYS` is not `id:base64[,id:base64...]` of 32-byte keys."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def derived_master_key(cipher_key: str) -> bytes:
    """The master key used when RELAIS_MASTER_KEYS is not set: HKDF-SHA256 of the event
    store's cipher key (its own purpose, so the two keys never coincide)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None,
                info=b"relais master key v1").derive(base64.b64decode(cipher_key))


#: The id of the derived master key (RELAIS_MASTER_KEYS absent).
DERIVED_MASTER_ID = "cipher"


def new_master_key() -> str:
    """A fresh 256-bit master key, base64 (for `relais keys new`)."""
    return _b64(AESGCM.generate_key(bit_length=256))


@dataclass(frozen=True)
class MasterKeys:
    """The master keys in force: `current` wraps, each of `keys` unwraps."""

    current: str
    keys: dict[str, bytes]

    def accepting(self, key_id: str, key: bytes) -> MasterKeys:
        """These keys, and `key` too for unwrapping (never for wrapping)."""
        return MasterKeys(self.current, {**self.keys, key_id: self.keys.get(key_id, key)})

    @classmethod
    def parse(cls, text: str) -> MasterKeys:
        keys: dict[str, bytes] = {}
        order: list[str] = []
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            key_id, sep, encoded = part.partition(":")
            if not sep or not key_id.strip():
                raise MalformedMasterKeys("clé maîtresse sans identifiant : attendu id:base64 (séparées par des virgules)")
            try:
                key = _unb64(encoded.strip())
            except ValueError:
                raise MalformedMasterKeys(f"clé maîtresse « {key_id.strip()} » : base64 invalide") from None
            if len(key) != KEY_BYTES:
                raise MalformedMasterKeys(f"clé maîtresse « {key_id.strip()} » : {len(key)} octets, 32 attendus")
            if key_id.strip() in keys:
                raise MalformedMasterKeys(f"clé maîtresse « {key_id.strip()} » donnée deux fois")
            keys[key_id.strip()] = key
            order.append(key_id.strip())
        if not order:
            raise MalformedMasterKeys("aucune clé maîtresse")
        return cls(current=order[0], keys=keys)

    def wrap(self, key_id: str, data_key: bytes) -> tuple[str, str]:
        """(master id, base64 of nonce + ciphertext) of `data_key`, bound to its `key_id`."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[self.current]).encrypt(nonce, data_key, key_id.encode())
        return self.current, _b64(nonce + sealed)

    def unwrap(self, master_id: str, key_id: str, wrapped: str) -> bytes:
        master = self.keys.get(master_id)
        if master is None:
            raise KeyStoreError(f"la clé de données {key_id} est chiffrée par la clé maîtresse « {master_id} », "
                                "absente de RELAIS_MASTER_KEYS")
        raw = _unb64(wrapped)
        try:
            return AESGCM(master).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], key_id.encode())
        except Exception as exc:  # cryptography's InvalidTag: wrong master key or damaged row
            raise KeyStoreError(f"la clé de données {key_id} ne s'ouvre pas avec la clé maîtresse "
                                f"« {master_id} »") from exc


class _Sql(Protocol):
    """The store's two dialects: one transaction, `%s` placeholders."""

    def transaction(self) -> contextlib.AbstractContextManager[Callable[[str, tuple[Any, ...]], list[tuple[Any, ...]]]]: ...


class SqliteSql:
    """The embedded key store: its own SQLite file (migrations applied), one writer at a time."""

    def __init__(self, path: str) -> None:
        from infra.sqlite.migrations import connect

        self._conn = connect(path)
        self._lock = threading.RLock()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Callable[[str, tuple[Any, ...]], list[tuple[Any, ...]]]]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield lambda sql, params=(): self._conn.execute(sql.replace("%s", "?"), params).fetchall()
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        self._conn.close()

    def scrub(self) -> None:
        """After a key is deleted: its page zeroed (secure_delete, infra/sqlite/migrations.py)
        and the write-ahead log that still held it emptied."""
        with self._lock:
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


class PostgresSql:
    """The distributed key store: tables of migration 005 in `schema`, on a pool (the
    process's, or its own small one opened from `conninfo`, closed by `close`)."""

    def __init__(self, pool: Any = None, schema: str = "public", *, conninfo: str | None = None) -> None:
        from psycopg import sql as pgsql
        from psycopg_pool import ConnectionPool

        from infra.postgres.migrations import MIGRATIONS_DIR

        self._owned = pool is None
        self._pool = pool or ConnectionPool(conninfo, min_size=1, max_size=4, open=True, kwargs={"autocommit": True},
                                            name="relais-keys")
        self._schema = schema
        # A schema made by a test or by the event store alone may lack migration 005: its
        # statements are idempotent, run under a lock so that processes starting together agree.
        ddl = (MIGRATIONS_DIR / "005_key_store.sql").read_text(encoding="utf-8")
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('relais-key-store'))")
            conn.execute(pgsql.SQL("SET LOCAL search_path TO {}").format(pgsql.Identifier(schema)))
            conn.execute(ddl)

    def close(self) -> None:
        if self._owned:
            self._pool.close()

    def scrub(self) -> None:
        """After a key is deleted: VACUUM drops its dead row version from the table's pages
        (the WAL and the backups keep theirs until rotated: docs/security.md)."""
        from psycopg import sql as pgsql

        with self._pool.connection() as conn:
            conn.execute(pgsql.SQL("VACUUM {}.person_keys").format(pgsql.Identifier(self._schema)))

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Callable[[str, tuple[Any, ...]], list[tuple[Any, ...]]]]:
        from psycopg import sql as pgsql

        with self._pool.connection() as conn, conn.transaction():
            conn.execute(pgsql.SQL("SET LOCAL search_path TO {}").format(pgsql.Identifier(self._schema)))

            def run(statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
                cur = conn.execute(statement, params)
                return cur.fetchall() if cur.description else []

            yield run


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class KeyStore:
    """The data keys of the persons (see the module docstring)."""

    def close(self) -> None:
        close = getattr(self._sql, "close", None)
        if close is not None:
            close()

    def __init__(self, sql: _Sql, masters: MasterKeys, *, cache_ttl_s: float = 30.0) -> None:
        self._sql = sql
        self.masters = masters
        self._ttl = cache_ttl_s
        self._cache: dict[str, tuple[bytes | None, float]] = {}
        self._pathways: dict[str, str] = {}  # pathway id -> key id (never changes once bound)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ keys
    def _cached(self, key_id: str) -> tuple[bool, bytes | None]:
        with self._lock:
            hit = self._cache.get(key_id)
        if hit is not None and hit[1] > time.monotonic():
            return True, hit[0]
        return False, None

    def _remember(self, key_id: str, key: bytes | None) -> None:
        with self._lock:
            self._cache[key_id] = (key, time.monotonic() + self._ttl)

    def forget(self, key_id: str) -> None:
        with self._lock:
            self._cache.pop(key_id, None)

    def key(self, key_id: str) -> bytes | None:
        """The data key `key_id`, or None when it was destroyed (the person was erased)."""
        found, key = self._cached(key_id)
        if found:
            return key
        with self._sql.transaction() as run:
            rows = run("SELECT master_id, wrapped FROM person_keys WHERE key_id = %s", (key_id,))
        key = self.masters.unwrap(rows[0][0], key_id, rows[0][1]) if rows else None
        self._remember(key_id, key)
        return key

    def _create(self, run: Callable[..., list[tuple[Any, ...]]], key_id: str, person_hash: str | None) -> None:
        master_id, wrapped = self.masters.wrap(key_id, AESGCM.generate_key(bit_length=256))
        # Not remembered here: another process may win the insert with its own key.
        run("INSERT INTO person_keys (key_id, person_hash, master_id, wrapped, created_at) VALUES (%s, %s, %s, %s, %s) "
            "ON CONFLICT DO NOTHING", (key_id, person_hash, master_id, wrapped, _now()))

    def _lookup(self) -> bytes:
        key = self.key(LOOKUP_KEY_ID)
        if key is None:
            with self._sql.transaction() as run:
                self._create(run, LOOKUP_KEY_ID, None)
            self.forget(LOOKUP_KEY_ID)
            key = self.key(LOOKUP_KEY_ID)
        assert key is not None
        return key

    def person_hash(self, person_ref: str) -> str:
        return hmac.new(self._lookup(), person_ref.encode(), hashlib.sha256).hexdigest()

    def key_of_person(self, person_ref: str) -> str:
        """The id of the person's data key, created on first use (two processes racing on a
        new person end up with one key: the second insert does nothing)."""
        digest = self.person_hash(person_ref)
        with self._sql.transaction() as run:
            rows = run("SELECT key_id FROM person_keys WHERE person_hash = %s", (digest,))
            if rows:
                return str(rows[0][0])
            self._create(run, str(uuid.uuid4()), digest)
            return str(run("SELECT key_id FROM person_keys WHERE person_hash = %s", (digest,))[0][0])

    def bind_person(self, pathway_id: str, person_ref: str) -> str:
        """The key sealing `pathway_id`, bound to its person's key (created on first use) if it
        had none: one transaction (an opening event pays one round trip, not four)."""
        with self._lock:
            known = self._pathways.get(pathway_id)
        if known is not None:
            return known
        digest = self.person_hash(person_ref)
        with self._sql.transaction() as run:
            bound = run("SELECT key_id FROM pathway_keys WHERE pathway_id = %s", (pathway_id,))
            if not bound:
                rows = run("SELECT key_id FROM person_keys WHERE person_hash = %s", (digest,))
                if not rows:
                    self._create(run, str(uuid.uuid4()), digest)
                    rows = run("SELECT key_id FROM person_keys WHERE person_hash = %s", (digest,))
                run("INSERT INTO pathway_keys (pathway_id, key_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                    (pathway_id, str(rows[0][0])))
                bound = run("SELECT key_id FROM pathway_keys WHERE pathway_id = %s", (pathway_id,))
        with self._lock:
            self._pathways[pathway_id] = str(bound[0][0])
        return str(bound[0][0])

    def bind(self, pathway_id: str, key_id: str) -> str:
        """Seal `pathway_id`'s events with `key_id` from now on; returns the key bound (the
        first binding wins)."""
        with self._sql.transaction() as run:
            run("INSERT INTO pathway_keys (pathway_id, key_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (pathway_id, key_id))
            bound = str(run("SELECT key_id FROM pathway_keys WHERE pathway_id = %s", (pathway_id,))[0][0])
        with self._lock:
            self._pathways[pathway_id] = bound
        return bound

    def key_id_of_pathway(self, pathway_id: str) -> str | None:
        with self._lock:
            known = self._pathways.get(pathway_id)
        if known is not None:
            return known
        with self._sql.transaction() as run:
            rows = run("SELECT key_id FROM pathway_keys WHERE pathway_id = %s", (pathway_id,))
        if not rows:
            return None
        with self._lock:
            self._pathways[pathway_id] = str(rows[0][0])
        return str(rows[0][0])

    def pathways_of_key(self, key_id: str) -> list[str]:
        with self._sql.transaction() as run:
            return sorted(str(r[0]) for r in run("SELECT pathway_id FROM pathway_keys WHERE key_id = %s", (key_id,)))

    def find_person(self, person_ref: str) -> str | None:
        """The id of the person's key, None if Relais never sealed anything of theirs."""
        digest = self.person_hash(person_ref)
        with self._sql.transaction() as run:
            rows = run("SELECT key_id FROM person_keys WHERE person_hash = %s", (digest,))
        return str(rows[0][0]) if rows else None

    def is_erased(self, key_id: str) -> bool:
        with self._sql.transaction() as run:
            return bool(run("SELECT 1 FROM erased_keys WHERE key_id = %s", (key_id,)))

    def destroy(self, key_id: str, legal_basis: str) -> None:
        """Crypto-shredding: the key is deleted; only the trace of its erasure is kept (no person)."""
        with self._sql.transaction() as run:
            run("DELETE FROM person_keys WHERE key_id = %s", (key_id,))
            run("INSERT INTO erased_keys (key_id, erased_at, legal_basis) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (key_id, _now(), legal_basis))
        self._remember(key_id, None)
        scrub = getattr(self._sql, "scrub", None)
        if scrub is not None:
            scrub()

    # ------------------------------------------------------------------ rotation
    def count_to_rewrap(self) -> int:
        with self._sql.transaction() as run:
            return int(run("SELECT COUNT(*) FROM person_keys WHERE master_id <> %s", (self.masters.current,))[0][0])

    def rewrap(self, *, batch: int = 500, on_batch: Callable[[int], None] | None = None) -> int:
        """Re-wrap under the current master key every data key wrapped by another one; returns
        how many. Each batch is one transaction and each row is updated only if it still has
        the wrapping read (a key destroyed meanwhile stays destroyed). Readers keep working all
        along: a row is readable under its old master key as under the new one."""
        done = 0
        while True:
            with self._sql.transaction() as run:
                rows = run("SELECT key_id, master_id, wrapped FROM person_keys WHERE master_id <> %s "
                           "ORDER BY key_id LIMIT %s", (self.masters.current, batch))
                for key_id, master_id, wrapped in rows:
                    key = self.masters.unwrap(master_id, key_id, wrapped)
                    new_master, new_wrapped = self.masters.wrap(key_id, key)
                    run("UPDATE person_keys SET master_id = %s, wrapped = %s WHERE key_id = %s AND wrapped = %s",
                        (new_master, new_wrapped, key_id, wrapped))
            done += len(rows)
            if on_batch is not None:
                on_batch(done)
            if len(rows) < batch:
                return done


@dataclass(frozen=True)
class Sealed:
    """A sealed part as it is stored and put on the wire (JSON-friendly)."""

    key: str
    fields: tuple[str, ...]
    nonce: str
    ciphertext: str

    def to_json(self) -> dict[str, Any]:
        return {"alg": ALGORITHM, "key": self.key, "fields": list(self.fields), "nonce": self.nonce,
                "ciphertext": self.ciphertext}

    @classmethod
    def from_json(cls, data: Any) -> Sealed:
        if not isinstance(data, dict) or data.get("alg") != ALGORITHM:
            raise ValueError("sealed: not an A256GCM sealed part")
        return cls(key=str(data["key"]), fields=tuple(data["fields"]), nonce=str(data["nonce"]),
                   ciphertext=str(data["ciphertext"]))


class PersonalCipher:
    """Seals and opens the personal part of a pathway's events with its person's key."""

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys

    def key_id_for(self, pathway_id: str, person_ref: str | None) -> str:
        """The key sealing `pathway_id`: its person's (the opening event names them), else the
        one already bound, else (a pathway stored before keys existed) a key of its own."""
        if person_ref:
            return self.keys.bind_person(pathway_id, person_ref)
        known = self.keys.key_id_of_pathway(pathway_id)
        if known is not None:
            return known
        return self.keys.bind_person(pathway_id, f"pathway:{pathway_id}")

    def seal(self, pathway_id: str, version: int, fields: tuple[str, ...], plaintext: bytes,
             person_ref: str | None = None) -> Sealed | None:
        """The sealed part, or None when the person's key was destroyed: their fields are
        erased, nothing of them may be written anywhere (the relay catching up after an erasure)."""
        key_id = self.key_id_for(pathway_id, person_ref)
        key = self.keys.key(key_id)
        if key is None:
            return None
        bound = f"{pathway_id}:{version}".encode()
        # A synthetic nonce (as AES-GCM-SIV derives it): HMAC of the key over what is sealed.
        # The same event sealed twice (the relay republishing after a crash) gives the same
        # bytes, so a duplicate on the wire is an exact repeat; two different plaintexts never
        # share a nonce, which is all GCM needs.
        nonce = hmac.new(key, b"relais-seal\0" + bound + b"\0" + "\0".join(fields).encode() + b"\0" + plaintext,
                         hashlib.sha256).digest()[:NONCE_BYTES]
        ct = AESGCM(key).encrypt(nonce, plaintext, bound)
        return Sealed(key=key_id, fields=fields, nonce=_b64(nonce), ciphertext=_b64(ct))

    def open(self, pathway_id: str, version: int, sealed: Sealed) -> bytes | None:
        """The plaintext, or None when the person's key was destroyed (erased)."""
        key = self.keys.key(sealed.key)
        if key is None:
            return None
        return AESGCM(key).decrypt(_unb64(sealed.nonce), _unb64(sealed.ciphertext), f"{pathway_id}:{version}".encode())

    def forget(self, key_id: str) -> None:
        self.keys.forget(key_id)

    @staticmethod
    def parse(data: Any) -> Sealed:
        return Sealed.from_json(data)

    def close(self) -> None:
        self.keys.close()


def rotate(keys: KeyStore, out: TextIO | None) -> int:
    """`relais keys rotate`: re-wrap with progress on `out`."""
    from infra.progress import Progress

    total = keys.count_to_rewrap()
    progress = Progress("rotation des clés", out, unit="clés", rate_unit="clés/s")
    progress.start(total)
    done = keys.rewrap(on_batch=progress.update)
    progress.finish()
    return done


__all__ = ["KeyStore", "KeyStoreError", "MasterKeys", "PersonalCipher", "PostgresSql", "Sealed", "SqliteSql",
           "new_master_key", "rotate"]
