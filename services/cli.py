"""`relais`: the command line of Relais."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.app import create_app
    from services.bootstrap import bootstrap
    from services.settings import Settings

    overrides = {}
    if args.port is not None:
        overrides["http_port"] = args.port
    settings = Settings(**overrides)
    relais = bootstrap(settings)
    print(f"Relais ({settings.mode}) sur http://{settings.http_host}:{settings.http_port}/graphql", flush=True)
    uvicorn.run(create_app(relais), host=settings.http_host, port=settings.http_port, log_level="info")
    return 0


def _check(args: argparse.Namespace) -> int:
    from services.checks import COMPONENTS, CheckFailed, checks_for, settings_from_env

    unknown = sorted(set(args.components) - set(COMPONENTS))
    if unknown:
        print(f"relais check : ERREUR : composant inconnu {', '.join(unknown)} : "
              f"choisissez parmi {', '.join(COMPONENTS)}.", file=sys.stderr)
        return 2
    try:
        settings = settings_from_env()
        for _name, check in checks_for(settings, args.components):
            print(f"relais check : ok : {check()}", flush=True)
    except CheckFailed as exc:
        print(f"relais check : ERREUR : {exc}", file=sys.stderr, flush=True)
        return 1
    if not args.components and settings.mode == "embedded":
        print("relais check : mode embedded : ni Kafka ni PostgreSQL requis "
              "(RELAIS_MODE=distributed, ou `relais check database kafka`, pour les vérifier)", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="relais",
        description="Relais: coordination des parcours (PASS, SIAO, DAC, associations) "
        "et alertes de risque de rupture. Settings come from RELAIS_* environment variables.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser(
        "serve",
        help="start the gateway (health + GraphQL) on 127.0.0.1",
        description="Start the gateway. In the default embedded mode it needs neither Kafka nor "
        "a PostgreSQL server: an SQLite file under RELAIS_STATE_DIR and an in-process bus.",
    )
    serve.add_argument("--port", type=int, default=None, help="HTTP port (default RELAIS_HTTP_PORT or 8000)")
    serve.set_defaults(func=_serve)
    check = sub.add_parser(
        "check",
        help="check the configuration: one clear line per problem, exit 1 when one fails",
        description="Check the configuration read from RELAIS_* variables: in distributed mode "
        "PostgreSQL (reachable, credentials, migrations) and Kafka (reachable, topics); in embedded "
        "mode the state directory. Name components to check only those.",
    )
    check.add_argument("components", nargs="*", metavar="COMPONENT",
                       help="database, kafka or state (default: what RELAIS_MODE needs)")
    check.set_defaults(func=_check)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
