"""Authentication: signed bearer tokens (JWT, HS256, key from settings).

Claims: `sub` (pseudonymous professional id), `agency`, `role` (see permissions.Role), `exp`
(required), `jti` (optional; the rate limit counts per token). HTTP callers send
`Authorization: Bearer <token>`; websocket callers put the same header value in the
graphql-transport-ws `connection_init` payload (`{"Authorization": "Bearer <token>"}`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any

import jwt

from gateway.permissions import Principal, Role

ALGORITHM = "HS256"
ISSUER = "relais"


class AuthenticationFailed(Exception):
    """The token is absent, malformed, expired, badly signed or names an unknown role."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def issue_token(key: str, *, agency: str, professional: str, role: str, ttl_seconds: int = 3600,
                token_id: str | None = None) -> str:
    """Mint a token (tests, the CLI, a partner's identity bridge)."""
    now = int(time.time())
    claims: dict[str, Any] = {"iss": ISSUER, "sub": professional, "agency": agency, "role": role,
                              "iat": now, "exp": now + ttl_seconds}
    if token_id:
        claims["jti"] = token_id
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def principal_from_token(token: str, key: str) -> Principal:
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": ["exp", "sub", "iss"]}, leeway=5)
    except jwt.ExpiredSignatureError:
        raise AuthenticationFailed("Jeton expiré : reconnectez-vous.") from None
    except jwt.PyJWTError:
        raise AuthenticationFailed("Jeton invalide.") from None
    agency, professional, role = claims.get("agency"), claims.get("sub"), claims.get("role")
    if not all(isinstance(v, str) and 0 < len(v) <= 120 for v in (agency, professional, role)):
        raise AuthenticationFailed("Jeton invalide : structure, professionnel et rôle sont requis.")
    try:
        parsed_role = Role(role)
    except ValueError:
        raise AuthenticationFailed(f"Rôle inconnu : {role[:40]}.") from None
    token_id = claims.get("jti") if isinstance(claims.get("jti"), str) else None
    return Principal(agency=agency, professional=professional, role=parsed_role,
                     token_id=token_id or hashlib.sha256(token.encode()).hexdigest()[:32])


def bearer(header_value: object) -> str:
    """The token of an `Authorization: Bearer ...` value."""
    if not isinstance(header_value, str) or not header_value.strip():
        raise AuthenticationFailed("Authentification requise : en-tête « Authorization: Bearer <jeton> ».")
    scheme, _, token = header_value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("Authentification requise : en-tête « Authorization: Bearer <jeton> ».")
    return token.strip()


def authenticate_header(header_value: object, key: str) -> Principal:
    return principal_from_token(bearer(header_value), key)


def authenticate_connection_params(params: Mapping[str, Any] | None, key: str) -> Principal:
    """graphql-transport-ws `connection_init` payload: `Authorization` (any case) or `token`."""
    params = params or {}
    for name, value in params.items():
        if isinstance(name, str) and name.lower() == "authorization":
            return authenticate_header(value, key)
    token = params.get("token")
    if isinstance(token, str) and token:
        return principal_from_token(token, key)
    raise AuthenticationFailed("Authentification requise dans connection_init.")
