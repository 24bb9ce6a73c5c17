"""ASGI factory for running the gateway under uvicorn with several worker processes:

    RELAIS_MODE=distributed ... uvicorn gateway.asgi:app --factory --workers 2 --port 8000

Each worker wires its own Relais from the RELAIS_* settings (composition root): its own pool
to the read models (`relais projections run` keeps them) and its own alert feed; nothing is
shared in memory between workers.
"""

from __future__ import annotations

from fastapi import FastAPI


def app() -> FastAPI:
    from gateway.app import create_app
    from services.bootstrap import bootstrap
    from services.checks import UnsafeConfiguration, security_problems
    from services.settings import Settings

    settings = Settings()
    try:
        problems = security_problems(settings)
        if problems:  # before anything connects
            raise UnsafeConfiguration(problems)
        return create_app(bootstrap(settings))
    except UnsafeConfiguration as unsafe:
        raise SystemExit("\n".join(f"relais : ERREUR : {line}" for line in unsafe.problems)) from None
