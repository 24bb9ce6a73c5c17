"""`relais check`: is the configuration usable? One clear line per problem, no traceback.

Each check returns a short "ok" description or raises `CheckFailed` whose message says what is
wrong and how to fix it, in one line. Checks connect only when called (never at import).
"""

from __future__ import annotations

import errno
import json
import os
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

from services.settings import DEFAULT_DATABASE_URL, Settings

UP_HINT = "lancez `bash infra/scripts/up.sh`"


class CheckFailed(Exception):
    """A check failed; str(exc) is the one line to show."""


class UnsafeConfiguration(Exception):
    """Outside development, the settings would run with a development key, a default password or
    no token issuer; `problems` are the lines to show (one per problem), and the process stops."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def _password(url: str) -> str | None:
    try:
        from psycopg.conninfo import conninfo_to_dict

        return conninfo_to_dict(url).get("password")
    except Exception:  # noqa: BLE001 - a malformed URL is check_database's to explain
        return None


def security_problems(settings: Settings) -> list[str]:
    """What the production setting refuses, one French line each ([] in development)."""
    if settings.environment == "development":
        return []
    from gateway.auth import DEV_ISSUER, DEV_JWKS_FILE, DEV_KID_PREFIX, jwks_kids

    problems = []
    if not settings.jwt_issuer:  # its keys: RELAIS_JWKS_URL, or read from its discovery document
        problems.append(
            "production sans émetteur de jetons : définissez RELAIS_JWT_ISSUER (ses clés sont lues à "
            "<émetteur>/.well-known/openid-configuration) ou avec RELAIS_JWKS_URL "
            "(le fournisseur OpenID Connect, régional ou Pro Santé Connect)."
        )
    elif urlsplit(settings.jwt_issuer).scheme != "https" and not (settings.jwks_url or settings.jwks_file
                                                                   or settings.jwks):
        problems.append("RELAIS_JWT_ISSUER doit être en https en production (son document de découverte "
                        "et ses clés publiques en dépendent).")
    dev_key = settings.jwt_issuer == DEV_ISSUER
    if settings.jwks_file is not None:
        dev_key |= Path(settings.jwks_file).name == DEV_JWKS_FILE
        try:
            document = json.loads(Path(settings.jwks_file).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            document = {}
            problems.append(f"RELAIS_JWKS_FILE={str(settings.jwks_file)!r} est illisible : "
                            "attendu un fichier JWKS (JSON) des clés publiques de l'émetteur.")
        dev_key |= any(kid.startswith(DEV_KID_PREFIX) for kid in jwks_kids(document))
    if settings.jwks:
        try:
            dev_key |= any(kid.startswith(DEV_KID_PREFIX) for kid in jwks_kids(json.loads(settings.jwks)))
        except ValueError:
            problems.append("RELAIS_JWKS est illisible : attendu un JWKS (JSON) des clés publiques de l'émetteur.")
    if dev_key:
        problems.append(
            "production avec la clé de développement de `relais token` : configurez les clés du "
            "fournisseur d'identité (RELAIS_JWKS_URL, RELAIS_JWT_ISSUER), ou RELAIS_ENVIRONMENT=development."
        )
    if settings.jwks_url and urlsplit(settings.jwks_url).scheme != "https":
        problems.append("RELAIS_JWKS_URL doit être en https en production (les clés publiques de l'émetteur).")
    default_password = _password(DEFAULT_DATABASE_URL)
    if settings.mode == "distributed" and _password(settings.database_url) == default_password:
        problems.append(
            f"production avec le mot de passe PostgreSQL par défaut ({default_password}) : "
            "donnez un mot de passe propre dans RELAIS_DATABASE_URL."
        )
    return problems


def check_identity(settings: Settings) -> str:
    """The token issuer and the agency registry (the security lines are reported before)."""
    from domain.agencies import InvalidRegistry
    from gateway.auth import DEV_ISSUER
    from infra.agencies import AGENCIES_FILE, load_registry

    try:
        registry = load_registry(settings.agencies_file)
    except InvalidRegistry as exc:
        raise CheckFailed(f"{exc} Corrigez le fichier ou RELAIS_AGENCIES_FILE.") from None
    where = settings.agencies_file or AGENCIES_FILE
    if settings.jwks:
        _check_jwks(settings.jwks, "RELAIS_JWKS")
    if settings.jwks_file is not None:
        try:
            text = Path(settings.jwks_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CheckFailed(f"RELAIS_JWKS_FILE={str(settings.jwks_file)!r} est illisible "
                              f"({getattr(exc, 'strerror', None) or type(exc).__name__}) : attendu un fichier JWKS "
                              "(JSON) des clés publiques de l'émetteur.") from None
        _check_jwks(text, f"RELAIS_JWKS_FILE={str(settings.jwks_file)!r}")
    if settings.jwks_url and urlsplit(settings.jwks_url).scheme not in ("http", "https"):
        raise CheckFailed(f"RELAIS_JWKS_URL={settings.jwks_url!r} n'est pas une URL : attendu "
                          "https://…/jwks (le point de publication des clés du fournisseur d'identité).")
    hours = settings.token_max_lifetime_s / 3600
    if settings.jwks_url or settings.jwks_file or settings.jwks:
        source = settings.jwks_url or settings.jwks_file or "JWKS en ligne"
        issuer = f"jetons de {settings.jwt_issuer or 'développement'} vérifiés par {source}"
    elif settings.jwt_issuer and settings.jwt_issuer != DEV_ISSUER:
        issuer = (f"jetons de {settings.jwt_issuer} vérifiés par les clés de son document de découverte "
                  f"({settings.jwt_issuer.rstrip('/')}/.well-known/openid-configuration)")
    else:
        issuer = f"jetons de `relais token` (clé locale de développement sous {settings.state_dir})"
    return f"identité ({settings.environment}) : {issuer}, {hours:g} h au plus ; {len(registry)} structures ({where})"


def _check_jwks(text: str, what: str) -> None:
    """A JWKS (JSON text) with at least one signing key PyJWT can use, or CheckFailed."""
    import jwt

    fix = "attendu un JWKS (JSON) des clés publiques de l'émetteur"
    try:
        document = json.loads(text)
    except ValueError:
        raise CheckFailed(f"{what} est illisible (pas du JSON) : {fix}.") from None
    try:
        jwt.PyJWKSet.from_dict(document)
    except (jwt.PyJWKSetError, jwt.InvalidKeyError, AttributeError, TypeError, KeyError) as exc:
        raise CheckFailed(f"{what} ne contient aucune clé de signature utilisable ({exc}) : {fix}.") from None


def settings_from_env(**overrides: object) -> Settings:
    """Read Settings; a bad RELAIS_* value becomes one CheckFailed line naming the variable."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise CheckFailed(invalid_setting(exc)) from None


