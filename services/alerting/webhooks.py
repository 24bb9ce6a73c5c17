"""Agency webhooks for alert changes: registry, Standard Webhooks signature, delivery with backoff.

A partner system that does not hold a websocket open registers one URL per agency (GraphQL
mutation `registerAlertWebhook`, coordinator role); the secret (`whsec_` + base64 of 32 random
bytes) is shown once. Each delivery is a JSON POST signed as the Standard Webhooks
specification says (https://www.standardwebhooks.com/, the `standardwebhooks` package), so a
partner verifies it with an off-the-shelf library: `webhook-id` (= the alert change's delivery
id: the receiver deduplicates on it; we never deliver the same change twice to an agency once
it answered 2xx), `webhook-timestamp` (Unix seconds; verifiers refuse one more than 5 minutes
off) and `webhook-signature: v1,<base64 HMAC-SHA256(key, id + "." + timestamp + "." + body)>`.
A secret issued before Standard Webhooks (plain text, no `whsec_`) still signs, with its UTF-8
bytes as the key (`standardwebhooks.Webhook(secret.encode())` verifies it); registering again
issues a `whsec_` one.

Secrets are encrypted at rest (`SecretBox`: AES-256-GCM, key derived by HKDF-SHA256 from the
application's cipher key, `settings.cipher_key`, the one encrypting event payloads; the agency
is the associated data, so a sealed secret copied to another agency's row does not open).
Rows written in clear by an older version are read once and sealed in place.
"""

from __future__ import annotations

import base64
import logging
import os
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import standardwebhooks

log = logging.getLogger("relais.alerting.webhooks")


@dataclass(frozen=True)
class Webhook:
    agency: str
    url: str
    secret: str


class WebhookRegistry(Protocol):
    def register(self, agency: str, url: str) -> str: ...
    def get(self, agency: str) -> Webhook | None: ...
    def delivered(self, agency: str, delivery_id: str) -> bool: ...
    def mark_delivered(self, agency: str, delivery_id: str) -> None: ...


class WebhookUrlRefused(ValueError):
    """A webhook URL Relais will not call; the message says why, in French."""


def check_webhook_url(url: str, *, development: bool,
                      resolve: Callable[[str], list[str]] | None = None) -> str:
    """The URL if Relais may deliver alerts to it, else :class:`WebhookUrlRefused`.

    https only, and never an address of Relais's own network (loopback, private, link-local,
    reserved, multicast: a webhook must not become a way to reach internal services, an SSRF).
    In development, http and local receivers are allowed (tests, a laptop). Registration runs
    it once; every delivery attempt checks again (:func:`pin`), since a name's answer can change
    after registration (DNS rebinding)."""
    if development:
        _check_form(url, development=True)
        return url
    pin(url, development=False, resolve=resolve)
    return url


@dataclass(frozen=True)
class PinnedTarget:
    """Where one delivery attempt connects: the URL with the checked address in place of the
    host, and the registered host for the `Host` header and TLS (SNI and certificate name)."""

    url: str
    host: str
    host_header: str


def _check_form(url: str, *, development: bool) -> Any:
    from urllib.parse import urlsplit

    if len(url) > 500 or any(c.isspace() for c in url):
        raise WebhookUrlRefused("URL de webhook invalide (500 caractères au plus, sans espace).")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise WebhookUrlRefused("URL de webhook invalide : https://hôte/chemin attendu.")
    if development:
        return parts
    if parts.scheme != "https":
        raise WebhookUrlRefused("URL de webhook refusée : https obligatoire (les alertes contiennent des données de santé).")
    if parts.username or parts.password:
        raise WebhookUrlRefused("URL de webhook refusée : pas d'identifiants dans l'URL (le secret signe les envois).")
    return parts


def _is_internal(address: str) -> bool:
    """True for an address of Relais's own network or none at all: loopback, private, link-local,
    reserved, unspecified, multicast, and an IPv4 one hidden in IPv6 (::ffff:127.0.0.1)."""
    import ipaddress

    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return True
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    return not ip.is_global or ip.is_multicast


def pin(url: str, *, development: bool, resolve: Callable[[str], list[str]] | None = None) -> PinnedTarget:
    """Resolve the URL's host NOW and check every address it answers; the attempt then connects
    to the first of them, the one checked, and to nothing else (no second resolution by the HTTP
    client, which could answer differently: DNS rebinding). Outside development one internal
    address among the answers refuses the whole delivery (:class:`WebhookUrlRefused`)."""
    import ipaddress
    from urllib.parse import urlunsplit

    parts = _check_form(url, development=development)
    host = parts.hostname
    addresses = (resolve or _resolve)(host)
    if not addresses:
        raise WebhookUrlRefused(f"URL de webhook refusée : l'hôte « {host} » ne se résout pas.")
    if not development and any(_is_internal(a) for a in addresses):
        raise WebhookUrlRefused(f"URL de webhook refusée : « {host} » désigne une adresse interne "
                                "(boucle locale, réseau privé, lien local, réservé ou multidiffusion).")
    address = addresses[0].split("%")[0]
    literal = f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
    port = f":{parts.port}" if parts.port else ""
    named = f"[{host}]" if ":" in host else host
    return PinnedTarget(url=urlunsplit((parts.scheme, literal + port, parts.path or "/", parts.query, "")),
                        host=host, host_header=named + port)


