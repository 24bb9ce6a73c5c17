"""Authentication: bearer tokens signed by an identity provider, verified against its JWKS.

A token is a JWT signed with an asymmetric key (RS256 or ES256) of the issuer named in settings
(`jwt_issuer`), whose public keys are published as a JWKS (`jwks_url`, the OpenID Connect
provider's endpoint; or `jwks_file` / inline `jwks` for development and tests). Keys are chosen
by `kid`; a `kid` not in the cached set makes the set be fetched again once (the issuer rotated
its keys), and such refetches are spaced so that made-up kids cannot flood the provider.

Claims: `iss` and `aud` (bound by settings), `exp` and `iat` (required; `exp - iat` at most
`token_max_lifetime_s`; `iat` not in the future beyond `token_clock_skew_s`), `sub`
(pseudonymous professional id), `agency` (a code of the agency registry, never the platform's
own `relais`), `role` (see permissions.Role), `jti` (optional; the rate limit counts per token).
HTTP callers send `Authorization: Bearer <token>`; websocket callers put the same header value
in the graphql-transport-ws `connection_init` payload (`{"Authorization": "Bearer <token>"}`).

Refusals are AuthenticationFailed with a French message that never repeats the token's content.

Development: `relais token` signs with a local key pair generated once in the state directory
(private key 0600; its public half in `dev-jwks.json`, which a gateway in the development
setting reads when no JWKS is configured). Those keys' kids start with DEV_KID_PREFIX and their
issuer is DEV_ISSUER: outside development neither is accepted.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from domain.agencies import AgencyRegistry
from domain.values import SYSTEM_AGENCY
from gateway.permissions import Principal, Role

#: The only signature algorithms accepted (HS256's shared secret and `none` are refused).
ALGORITHMS = ("RS256", "ES256")
#: The issuer of development tokens (`relais token`); refused outside development.
DEV_ISSUER = "urn:relais:development"
#: Every development key's kid starts with this; refused outside development.
DEV_KID_PREFIX = "relais-dev-"
DEV_PRIVATE_KEY_FILE = "dev-token-key.pem"
DEV_JWKS_FILE = "dev-jwks.json"


class AuthenticationFailed(Exception):
    """The token is absent, malformed, expired, badly signed, or names no known agency or role."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# --------------------------------------------------------------------------- keys
class KeySet:
    """An issuer's public keys by kid, as its JWKS publishes them.

    `load(refresh)` returns the JWKS (a PyJWKSet or its dict form); `refresh=False` may answer
    from a cache. A kid not in the set triggers one refresh, unless the last refresh is less
    than `refetch_interval` seconds old: a token with an invented kid costs the provider at most
    one request per interval, whatever the traffic. The set is also reloaded when older than
    `max_age` seconds, so that a key the provider withdrew (compromised) stops being accepted.
    A load that fails keeps the keys already known (the provider's outage is not Relais's).
    """

    def __init__(self, load: Callable[[bool], jwt.PyJWKSet | Mapping[str, Any]], *, refetch_interval: float = 30.0,
                 max_age: float = 300.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._load = load
        self._refetch_interval = refetch_interval
        self._max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, jwt.PyJWK] | None = None
        self._loaded_at = 0.0
        self._last_refresh: float | None = None
        self.fetches = 0

    def _fetch(self, refresh: bool) -> None:
        self.fetches += 1
        self._loaded_at = self._clock()
        try:
            loaded = self._load(refresh)
            keyset = loaded if isinstance(loaded, jwt.PyJWKSet) else jwt.PyJWKSet.from_dict(dict(loaded))
        except jwt.PyJWKSetError:  # the provider publishes no usable key (any more)
            self._keys = {}
            return
        except (jwt.PyJWKClientError, jwt.InvalidKeyError, OSError, ValueError):
            self._keys = self._keys or {}  # unreachable or unreadable: keep what was known
            return
        self._keys = {k.key_id: k for k in keyset.keys if k.key_id and k.algorithm_name in ALGORITHMS}

    def _current(self) -> dict[str, jwt.PyJWK]:
        if self._keys is None or self._clock() - self._loaded_at > self._max_age:
            self._fetch(False)
        assert self._keys is not None
        return self._keys

    def key(self, kid: str) -> jwt.PyJWK | None:
        with self._lock:
            found = self._current().get(kid)
            if found is not None:
                return found
            now = self._clock()
            if self._last_refresh is not None and now - self._last_refresh < self._refetch_interval:
                return None
            self._last_refresh = now
            self._fetch(True)
            return self._current().get(kid)

    def known(self, kid: str) -> jwt.PyJWK | None:
        """The key of `kid` if the set holds it and is not older than `max_age`; never fetches
        (a verified-token cache hit asks this on the event loop)."""
        keys = self._keys
        if keys is None or self._clock() - self._loaded_at > self._max_age:
            return None
        return keys.get(kid)

    def kids(self) -> list[str]:
        with self._lock:
            return sorted(self._current())


