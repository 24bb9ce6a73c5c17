"""Identity at the gateway: only tokens of the configured issuer, signed with its published
keys, bound to Relais, of bounded lifetime, naming an agency of the registry, get in. Each
attack here is one a served instance let through before tokens were verified against a JWKS."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from gateway.auth import (
    AuthenticationFailed,
    KeySet,
    SigningKey,
    TokenPolicy,
    TokenVerifier,
    build_token_verifier,
    development_key,
    jwks_document,
    jwks_from_file,
    mint_token,
)
from infra.agencies import load_registry
from services.checks import UnsafeConfiguration, security_problems
from services.settings import Settings
from tests.tokens import AUDIENCE, ISSUER, claims, ec_key, identity_settings, rsa_key, sign, token
from tests.unit.gateway.conftest import Api

REGISTRY = load_registry()
ME = "{ me { agency role } }"


def verifier(**settings: object) -> TokenVerifier:
    return build_token_verifier(Settings(**{"mode": "embedded", **identity_settings(), **settings}), REGISTRY)


def refusal(token_text: str, verify: TokenVerifier | None = None) -> str:
    with pytest.raises(AuthenticationFailed) as refused:
        (verify or verifier()).verify(token_text)
    return refused.value.message


def test_a_token_of_the_issuer_is_accepted_with_either_algorithm():
    for key in (rsa_key(), ec_key()):
        principal = verifier().verify(token("siao", "coordinateur", "siao-coord-2", key=key))
        assert (principal.agency, principal.professional, principal.role.value) == ("siao", "siao-coord-2",
                                                                                    "coordinateur")
        assert principal.expires_at is not None and principal.expires_at > time.time()


# --------------------------------------------------------------------------- the platform's own identity
def test_a_token_naming_the_platform_itself_is_refused_even_when_validly_signed():
    assert "identité de la plateforme" in refusal(token("relais", "coordinateur"))


def test_a_forged_relais_token_gets_a_401_over_graphql(api: Api):
    response = api.post(ME, as_=token("relais", "medecin", "risk-engine"))
    assert response.status_code == 401
    (error,) = response.json()["errors"]
    assert "identité de la plateforme" in error["message"] and error["extensions"]["code"] == "INVALID_TOKEN"


# --------------------------------------------------------------------------- signatures
def test_an_hs256_token_is_refused_whatever_its_secret():
    # Including the classic confusion attack: HMAC keyed with the issuer's public key.
    public_pem = rsa_key().private_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
    for secret in (b"dev-only-change-me-dev-only-change-me", public_pem):
        assert "algorithme" in refusal(_hs256(claims(), secret))


def _hs256(payload: dict, secret: bytes) -> str:
    """By hand: PyJWT itself refuses to use a PEM as an HMAC secret."""
    import base64
    import hashlib
    import hmac

    def part(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = ".".join(part(json.dumps(x).encode()) for x in ({"alg": "HS256", "typ": "JWT", "kid": rsa_key().kid},
                                                                    payload))
    return f"{signing_input}.{part(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"


def test_an_unsigned_alg_none_token_is_refused():
    forged = jwt.encode(claims(), None, algorithm="none", headers={"kid": rsa_key().kid})
    assert "algorithme" in refusal(forged)


def test_a_token_whose_header_names_another_algorithm_than_its_key_is_refused():
    forged = sign(claims(), ec_key(), kid=rsa_key().kid)  # ES256 under the RSA key's kid
    assert "algorithme" in refusal(forged)


def test_a_token_signed_by_a_key_the_issuer_does_not_publish_is_refused():
    stranger = SigningKey(kid=rsa_key().kid, private_key=rsa_key("other").private_key, algorithm="RS256")
    assert "signature invalide" in refusal(sign(claims(), stranger))


def test_a_token_without_a_kid_is_refused():
    unkeyed = jwt.encode(claims(), rsa_key().private_key, algorithm="RS256")
    assert "kid" in refusal(unkeyed)


def test_a_development_key_token_is_refused_in_the_production_setting(tmp_path):
    dev = development_key(tmp_path)
    dev_token = mint_token(dev, issuer=ISSUER, audience=AUDIENCE, agency="siao", professional="p", role="coordinateur")
    # Even if the production JWKS were made to publish it next to the provider's keys.
    production = TokenVerifier(KeySet(lambda _r: jwks_document(rsa_key(), dev)),
                               TokenPolicy(ISSUER, AUDIENCE, 3600, refuse_development_keys=True), REGISTRY)
    assert "clé de développement" in refusal(dev_token, production)
    assert production.verify(token("siao")).agency == "siao"


def test_the_production_setting_refuses_to_start_on_the_development_key(tmp_path):
    development_key(tmp_path)
    settings = Settings(mode="embedded", environment="production", state_dir=tmp_path, jwt_issuer=ISSUER,
                        jwks_file=tmp_path / "dev-jwks.json")
    with pytest.raises(UnsafeConfiguration) as unsafe:
        build_token_verifier(settings, REGISTRY)
    assert len(unsafe.value.problems) == 1 and "clé de développement" in unsafe.value.problems[0]


# --------------------------------------------------------------------------- claims
def test_a_lifetime_above_the_cap_is_refused_as_an_expiry_in_2100():
    year_2100 = 4102444800
    assert "durée de validité supérieure à 12 h" in refusal(sign(claims(exp=year_2100)))
    assert "supérieure à 1 h" in refusal(sign(claims(exp=int(time.time()) + 7200)), verifier(token_max_lifetime_s=3600))


def test_a_token_issued_in_the_future_is_refused():
    later = int(time.time()) + 3600
    assert "futur" in refusal(sign(claims(iat=later, exp=later + 600)))


@pytest.mark.parametrize("claim", ["exp", "iat", "aud", "iss", "sub"])
def test_a_token_missing_a_required_claim_is_refused(claim):
    assert f"« {claim} » manquante" in refusal(sign(claims(**{claim: None})))


def test_an_expired_token_is_refused():
    now = int(time.time())
    assert "expiré" in refusal(sign(claims(iat=now - 4000, exp=now - 3600)))


def test_a_token_for_another_audience_is_refused():
    assert "audience" in refusal(sign(claims(aud="dossier-patient")))


def test_a_token_of_another_issuer_is_refused():
    assert "émetteur" in refusal(sign(claims(iss="https://idp.evil.invalid")))


def test_a_token_for_an_agency_absent_from_the_registry_is_refused():
    assert "structure inconnue du registre" in refusal(token("agence-fantome", "coordinateur"))


def test_refusals_never_repeat_what_the_token_says():
    for forged in (sign(claims(role="<script>chef</script>")), sign(claims(agency="<b>fantome</b>")),
                   sign(claims(iss="https://evil.invalid/<x>"))):
        message = refusal(forged)
        assert "<" not in message and "fantome" not in message and "evil" not in message


# --------------------------------------------------------------------------- keys: rotation and unknown kids
def _write_jwks(path: Path, *keys: SigningKey) -> None:
    path.write_text(json.dumps(jwks_document(*keys)), encoding="utf-8")


def _file_verifier(path: Path, clock) -> TokenVerifier:  # noqa: ANN001
    keys = KeySet(jwks_from_file(path)._load, refetch_interval=30.0, clock=clock)  # noqa: SLF001
    return TokenVerifier(keys, TokenPolicy(ISSUER, AUDIENCE, 3600), REGISTRY)


def test_a_rotated_key_is_accepted_after_one_refetch(tmp_path):
    path, now = tmp_path / "jwks.json", [0.0]
    _write_jwks(path, rsa_key("k1"))
    verify = _file_verifier(path, lambda: now[0])
    assert verify.verify(token("siao", key=rsa_key("k1"))).agency == "siao"
    _write_jwks(path, rsa_key("k2"))  # the issuer rotated: k1 withdrawn, k2 published
    assert verify.verify(token("siao", key=rsa_key("k2"))).agency == "siao"
    assert verify.keys.fetches == 2


def test_an_unknown_kid_is_refused_after_one_refetch_and_does_not_refetch_again_at_once(tmp_path):
    path, now = tmp_path / "jwks.json", [100.0]
    _write_jwks(path, rsa_key("k1"))
    verify = _file_verifier(path, lambda: now[0])
    stranger = sign(claims(), rsa_key("k9"))
    assert "clé de signature inconnue" in refusal(stranger, verify)
    assert verify.keys.fetches == 2  # the first load, then one refetch for k9
    for _ in range(20):  # a flood of invented kids
        refusal(sign(claims(), SigningKey(kid=f"x{_}", private_key=rsa_key("k9").private_key, algorithm="RS256")),
                verify)
    assert verify.keys.fetches == 2
    now[0] += 31  # later, one more refetch is allowed
    refusal(stranger, verify)
    assert verify.keys.fetches == 3


def test_a_key_the_issuer_withdrew_stops_being_accepted_within_five_minutes(tmp_path):
    path, now = tmp_path / "jwks.json", [0.0]
    _write_jwks(path, rsa_key("k1"), rsa_key("k2"))
    verify = _file_verifier(path, lambda: now[0])
    compromised = token("siao", key=rsa_key("k1"))
    assert verify.verify(compromised).agency == "siao"
    _write_jwks(path, rsa_key("k2"))  # k1 leaked: the issuer withdraws it
    now[0] += 301
    assert "clé de signature inconnue" in refusal(compromised, verify)
    assert verify.verify(token("siao", key=rsa_key("k2"))).agency == "siao"


def test_an_issuer_outage_keeps_the_keys_already_known(tmp_path):
    path, now = tmp_path / "jwks.json", [0.0]
    _write_jwks(path, rsa_key("k1"))
    verify = _file_verifier(path, lambda: now[0])
    assert verify.verify(token("siao", key=rsa_key("k1"))).agency == "siao"
    path.write_text("<html>502 Bad Gateway</html>", encoding="utf-8")
    now[0] += 301
    assert verify.verify(token("siao", key=rsa_key("k1"))).agency == "siao"


def test_an_unreachable_jwks_refuses_every_token_without_an_error():
    def down(_refresh: bool) -> dict:
        raise OSError("connexion refusée")

    verify = TokenVerifier(KeySet(down), TokenPolicy(ISSUER, AUDIENCE, 3600), REGISTRY)
    assert "clé de signature inconnue" in refusal(token("siao"), verify)


def test_a_symmetric_key_in_the_jwks_is_never_used():
    document = {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "hmac", "alg": "HS256"},
                         *jwks_document(rsa_key())["keys"]]}
    verify = TokenVerifier(KeySet(lambda _r: document), TokenPolicy(ISSUER, AUDIENCE, 3600), REGISTRY)
    assert verify.keys.kids() == [rsa_key().kid]


# --------------------------------------------------------------------------- settings
def test_the_embedded_mode_is_the_development_setting_and_distributed_is_production():
    assert Settings(mode="embedded").environment == "development"
    assert Settings(mode="distributed").environment == "production"
    assert Settings(mode="distributed", environment="development").environment == "development"


def test_production_with_an_issuer_a_jwks_url_and_own_password_starts():
    settings = Settings(mode="distributed", jwt_issuer=ISSUER, jwks_url="https://idp.example/jwks",
                        database_url="postgresql://relais:s3cret@db:5432/relais")
    assert security_problems(settings) == []


def test_production_refuses_a_jwks_url_without_tls():
    settings = Settings(mode="distributed", jwt_issuer=ISSUER, jwks_url="http://idp.example/jwks",
                        database_url="postgresql://relais:s3cret@db:5432/relais")
    assert [p for p in security_problems(settings) if "https" in p]


def test_the_asgi_factory_refuses_unsafe_production_settings_with_one_line_each(monkeypatch, tmp_path):
    import os

    from gateway import asgi

    for key in [k for k in os.environ if k.startswith("RELAIS_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("RELAIS_MODE", "distributed")
    monkeypatch.setenv("RELAIS_STATE_DIR", str(tmp_path))
    with pytest.raises(SystemExit) as stopped:
        asgi.app()
    lines = str(stopped.value.code).splitlines()
    assert len(lines) == 2 and all(line.startswith("relais : ERREUR : ") for line in lines)
    assert "sans émetteur de jetons" in lines[0] and "mot de passe PostgreSQL par défaut" in lines[1]