def invalid_setting(exc: Exception) -> str:
    """The one line for a pydantic ValidationError of Settings: the variable, its value, why."""
    err = exc.errors()[0]  # type: ignore[attr-defined]
    field = str(err["loc"][0]) if err.get("loc") else "?"
    var = f"RELAIS_{field.upper()}"
    raw = os.environ.get(var, "")
    return f"{var}={raw!r} est invalide ({err['msg']}) : corrigez ou retirez cette variable."


def _where(url: str) -> str:
    """host:port/db of a PostgreSQL URL, without the password."""
    try:
        from psycopg.conninfo import conninfo_to_dict

        info = conninfo_to_dict(url)
    except Exception:  # noqa: BLE001
        return "?"
    return f"{info.get('host') or 'localhost'}:{info.get('port') or 5432}/{info.get('dbname') or info.get('user') or '?'}"


def check_database(url: str, schema: str = "public", timeout_s: int = 5) -> str:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    fix = "corrigez RELAIS_DATABASE_URL"
    scheme = urlsplit(url).scheme if "://" in url else ""
    if scheme not in ("postgresql", "postgres"):
        raise CheckFailed(
            f"RELAIS_DATABASE_URL n'est pas une URL PostgreSQL ({scheme or 'sans schéma'}://…) : "
            "attendu postgresql://utilisateur:motdepasse@hôte:port/base."
        )
    try:
        info = conninfo_to_dict(url)
    except psycopg.Error as exc:
        raise CheckFailed(
            f"RELAIS_DATABASE_URL est illisible ({str(exc).strip().splitlines()[0]}) : "
            "attendu postgresql://utilisateur:motdepasse@hôte:port/base."
        ) from None
    where = _where(url)
    user = info.get("user") or "?"
    db = info.get("dbname") or user
    try:
        with psycopg.connect(url, connect_timeout=timeout_s, autocommit=True) as conn:
            version = conn.execute("SHOW server_version").fetchone()[0]
            pending = _pending_migrations(conn, schema)
    except psycopg.OperationalError as exc:
        text = str(exc)
        low = text.lower()
        state = getattr(exc, "sqlstate", None)
        if state == "28P01" or "password authentication failed" in low:
            raise CheckFailed(
                f"PostgreSQL {where} refuse le mot de passe de l'utilisateur {user} : {fix}."
            ) from None
        if state == "3D000" or (f'database "{db}" does not exist' in text):
            raise CheckFailed(f"la base {db} n'existe pas sur PostgreSQL {where} : créez-la ou {fix}.") from None
        if f'role "{user}" does not exist' in text:
            raise CheckFailed(f"l'utilisateur {user} n'existe pas sur PostgreSQL {where} : {fix}.") from None
        if "connection refused" in low or "no such file or directory" in low:
            raise CheckFailed(f"PostgreSQL injoignable à {where} (connexion refusée) : {UP_HINT} ou {fix}.") from None
        if "timeout" in low or "timed out" in low:
            raise CheckFailed(f"PostgreSQL {where} ne répond pas en {timeout_s} s : {UP_HINT} ou {fix}.") from None
        if "could not translate host name" in low or "name or service not known" in low:
            raise CheckFailed(f"hôte PostgreSQL inconnu ({where}) : {fix}.") from None
        first = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(exc).__name__)
        raise CheckFailed(f"connexion à PostgreSQL {where} impossible ({first}) : {fix}.") from None
    if pending:
        raise CheckFailed(
            f"PostgreSQL {where} : {len(pending)} migration(s) en attente dans le schéma {schema} "
            f"({', '.join(pending)}) : lancez `python -m infra.postgres.migrations apply` "
            "(`bash infra/scripts/up.sh` le fait)."
        )
    return f"PostgreSQL {version} sur {where}, schéma {schema} à jour"