def jwks_from_url(url: str, *, refetch_interval: float = 30.0) -> KeySet:
    """The provider's JWKS endpoint, fetched by PyJWT's client (cached 5 min)."""
    client = jwt.PyJWKClient(url, cache_jwk_set=True, lifespan=300, timeout=5)
    return KeySet(lambda refresh: client.get_jwk_set(refresh=refresh), refetch_interval=refetch_interval)


#: Where an OpenID Connect provider publishes its metadata, under its issuer (OIDC Discovery 1.0 §4).
DISCOVERY_PATH = "/.well-known/openid-configuration"


@dataclass(frozen=True)
class ProviderMetadata:
    """What Relais reads of an OpenID Connect provider's discovery document."""

    issuer: str
    jwks_uri: str
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None


class DiscoveryFailed(Exception):
    """The provider's discovery document could not be read or is not acceptable (French message)."""


def discover(issuer: str, *, development: bool, get: Callable[..., Any] | None = None) -> ProviderMetadata:
    """The provider's endpoints, from `<issuer>/.well-known/openid-configuration`, when only
    the issuer is configured. The document must name the same issuer (OIDC Discovery §4.3: a
    document for another issuer is refused) and a `jwks_uri`; outside development every URL is
    https."""
    import httpx
    from urllib.parse import urlsplit

    def secure(url: str | None, name: str) -> str | None:
        if url is not None and not development and urlsplit(url).scheme != "https":
            raise DiscoveryFailed(f"fournisseur d'identité : « {name} » doit être en https ({url}).")
        return url

    url = secure(issuer.rstrip("/") + DISCOVERY_PATH, "issuer")
    try:
        answer = (get or httpx.get)(url, timeout=10, follow_redirects=False)
        document = answer.json() if answer.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        document = None
    if not isinstance(document, dict):
        raise DiscoveryFailed(f"fournisseur d'identité : document de découverte illisible à {url} "
                              "(définissez RELAIS_JWKS_URL, ou vérifiez RELAIS_JWT_ISSUER).")
    if document.get("issuer") != issuer:
        raise DiscoveryFailed(f"fournisseur d'identité : le document de {url} est celui de l'émetteur "
                              f"« {document.get('issuer')} », pas de « {issuer} ».")
    jwks_uri = document.get("jwks_uri")
    if not isinstance(jwks_uri, str) or not jwks_uri:
        raise DiscoveryFailed(f"fournisseur d'identité : pas de « jwks_uri » dans {url}.")
    return ProviderMetadata(issuer=issuer, jwks_uri=secure(jwks_uri, "jwks_uri") or jwks_uri,
                            authorization_endpoint=secure(document.get("authorization_endpoint"),
                                                          "authorization_endpoint"),
                            token_endpoint=secure(document.get("token_endpoint"), "token_endpoint"))


def jwks_from_file(path: Path, *, refetch_interval: float = 1.0) -> KeySet:
    """A JWKS file on disk, read again when a kid is unknown (a missing file is an empty set)."""

    def load(_refresh: bool) -> Mapping[str, Any]:
        try:
            return json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"keys": []}

    return KeySet(load, refetch_interval=refetch_interval)


def jwks_inline(text: str) -> KeySet:
    """A JWKS given as JSON text (unreadable text: no key, every token refused; `relais check` says so)."""
    try:
        document = json.loads(text)
    except ValueError:
        document = {"keys": []}
    return KeySet(lambda _refresh: document, refetch_interval=float("inf"), max_age=float("inf"))


def jwks_kids(document: Mapping[str, Any]) -> list[str]:
    """The kids a JWKS document declares (without parsing the keys)."""
    keys = document.get("keys") if isinstance(document, Mapping) else None
    return [str(k.get("kid")) for k in keys or () if isinstance(k, Mapping) and k.get("kid")]


