"""The one way tests (and benchmarks) mint bearer tokens: a test identity provider.

It holds an RSA key (RS256) and an EC key (ES256), published as an inline JWKS that the
gateway under test is configured with (`identity_settings()`), and signs tokens as the
provider would, through the same `gateway.auth.mint_token` that `relais token` uses.

    settings = Settings(state_dir=tmp, mode="embedded", **identity_settings())
    headers = {"Authorization": f"Bearer {token('siao', 'coordinateur')}"}

Attack tests build their bad tokens from `claims()` and `sign()`.
"""

from __future__ import annotations

import functools
import json
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from gateway.auth import SigningKey, jwks_document, mint_token

ISSUER = "https://idp.test.invalid/realms/relais-tests"
AUDIENCE = "relais"


@functools.cache
def rsa_key(kid: str = "test-rsa-1") -> SigningKey:
    return SigningKey(kid=kid, private_key=rsa.generate_private_key(public_exponent=65537, key_size=2048),
                      algorithm="RS256")


@functools.cache
def ec_key(kid: str = "test-ec-1") -> SigningKey:
    return SigningKey(kid=kid, private_key=ec.generate_private_key(ec.SECP256R1()), algorithm="ES256")


def published() -> tuple[SigningKey, ...]:
    """The keys the test provider's JWKS publishes."""
    return (rsa_key(), ec_key())


def identity_settings(*keys: SigningKey) -> dict[str, Any]:
    """Settings fields that make a gateway trust the test provider (and only it)."""
    return {"jwt_issuer": ISSUER, "jwt_audience": AUDIENCE,
            "jwks": json.dumps(jwks_document(*(keys or published())))}


def identity_env(*keys: SigningKey) -> dict[str, str]:
    """The same, as RELAIS_* environment variables (for a served subprocess)."""
    return {f"RELAIS_{name.upper()}": value for name, value in identity_settings(*keys).items()}


def token(agency: str, role: str = "medecin", professional: str | None = None, *, ttl_seconds: int = 3600,
          key: SigningKey | None = None) -> str:
    """A valid token of the test provider for `agency` (a code of the agency registry)."""
    return mint_token(key or rsa_key(), issuer=ISSUER, audience=AUDIENCE, agency=agency,
                      professional=professional or f"{agency}-{role}", role=role, ttl_seconds=ttl_seconds,
                      token_id=uuid.uuid4().hex)


def claims(agency: str = "siao", role: str = "coordinateur", **changes: Any) -> dict[str, Any]:
    """The claims of a valid token, with `changes` applied (a None value removes the claim)."""
    now = int(time.time())
    base: dict[str, Any] = {"iss": ISSUER, "aud": AUDIENCE, "sub": f"{agency}-pro", "agency": agency, "role": role,
                            "iat": now, "exp": now + 600, "jti": uuid.uuid4().hex}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(payload: dict[str, Any], key: SigningKey | None = None, **headers: Any) -> str:
    """`payload` signed with `key` (default the provider's RSA key) under its kid."""
    key = key or rsa_key()
    return jwt.encode(payload, key.private_key, algorithm=key.algorithm, headers={"kid": key.kid, **headers})
