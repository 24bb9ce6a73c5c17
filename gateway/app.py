"""The FastAPI application: health endpoint and the GraphQL endpoint."""

from __future__ import annotations

import strawberry
from fastapi import FastAPI
from strawberry.fastapi import GraphQLRouter

from services.bootstrap import Relais


@strawberry.type
class Query:
    @strawberry.field(description="Version de l'API Relais.")
    def version(self) -> str:
        return "0.1.0"


def create_app(relais: Relais) -> FastAPI:
    """Build the gateway around an already-wired Relais (see services.bootstrap)."""
    app = FastAPI(title="Relais", docs_url=None, redoc_url=None, openapi_url=None)
    schema = strawberry.Schema(query=Query)
    app.include_router(GraphQLRouter(schema, graphql_ide="graphiql" if relais.settings.graphql_dev else None), prefix="/graphql")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "mode": relais.settings.mode}

    return app