# --------------------------------------------------------------------------- development key pair
@dataclass(frozen=True)
class SigningKey:
    """A private key that signs tokens, and the kid its JWKS publishes it under."""

    kid: str
    private_key: Any  # a cryptography private key (RSA or EC)
    algorithm: str


def _public_jwk(key: SigningKey) -> dict[str, Any]:
    algorithm = jwt.get_algorithm_by_name(key.algorithm)
    jwk = json.loads(algorithm.to_jwk(key.private_key.public_key()))
    return {**jwk, "kid": key.kid, "alg": key.algorithm, "use": "sig"}


def jwks_document(*keys: SigningKey) -> dict[str, Any]:
    """The public JWKS of these signing keys."""
    return {"keys": [_public_jwk(k) for k in keys]}


def development_key(state_dir: Path) -> SigningKey:
    """The local development key pair (ES256), generated on first use: the private key in
    `state_dir/dev-token-key.pem` (0600), its public half in `state_dir/dev-jwks.json`."""
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    private_path = state_dir / DEV_PRIVATE_KEY_FILE
    if not private_path.exists():
        pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        try:
            fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process generated it a moment ago: use theirs
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
    private_key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    public_der = private_key.public_key().public_bytes(serialization.Encoding.DER,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)
    key = SigningKey(kid=DEV_KID_PREFIX + hashlib.sha256(public_der).hexdigest()[:16], private_key=private_key,
                     algorithm="ES256")
    jwks_path = state_dir / DEV_JWKS_FILE
    document = jwks_document(key)
    if not jwks_path.exists() or json.loads(jwks_path.read_text(encoding="utf-8")) != document:
        temporary = jwks_path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(document, indent=2), encoding="utf-8")
        temporary.replace(jwks_path)
    return key


def mint_token(key: SigningKey, *, issuer: str, audience: str, agency: str, professional: str, role: str,
               ttl_seconds: int = 3600, token_id: str | None = None, issued_at: int | None = None) -> str:
    """A signed token (`relais token`, the tests' issuer)."""
    now = int(time.time()) if issued_at is None else issued_at
    claims: dict[str, Any] = {"iss": issuer, "aud": audience, "sub": professional, "agency": agency, "role": role,
                              "iat": now, "exp": now + ttl_seconds}
    if token_id:
        claims["jti"] = token_id
    return jwt.encode(claims, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid})


class DevelopmentTokenRefused(Exception):
    """A development token cannot be signed (the French reason in `message`)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def development_token(settings: Any, agencies: AgencyRegistry, *, agency: str, role: str, professional: str,
                      ttl_seconds: int) -> str:
    """A token signed by the local development key (`relais token` and the screen's
    development sign-in): only in the development setting, for a registry agency and a known
    role, within the settings' maximum lifetime; else DevelopmentTokenRefused."""
    roles = {r.value for r in Role}
    if role not in roles:
        raise DevelopmentTokenRefused(f"rôle inconnu « {role} » : choisissez parmi {', '.join(sorted(roles))}.")
    if settings.environment != "development":
        raise DevelopmentTokenRefused(
            "jeton de développement refusé : Relais ne signe qu'en développement (RELAIS_ENVIRONMENT=development) ; "
            "en production, les jetons viennent du fournisseur d'identité.")
    if agency not in agencies:
        raise DevelopmentTokenRefused(f"structure « {agency} » absente du registre des structures : "
                                      f"choisissez parmi {', '.join(sorted(agencies))}.")
    if not 0 < ttl_seconds <= settings.token_max_lifetime_s:
        raise DevelopmentTokenRefused(f"durée de validité : entre 1 et {settings.token_max_lifetime_s // 3600} h "
                                      "(RELAIS_TOKEN_MAX_LIFETIME_S).")
    if not 0 < len(professional) <= 120:
        raise DevelopmentTokenRefused("identifiant du professionnel requis (120 caractères au plus).")
    return mint_token(development_key(settings.state_dir), issuer=DEV_ISSUER, audience=settings.jwt_audience,
                      agency=agency, professional=professional, role=role, ttl_seconds=ttl_seconds)


# --------------------------------------------------------------------------- verification
@dataclass(frozen=True)
class TokenPolicy:
    issuer: str
    audience: str
    max_lifetime_s: int
    clock_skew_s: int = 30
    #: Outside development: a development key's kid is refused even if a JWKS publishes it.
    refuse_development_keys: bool = True