def _pending_migrations(conn, schema: str) -> list[str]:  # noqa: ANN001
    from infra.postgres.migrations import pending

    return [f"{m.version:03d}_{m.name}" for m in pending(conn, schema)]


def _parse_bootstrap(bootstrap: str) -> list[tuple[str, int]]:
    servers = []
    for item in (s.strip() for s in bootstrap.split(",")):
        host, sep, port = item.rpartition(":")
        if not item or not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise CheckFailed(
                f"RELAIS_KAFKA_BOOTSTRAP={bootstrap!r} est invalide : attendu hôte:port[,hôte:port…] "
                "(ex. 127.0.0.1:59092)."
            )
        servers.append((host.strip("[]"), int(port)))
    return servers


def check_kafka(bootstrap: str, topic_prefix: str = "relais", timeout_s: float = 5.0) -> str:
    import logging

    servers = _parse_bootstrap(bootstrap)
    reachable = []
    last = ""
    for host, port in servers:
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                reachable.append((host, port))
        except socket.gaierror:
            last = "hôte inconnu"
        except ConnectionRefusedError:
            last = "connexion refusée"
        except OSError as exc:
            last = "délai dépassé" if isinstance(exc, TimeoutError) else (exc.strerror or type(exc).__name__)
    if not reachable:
        raise CheckFailed(
            f"Kafka injoignable à {bootstrap} ({last}) : {UP_HINT} ou corrigez RELAIS_KAFKA_BOOTSTRAP."
        )

    from infra.kafka.topics import admin_client, load_topics

    logging.getLogger("kafka").setLevel(logging.CRITICAL)
    try:
        admin = admin_client(bootstrap, timeout_ms=int(timeout_s * 1000))
        try:
            cluster = admin.describe_cluster()
            present = set(admin.list_topics())
        finally:
            admin.close()
    except Exception as exc:  # noqa: BLE001
        raise CheckFailed(
            f"{bootstrap} accepte les connexions mais ne répond pas comme un broker Kafka "
            f"({type(exc).__name__}) : vérifiez RELAIS_KAFKA_BOOTSTRAP (port PLAINTEXT du broker)."
        ) from None
    missing = [t.name for t in load_topics(prefix=topic_prefix) if t.name not in present]
    if missing:
        shown = ", ".join(missing[:3]) + (f" et {len(missing) - 3} autres" if len(missing) > 3 else "")
        raise CheckFailed(
            f"Kafka {bootstrap} : topics manquants ({shown}) : lancez `python -m infra.kafka.topics apply` "
            "(`bash infra/scripts/up.sh` le fait)."
        )
    brokers = len(cluster.get("brokers") or []) or 1
    return f"Kafka sur {bootstrap} : {brokers} broker(s), topics {topic_prefix}.* présents"