def _resolve(host: str) -> list[str]:
    import socket

    try:
        # Order kept (the resolver's preference); duplicates dropped.
        return list(dict.fromkeys(info[4][0] for info in socket.getaddrinfo(host, 443, proto=socket.IPPROTO_TCP)))
    except (socket.gaierror, UnicodeError):
        return []


#: Standard Webhooks' prefix of a secret: `whsec_` + the key in base64.
SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A fresh webhook secret as Standard Webhooks writes them (32 random bytes)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def signer(secret: str) -> standardwebhooks.Webhook:
    """The Standard Webhooks signer/verifier for `secret` (see the module doc for old secrets)."""
    return standardwebhooks.Webhook(secret if secret.startswith(SECRET_PREFIX) else secret.encode())


def signed_headers(secret: str, delivery_id: str, body: str, at: datetime | None = None) -> dict[str, str]:
    """The Standard Webhooks headers of one delivery of `body`, signed at `at` (default now)."""
    at = (at or datetime.now(timezone.utc)).astimezone(timezone.utc)  # the library reads it as UTC
    return {"webhook-id": delivery_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": signer(secret).sign(delivery_id, at, body)}


SEALED = "v1:"


class SecretBox:
    """AES-256-GCM for webhook secrets, under a key derived from the app's cipher key."""

    def __init__(self, key_material: str | bytes) -> None:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        raw = key_material.encode() if isinstance(key_material, str) else key_material
        if not raw:
            raise ValueError("webhook secrets need a key")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"relais", info=b"relais webhook secrets v1").derive(raw)
        self._aead = AESGCM(key)

    def seal(self, agency: str, secret: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, secret.encode(), agency.encode())
        return SEALED + base64.b64encode(nonce + sealed).decode()

    def open(self, agency: str, stored: str) -> str:
        blob = base64.b64decode(stored[len(SEALED):])
        return self._aead.decrypt(blob[:12], blob[12:], agency.encode()).decode()


def secret_box(settings: Any) -> SecretBox:
    """The box for `settings`: the app's cipher key (embedded: the one kept in state_dir)."""
    from services.bootstrap import cipher_key

    return SecretBox(cipher_key(settings))


class SqliteWebhookRegistry:
    def __init__(self, path: str | Path = ":memory:", *, box: SecretBox) -> None:
        from infra.sqlite.migrations import connect

        self._box = box
        self._lock = threading.Lock()
        self._conn = connect(path)  # the tables come from infra/sqlite/migrations/

    def register(self, agency: str, url: str) -> str:
        secret = new_secret()
        with self._lock:
            self._conn.execute("INSERT INTO alerting_webhooks VALUES (?,?,?) ON CONFLICT (agency) DO UPDATE "
                               "SET url = excluded.url, secret = excluded.secret",
                               (agency, url, self._box.seal(agency, secret)))
        return secret

    def get(self, agency: str) -> Webhook | None:
        with self._lock:
            row = self._conn.execute("SELECT agency, url, secret FROM alerting_webhooks WHERE agency = ?",
                                     (agency,)).fetchone()
            if row and not row[2].startswith(SEALED):  # written in clear by an older version: seal it
                self._conn.execute("UPDATE alerting_webhooks SET secret = ? WHERE agency = ? AND secret = ?",
                                   (self._box.seal(agency, row[2]), agency, row[2]))
                return Webhook(*row)
        return Webhook(row[0], row[1], self._box.open(row[0], row[2])) if row else None

    def delivered(self, agency: str, delivery_id: str) -> bool:
        with self._lock:
            return self._conn.execute("SELECT 1 FROM alerting_deliveries WHERE agency = ? AND delivery_id = ?",
                                      (agency, delivery_id)).fetchone() is not None

    def mark_delivered(self, agency: str, delivery_id: str) -> None:
        with self._lock:
            self._conn.execute("INSERT OR IGNORE INTO alerting_deliveries VALUES (?,?,?)",
                               (agency, delivery_id, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())))