_SIGNATURE_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (jwt.ExpiredSignatureError, "Jeton expiré : reconnectez-vous."),
    (jwt.InvalidAudienceError, "Jeton refusé : il n'est pas destiné à Relais (audience)."),
    (jwt.InvalidIssuerError, "Jeton refusé : émetteur non reconnu."),
    (jwt.ImmatureSignatureError, "Jeton refusé : émis dans le futur (horloge de l'émetteur ?)."),
    (jwt.InvalidSignatureError, "Jeton refusé : signature invalide."),
)


#: Verified tokens remembered (exact token text -> its Principal) until they expire.
VERIFIED_TOKENS = 10_000


class TokenVerifier:
    """Bearer token -> Principal, or AuthenticationFailed (see the module docstring).

    A token verified once is remembered by its exact text until its `exp`, as long as the key
    that signed it is still in the issuer's current set (`KeySet.known`: a withdrawn key, or a
    set older than its `max_age`, sends the token to the full verification again). Only the
    signature check and the claims' parsing are saved: the text is the same, so is every claim;
    from `exp` on the token goes through the full check again (which refuses it)."""

    def __init__(self, keys: KeySet, policy: TokenPolicy, agencies: AgencyRegistry,
                 clock: Callable[[], float] = time.time) -> None:
        self.keys = keys
        self.policy = policy
        #: the provider's discovered endpoints, when only its issuer was configured
        self.provider: ProviderMetadata | None = None
        self.agencies = agencies
        self._clock = clock
        self._verified: dict[str, tuple[Principal, str, jwt.PyJWK]] = {}
        # verify() runs on worker threads: the purge iterates the dict while others insert.
        self._verified_lock = threading.Lock()

    def remembered(self, header_value: object) -> Principal | None:
        """The Principal of a bearer token verified before and still valid (see the class
        docstring), without I/O; None: verify it (`authenticate_header`)."""
        if not isinstance(header_value, str):
            return None
        scheme, _, token = header_value.strip().partition(" ")
        found = self._verified.get(token.strip()) if scheme.lower() == "bearer" else None
        if found is None:
            return None
        principal, kid, key = found
        if principal.expires_at is None or self._clock() >= principal.expires_at or self.keys.known(kid) is not key:
            self._verified.pop(token.strip(), None)
            return None
        return principal

    def verify(self, token: str) -> Principal:
        principal, kid, key = self._verify(token)
        with self._verified_lock:
            if len(self._verified) >= VERIFIED_TOKENS:
                now = self._clock()
                self._verified = {t: v for t, v in self._verified.items()
                                  if v[0].expires_at is not None and v[0].expires_at > now}
                if len(self._verified) >= VERIFIED_TOKENS:
                    self._verified.clear()
            self._verified[token] = (principal, kid, key)
        return principal

    def _verify(self, token: str) -> tuple[Principal, str, jwt.PyJWK]:
        policy = self.policy
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthenticationFailed("Jeton invalide : illisible.") from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in ALGORITHMS:
            raise AuthenticationFailed("Jeton refusé : algorithme de signature non accepté (RS256 ou ES256).")
        if not isinstance(kid, str) or not kid:
            raise AuthenticationFailed("Jeton refusé : identifiant de clé (kid) absent.")
        if policy.refuse_development_keys and kid.startswith(DEV_KID_PREFIX):
            raise AuthenticationFailed("Jeton refusé : signé par une clé de développement.")
        key = self.keys.key(kid)
        if key is None:
            raise AuthenticationFailed("Jeton refusé : clé de signature inconnue de l'émetteur.")
        if key.algorithm_name != algorithm:
            raise AuthenticationFailed("Jeton refusé : algorithme de signature non accepté (RS256 ou ES256).")
        try:
            claims = jwt.decode(token, key.key, algorithms=[algorithm], audience=policy.audience,
                                issuer=policy.issuer, leeway=policy.clock_skew_s,
                                options={"require": ["exp", "iat", "iss", "aud", "sub"]})
        except jwt.MissingRequiredClaimError as missing:
            raise AuthenticationFailed(f"Jeton refusé : revendication « {missing.claim} » manquante.") from None
        except jwt.PyJWTError as error:
            message = next((m for kind, m in _SIGNATURE_ERRORS if isinstance(error, kind)), "Jeton invalide.")
            raise AuthenticationFailed(message) from None
        expires, issued = claims["exp"], claims["iat"]
        if not isinstance(expires, int | float) or not isinstance(issued, int | float):
            raise AuthenticationFailed("Jeton invalide : dates exp et iat attendues en secondes.")
        if issued > self._clock() + policy.clock_skew_s:
            raise AuthenticationFailed("Jeton refusé : émis dans le futur (horloge de l'émetteur ?).")
        if expires - issued > policy.max_lifetime_s:
            hours = policy.max_lifetime_s / 3600
            raise AuthenticationFailed(f"Jeton refusé : durée de validité supérieure à {hours:g} h.")
        agency, professional, role = claims.get("agency"), claims.get("sub"), claims.get("role")
        if not all(isinstance(v, str) and 0 < len(v) <= 120 for v in (agency, professional, role)):
            raise AuthenticationFailed("Jeton invalide : structure, professionnel et rôle sont requis.")
        if agency == SYSTEM_AGENCY:
            raise AuthenticationFailed("Jeton refusé : l'identité de la plateforme ne s'obtient pas par un jeton.")
        if agency not in self.agencies:
            raise AuthenticationFailed("Jeton refusé : structure inconnue du registre des structures.")
        try:
            parsed_role = Role(role)
        except ValueError:
            raise AuthenticationFailed("Jeton refusé : rôle inconnu.") from None
        jti = claims.get("jti")
        token_id = jti if isinstance(jti, str) and jti else hashlib.sha256(token.encode()).hexdigest()[:32]
        return Principal(agency=agency, professional=professional, role=parsed_role, token_id=token_id,
                         expires_at=float(expires)), kid, key

    def authenticate_header(self, header_value: object) -> Principal:
        return self.verify(bearer(header_value))

    def authenticate_connection_params(self, params: Mapping[str, Any] | None) -> Principal:
        """graphql-transport-ws `connection_init` payload: `Authorization` (any case) or `token`."""
        params = params or {}
        for name, value in params.items():
            if isinstance(name, str) and name.lower() == "authorization":
                return self.authenticate_header(value)
        token = params.get("token")
        if isinstance(token, str) and token:
            return self.verify(token)
        raise AuthenticationFailed("Authentification requise dans connection_init.")