def check_state_dir(path: Path) -> str:
    """The state directory can be written, or created: checked without creating it (a check
    leaves no `.relais/` behind)."""
    fix = "choisissez un dossier où Relais peut écrire, ou corrigez ses droits."
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise CheckFailed(f"RELAIS_STATE_DIR={str(path)!r} n'est pas un dossier : {fix}")
        try:
            probe = path / ".relais-check"
            probe.write_text("ok", encoding="ascii")
            probe.unlink()
            for name in STATE_FILES:
                if (path / name).exists():
                    with open(path / name, "rb"):
                        pass
        except OSError as exc:
            raise CheckFailed(f"RELAIS_STATE_DIR={str(path)!r} est illisible ou non inscriptible "
                              f"({exc.strerror or exc}) : {fix}") from None
        return f"dossier d'état {path} inscriptible"
    parent = path.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise CheckFailed(f"RELAIS_STATE_DIR={str(path)!r} ne peut pas être créé ({parent} n'est pas "
                          f"inscriptible) : {fix}")
    return f"dossier d'état {path} absent, il sera créé au premier démarrage"


#: The files of the embedded mode under the state directory (each must stay readable).
STATE_FILES = ("events.sqlite3", "read_models.sqlite3", "audit.sqlite3", "webhooks.sqlite3",
               "risk_deadlines.sqlite3", "keys.sqlite3")

#: How to make a key (shown in the messages).
NEW_KEY_HINT = "générez-en une avec `openssl rand -base64 32`"


def cipher_key_problem(raw: str) -> str | None:
    """What is wrong with a cipher key (base64 of 16, 24 or 32 bytes), or None."""
    import base64
    import binascii

    try:
        key = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError):
        return "n'est pas du base64 valide"
    if len(key) not in (16, 24, 32):
        return f"fait {len(key)} octets une fois décodée (attendu 16, 24 ou 32)"
    return None


def check_keys_apart(settings: Settings) -> None:
    """The generated keys never sit with the data they protect, unless the development setting
    RELAIS_KEYS_BESIDE_DATA says so (refused in production)."""
    if settings.keys_beside_data:
        if settings.environment != "development":
            raise CheckFailed("RELAIS_KEYS_BESIDE_DATA est réservé au développement : en production la clé ne doit "
                              "pas être rangée avec les données qu'elle protège (RELAIS_KEY_DIR ailleurs, ou "
                              "RELAIS_CIPHER_KEY depuis votre coffre de secrets).")
        return
    keys = settings.generated_keys_dir().absolute()
    state = Path(settings.state_dir).absolute()
    if keys == state or state in keys.parents:
        raise CheckFailed(f"RELAIS_KEY_DIR={str(settings.key_dir)!r} est dans RELAIS_STATE_DIR : la clé ne doit pas "
                          "être rangée avec les données qu'elle protège (ou RELAIS_KEYS_BESIDE_DATA=true en "
                          "développement).")


def master_keys_setting(settings: Settings):  # noqa: ANN201 - infra.keystore.MasterKeys | None
    """RELAIS_MASTER_KEYS parsed (None when absent); malformed: CheckFailed, one French line."""
    from infra.keystore import MalformedMasterKeys, MasterKeys

    if settings.master_keys is None:
        return None
    try:
        return MasterKeys.parse(settings.master_keys.get_secret_value())
    except MalformedMasterKeys as exc:
        raise CheckFailed(f"RELAIS_MASTER_KEYS : {exc} ; `relais keys new` en génère une.") from None


