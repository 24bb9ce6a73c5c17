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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