def bearer(header_value: object) -> str:
    """The token of an `Authorization: Bearer ...` value."""
    if not isinstance(header_value, str) or not header_value.strip():
        raise AuthenticationFailed("Authentification requise : en-tête « Authorization: Bearer <jeton> ».")
    scheme, _, token = header_value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("Authentification requise : en-tête « Authorization: Bearer <jeton> ».")
    return token.strip()


def build_token_verifier(settings: Any, agencies: AgencyRegistry) -> TokenVerifier:
    """The verifier the settings describe. Outside development, refuses (UnsafeConfiguration)
    what services.checks.security_problems lists: a development key, no issuer or JWKS."""
    from services.checks import UnsafeConfiguration, security_problems

    problems = security_problems(settings)
    if problems:
        raise UnsafeConfiguration(problems)
    development = settings.environment == "development"
    provider = None
    if settings.jwks_url:
        keys = jwks_from_url(settings.jwks_url)
    elif settings.jwks_file is not None:
        keys = jwks_from_file(settings.jwks_file)
    elif settings.jwks:
        keys = jwks_inline(settings.jwks)
    elif settings.jwt_issuer and settings.jwt_issuer != DEV_ISSUER:  # only the issuer: its discovery document
        try:
            provider = discover(settings.jwt_issuer, development=development)
        except DiscoveryFailed as failed:
            raise UnsafeConfiguration([str(failed)]) from None
        keys = jwks_from_url(provider.jwks_uri)
    else:  # development only (security_problems refuses it elsewhere): `relais token`'s keys
        keys = jwks_from_file(Path(settings.state_dir) / DEV_JWKS_FILE)
    issuer = settings.jwt_issuer or DEV_ISSUER
    policy = TokenPolicy(issuer=issuer, audience=settings.jwt_audience, max_lifetime_s=settings.token_max_lifetime_s,
                         clock_skew_s=settings.token_clock_skew_s, refuse_development_keys=not development)
    verifier = TokenVerifier(keys, policy, agencies)
    verifier.provider = provider
    return verifier
