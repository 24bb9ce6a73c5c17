"""The schema: queries, mutations, subscriptions, hardening and audit extensions.

`python -m gateway.schema` prints the SDL (exported to docs/graphql/schema.graphql).
"""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import AsyncIterator

import strawberry
from typing import Any

from graphql import GraphQLError, OperationType
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig

from gateway.context import Context
from gateway.descriptions import describe
from gateway.execution import GatewayExecutor
from gateway.hardening import PublicError, extensions, is_variable_error
from gateway.directory_api import directory_mutation_fields
from gateway.mutations import mutation_fields
from gateway.referral_links import referral_link
from gateway.queries import Query
from gateway.subscriptions import Subscription


log = logging.getLogger("relais.gateway")

#: The pathways' commands (gateway/mutations.py) and the directory's (gateway/directory_api.py).
Mutation = strawberry.type(type("Mutation", (), {
    **mutation_fields(), **directory_mutation_fields(),
    "referral_link": strawberry.mutation(resolver=referral_link, description=(
        "Lien signé (8 jours, à usage unique) d'une orientation de votre parcours, pour un professionnel sans "
        "compte Relais : il y voit l'orientation et répond (acceptée, refusée avec la raison, personne vue).")),
}))

#: The schema's version (semver): its changes, breaking ones named, in docs/graphql/CHANGELOG.md.
SCHEMA_VERSION = "2.0.0"


class AuditFlush(SchemaExtension):
    """Writes the request's audit records once the operation has been executed (all nested
    resolvers included). Subscriptions write theirs per delivered alert."""

    async def on_operation(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        if not isinstance(context, Context) or self.execution_context.graphql_document is None:
            return  # refused before parsing: nothing was read
        if self.execution_context.operation_type is not OperationType.SUBSCRIPTION:
            await context.flush_audit()


class GatewaySchema(strawberry.Schema):
    """Logs only the unexpected errors (with their traceback, server side): a refusal meant
    for the caller (PublicError) or a query the validator refused is not an incident."""

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        # Never the message: it may quote what the request sent (a variable's value). The type,
        # the path and the traceback's frames say where the incident is.
        for error in errors:
            original = error.original_error
            if original is None or isinstance(original, PublicError) or is_variable_error(error):
                continue
            frames = "".join(traceback.format_tb(original.__traceback__))
            log.error("erreur interne %s sur %s\n%s", type(original).__name__, error.path, frames)


def build_schema(dev: bool = False) -> strawberry.Schema:
    schema = GatewaySchema(
        query=Query, mutation=Mutation, subscription=Subscription,
        config=StrawberryConfig(disable_field_suggestions=True),
        extensions=[*extensions(dev), AuditFlush],
        execution_context_class=GatewayExecutor,
    )
    describe(schema._schema)  # noqa: SLF001 - the glossary's descriptions, where definitions give none
    return schema


def sdl() -> str:
    return build_schema(dev=True).as_str() + "\n"


if __name__ == "__main__":
    sys.stdout.write(sdl())