def check_cipher_key(settings: Settings) -> str:
    """RELAIS_CIPHER_KEY: present where needed (distributed), decodable, of an AES length.
    In embedded mode without it, the generated key (if any) is checked. RELAIS_MASTER_KEYS too."""
    master_keys_setting(settings)
    if settings.cipher_key is not None:
        problem = cipher_key_problem(settings.cipher_key.get_secret_value())
        if problem:
            raise CheckFailed(f"RELAIS_CIPHER_KEY {problem} : attendu une clé AES en base64 (16, 24 ou 32 octets) ; "
                              f"{NEW_KEY_HINT}.")
        return "clé de chiffrement RELAIS_CIPHER_KEY valide"
    if settings.mode != "embedded":
        raise CheckFailed("RELAIS_CIPHER_KEY manquante : le mode distributed chiffre les événements au repos ; "
                          f"{NEW_KEY_HINT} et gardez-la dans votre coffre de secrets (la même pour tous les services).")
    check_keys_apart(settings)
    path = settings.generated_keys_dir() / "cipher.key"
    legacy = Path(settings.state_dir) / "cipher.key"
    if not path.exists() and legacy.exists():
        path = legacy  # an earlier release's place: checked here, moved out by the first start
    if not path.exists():
        return f"clé de chiffrement générée au premier démarrage ({path})"
    try:
        problem = cipher_key_problem(path.read_text(encoding="ascii"))
    except (OSError, UnicodeDecodeError) as exc:
        problem = f"est illisible ({getattr(exc, 'strerror', None) or type(exc).__name__})"
    if problem:
        raise CheckFailed(f"la clé de chiffrement {path} {problem} : restaurez-la depuis votre sauvegarde "
                          "(sans elle les événements du dossier d'état sont illisibles).")
    return f"clé de chiffrement {path} valide"


def check_kafka_address(bootstrap: str) -> str:
    """RELAIS_KAFKA_BOOTSTRAP is well formed (reachability is retried by the services)."""
    _parse_bootstrap(bootstrap)
    return f"adresse Kafka {bootstrap} bien formée"


def check_port_free(host: str, port: int) -> socket.socket:
    """Bind host:port now (what uvicorn then serves on), or one line saying it is taken."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise CheckFailed(f"le port {port} est déjà utilisé sur {host} : arrêtez l'autre processus "
                              "ou choisissez un autre port (--port ou RELAIS_HTTP_PORT).") from None
        raise CheckFailed(f"impossible d'écouter sur {host}:{port} ({exc.strerror or exc}) : "
                          "corrigez RELAIS_HTTP_HOST / RELAIS_HTTP_PORT.") from None
    return sock


def preflight(settings: Settings, needs: Sequence[str]) -> None:
    """Before a service builds anything: the settings it `needs` ("cipher", "database",
    "kafka" (address), "state", "identity"), each a CheckFailed line when wrong."""
    table: dict[str, Callable[[], str]] = {
        "identity": lambda: check_identity(settings),
        "cipher": lambda: check_cipher_key(settings),
        "database": lambda: check_database(settings.database_url, settings.database_schema),
        "kafka": lambda: check_kafka_address(settings.kafka_bootstrap),
        "state": lambda: check_state_dir(settings.state_dir),
    }
    for name in needs:
        table[name]()


COMPONENTS = ("identity", "cipher", "database", "kafka", "state")


def checks_for(settings: Settings, only: Sequence[str] = ()) -> list[tuple[str, Callable[[], str]]]:
    """The checks to run, in order: what `only` names, else what settings.mode needs."""
    table: dict[str, Callable[[], str]] = {
        "identity": lambda: check_identity(settings),
        "cipher": lambda: check_cipher_key(settings),
        "state": lambda: check_state_dir(settings.state_dir),
        "database": lambda: check_database(settings.database_url, settings.database_schema),
        "kafka": lambda: check_kafka(settings.kafka_bootstrap, settings.topic_prefix),
    }
    if only:
        names = [n for n in COMPONENTS if n in only]
    elif settings.mode == "distributed":
        names = ["identity", "cipher", "database", "kafka"]
    else:
        names = ["identity", "cipher", "state"]
    return [(name, table[name]) for name in names]