class PostgresWebhookRegistry:
    def __init__(self, pool: Any, schema: str = "public", *, box: SecretBox) -> None:
        # The tables come from infra/postgres/migrations/.
        self._pool, self._schema, self._box = pool, schema, box

    def _t(self, name: str) -> str:
        return f'"{self._schema}".{name}'

    def register(self, agency: str, url: str) -> str:
        secret = new_secret()
        with self._pool.connection() as conn:
            conn.execute(f"INSERT INTO {self._t('alerting_webhooks')} VALUES (%s,%s,%s) ON CONFLICT (agency) "
                         "DO UPDATE SET url = excluded.url, secret = excluded.secret",
                         (agency, url, self._box.seal(agency, secret)))
        return secret

    def get(self, agency: str) -> Webhook | None:
        with self._pool.connection() as conn:
            row = conn.execute(f"SELECT agency, url, secret FROM {self._t('alerting_webhooks')} WHERE agency = %s",
                               (agency,)).fetchone()
            if row and not row[2].startswith(SEALED):  # written in clear by an older version: seal it
                conn.execute(f"UPDATE {self._t('alerting_webhooks')} SET secret = %s WHERE agency = %s AND secret = %s",
                             (self._box.seal(agency, row[2]), agency, row[2]))
                return Webhook(*row)
        return Webhook(row[0], row[1], self._box.open(row[0], row[2])) if row else None

    def delivered(self, agency: str, delivery_id: str) -> bool:
        with self._pool.connection() as conn:
            return conn.execute(f"SELECT 1 FROM {self._t('alerting_deliveries')} WHERE agency = %s AND delivery_id = %s",
                                (agency, delivery_id)).fetchone() is not None

    def mark_delivered(self, agency: str, delivery_id: str) -> None:
        with self._pool.connection() as conn:
            conn.execute(f"INSERT INTO {self._t('alerting_deliveries')} VALUES (%s,%s,now()::text) "
                         "ON CONFLICT DO NOTHING", (agency, delivery_id))


class _Retry(Exception):
    """A 5xx, 408 or 429 answer: worth another attempt."""


@dataclass(frozen=True)
class DeliveryResult:
    """How a delivery ended: `delivered` once the receiver answered 2xx; else `reason` (French).
    `sent`: at least one attempt sent the body (the receiver may hold it even if it refused)."""

    delivered: bool
    reason: str | None = None
    sent: bool = False

    def __bool__(self) -> bool:
        return self.delivered


def deliver(webhook: Webhook, delivery_id: str, payload: dict[str, Any], *,
            post: Callable[..., Any] | None = None, attempts: int = 6, base_delay: float = 0.5,
            sleep: Callable[[float], None] = time.sleep, development: bool = False,
            resolve: Callable[[str], list[str]] | None = None) -> DeliveryResult:
    """POST `payload`, signed (Standard Webhooks, timestamp of each attempt); retry on network
    errors and 5xx/408/429 with the project's backoff (infra/retry.py: 0.5 s, 1 s, 2 s, ... with
    jitter). Delivered once the receiver answered 2xx; not delivered after the last try, on
    another 4xx (the receiver refuses it: retrying will not help), on a redirection (never
    followed: it could point inside), or when the host now resolves to an internal address.

    Each attempt resolves the host again and connects to the address it checked (:func:`pin`),
    with the registered host in `Host` and in TLS (SNI, certificate name); the HTTP client
    takes no proxy from the environment and follows no redirection."""
    import httpx

    from infra.retry import Backoff

    body = json.dumps(payload, ensure_ascii=False, sort_keys=True)
    refused: list[str] = []
    sent: list[bool] = []

    def attempt(send: Callable[..., Any]) -> bool:
        try:
            target = pin(webhook.url, development=development, resolve=resolve)
        except WebhookUrlRefused as why:
            refused.append(str(why))
            return False
        headers = {"Content-Type": "application/json", "Host": target.host_header,
                   **signed_headers(webhook.secret, delivery_id, body)}
        extensions = {"sni_hostname": target.host} if target.url.startswith("https:") else {}
        sent.append(True)
        status = send(target.url, content=body.encode(), headers=headers, timeout=5.0,
                      extensions=extensions).status_code
        if 200 <= status < 300:
            return True
        if 300 <= status < 400:
            refused.append(f"redirection HTTP {status} non suivie")
            return False
        if 400 <= status < 500 and status not in (408, 429):
            refused.append(f"refusé par le destinataire (HTTP {status})")
            return False
        raise _Retry(f"HTTP {status}")

    backoff = Backoff(f"webhook {webhook.agency}", log, initial=base_delay, maximum=max(base_delay * 32, base_delay))
    try:
        if post is not None:
            ok = backoff.call(lambda: attempt(post), attempts=attempts, sleep=sleep)
        else:
            with httpx.Client(trust_env=False, follow_redirects=False) as client:
                ok = backoff.call(lambda: attempt(client.post), attempts=attempts, sleep=sleep)
    except Exception as failed:  # noqa: BLE001 - network error or 5xx on the last attempt
        return DeliveryResult(False, f"échec après {attempts} tentatives ({type(failed).__name__})", bool(sent))
    return DeliveryResult(True, sent=True) if ok else DeliveryResult(False, refused[-1] if refused else None, bool(sent))
