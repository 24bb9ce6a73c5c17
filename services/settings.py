"""Relais settings: one model, read from `RELAIS_*` environment variables.

Read once, by the composition root (`services.bootstrap`); nothing else reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from typing import Any

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Where infra/scripts/up.sh starts the development PostgreSQL and Kafka (loopback only).
DEFAULT_DATABASE_URL = "postgresql://relais:relais@127.0.0.1:55432/relais"
DEFAULT_KAFKA_BOOTSTRAP = "127.0.0.1:59092"


class Settings(BaseSettings):
    """Every knob of Relais. Environment variable = `RELAIS_` + field name in capitals."""

    model_config = SettingsConfigDict(env_prefix="RELAIS_", extra="ignore")

    mode: Literal["embedded", "distributed"] = Field(
        "embedded",
        description="embedded: one process, SQLite file, in-process bus; "
        "distributed: real PostgreSQL and Kafka.",
    )
    state_dir: Path = Field(Path(".relais"), description="Where the embedded mode keeps its files.")
    database_url: str = Field(DEFAULT_DATABASE_URL, description="PostgreSQL URL (distributed mode).")
    database_schema: str = Field("public", description="PostgreSQL schema holding Relais tables.")
    database_pool_size: int = Field(
        12, ge=2, le=200,
        description="Connections of the process's one shared PostgreSQL pool (audit, webhooks, positions, "
        "deadlines, consumers, read models); the event store has the eventsourcing library's own pool.",
    )
    kafka_bootstrap: str = Field(DEFAULT_KAFKA_BOOTSTRAP, description="Kafka bootstrap servers.")
    topic_prefix: str = Field("relais", description="Prefix of every Kafka topic name.")
    cipher_key: SecretStr | None = Field(
        None,
        description="AES key (base64, 16/24/32 bytes) encrypting event payloads at rest; "
        "generated and kept in state_dir in embedded mode when absent.",
    )
    key_dir: Path | None = Field(
        None, description="Where the embedded mode keeps the keys it generates (cipher.key): default "
        "`<state_dir>.keys`, a 0700 directory beside the data directory, never inside it.")
    keys_beside_data: bool = Field(
        False, description="Development only: keep the generated keys inside state_dir itself (refused in production).")
    master_keys: SecretStr | None = Field(
        None,
        description="Master keys wrapping the per-person data keys (crypto-shredding): `id:base64` of 32-byte keys, "
        "comma-separated; the first wraps, every one listed unwraps (a rotation: `relais keys rotate`). Absent: one "
        "derived from the cipher key (id `cipher`), which stays accepted for unwrapping while the cipher key is set.",
    )
    key_cache_s: float = Field(30.0, gt=0, le=3600, description="How long a process keeps an unwrapped data key "
                               "(an erased person's key is forgotten by every process within this time).")
    retention_days: int = Field(
        1825, ge=1, description="Days a closed pathway is kept before `relais retention run` erases its person's "
        "data (every pathway of the person closed for that long); per territory: retention_days_by_territory.")
    retention_days_by_territory: dict[str, int] = Field(
        default_factory=dict, description='Retention per territory, JSON: {"76": 730} (others: retention_days).')
    http_host: str = Field("127.0.0.1", description="Gateway bind address.")
    http_port: int = Field(8000, ge=1, le=65535, description="Gateway port.")
    environment: Literal["development", "production"] = Field(
        "development",
        description="development: `relais token` signs with a local key pair and development defaults "
        "are allowed; production: the process refuses to start with a development key, a default "
        "password or no token issuer. Default: development in embedded mode, production in distributed mode.",
    )
    jwt_issuer: str | None = Field(
        None,
        description="The `iss` bearer tokens must carry (the OpenID Connect provider's issuer); "
        "development default: the local development issuer of `relais token`.",
    )
    jwt_audience: str = Field("relais", description="The `aud` bearer tokens must carry.")
    oidc_authorization_url: str | None = Field(
        None, description="The OpenID Connect provider's authorization endpoint, where the review screen "
        "sends the professional to sign in (authorization code + PKCE); development default: the built-in "
        "development provider at /dev-idp/authorize.")
    oidc_token_url: str | None = Field(
        None, description="The provider's token endpoint, where the gateway exchanges the screen's code "
        "(with its PKCE verifier) for the access token; development default: the built-in /dev-idp/token.")
    oidc_client_id: str = Field("relais-screen", description="The screen's client id at the provider (a public client).")
    jwks_url: str | None = Field(None, description="The issuer's published keys (JWKS endpoint, https).")
    jwks_file: Path | None = Field(None, description="A local JWKS file (instead of jwks_url).")
    jwks: str | None = Field(None, description="An inline JWKS, JSON text (instead of jwks_url; tests).")
    token_max_lifetime_s: int = Field(
        12 * 3600, ge=60, description="Longest validity a token may claim (exp - iat), in seconds."
    )
    token_clock_skew_s: int = Field(30, ge=0, le=300, description="Clock difference tolerated on exp and iat.")
    fact_clock_skew_s: int = Field(
        300, ge=0, le=3600, description="How far in the future a command's occurredAt may be (client clocks drift)."
    )
    agencies_file: Path | None = Field(
        None, description="The agency registry (TOML); default: the synthetic territory's (infra/agencies.toml)."
    )
    graphql_dev: bool = Field(False, description="Turn on introspection and the GraphiQL IDE at /graphiql, served "
                              "by the gateway itself from graphiql_dir (infra/scripts/browser.sh installs it).")
    graphiql_dir: Path = Field(Path("/var/tmp/relais/graphiql/node_modules"), description="Development: the npm "
                               "packages graphiql, react and react-dom (pinned in infra/scripts/browser.sh).")
    read_wait_timeout_s: float = Field(
        5.0, gt=0, description="Gateway: how long a read asking for at least a version (atLeastVersion), and a "
        "consent withdrawal or an agency removal before it answers, wait for the read models to apply it.",
    )
    graphql_timeout_s: float = Field(
        10.0, gt=0, description="Gateway: an HTTP GraphQL request not answered within this time gets a 504 "
        "(the operation runs off the event loop, so the timeout holds under load).",
    )
    emergency_access_roles: list[str] = Field(
        ["medecin", "infirmier", "sage_femme"], description="Roles granted the emergency override (bris de "
        "glace): reading what the role needs on a pathway without the person's consent, for a limited time.")
    emergency_access_minutes: int = Field(
        240, ge=5, le=24 * 60, description="How long an emergency override (bris de glace) lasts, in minutes.")
    territory: str = Field("76", description="Default territory (département) for the synthetic load.")
    synthetic_pathways: int = Field(
        200, ge=0, description="Embedded mode: synthetic pathways loaded at start when the store is empty."
    )

    def generated_keys_dir(self) -> Path:
        """The directory of the keys the embedded mode generates (see key_dir)."""
        if self.keys_beside_data:
            return Path(self.state_dir)
        if self.key_dir is not None:
            return Path(self.key_dir)
        state = Path(self.state_dir)
        return state.with_name(state.name + ".keys") if state.name not in ("", ".", "..") else \
            state.absolute().with_name(state.absolute().name + ".keys")

    @model_validator(mode="before")
    @classmethod
    def _environment_follows_the_mode(cls, data: Any) -> Any:
        # Distributed is what a région deploys: production unless said otherwise.
        if isinstance(data, dict) and data.get("environment") is None:
            data = {**data, "environment": "development" if data.get("mode", "embedded") == "embedded"
                    else "production"}
        return data
