"""Relais settings: one model, read from `RELAIS_*` environment variables.

Read once, by the composition root (`services.bootstrap`); nothing else reads the environment.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
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
    kafka_bootstrap: str = Field(DEFAULT_KAFKA_BOOTSTRAP, description="Kafka bootstrap servers.")
    topic_prefix: str = Field("relais", description="Prefix of every Kafka topic name.")
    cipher_key: SecretStr | None = Field(
        None,
        description="AES key (base64, 16/24/32 bytes) encrypting event payloads at rest; "
        "generated and kept in state_dir in embedded mode when absent.",
    )
    http_host: str = Field("127.0.0.1", description="Gateway bind address.")
    http_port: int = Field(8000, ge=1, le=65535, description="Gateway port.")
    jwt_key: SecretStr = Field(
        SecretStr("dev-only-change-me-dev-only-change-me"),
        description="HMAC key signing bearer tokens.",
    )
    graphql_dev: bool = Field(False, description="Turn on introspection and the GraphiQL IDE.")
    read_wait_timeout_s: float = Field(
        5.0, gt=0, description="Gateway: how long a read asking for at least a version (atLeastVersion), and a "
        "consent withdrawal or an agency removal before it answers, wait for the read models to apply it.",
    )
    territory: str = Field("76", description="Default territory (département) for the synthetic load.")
    synthetic_pathways: int = Field(
        200, ge=0, description="Embedded mode: synthetic pathways loaded at start when the store is empty."
    )
