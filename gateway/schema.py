"""The schema: queries, mutations, subscriptions, hardening and audit extensions.

`python -m gateway.schema` prints the SDL (exported to docs/graphql/schema.graphql).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator

import strawberry
from graphql import OperationType
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig

from gateway.context import Context
from gateway.hardening import extensions
from gateway.mutations import Mutation
from gateway.queries import Query
from gateway.subscriptions import Subscription


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


def build_schema(dev: bool = False) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query, mutation=Mutation, subscription=Subscription,
        config=StrawberryConfig(disable_field_suggestions=True),
        extensions=[*extensions(dev), AuditFlush],
    )


def sdl() -> str:
    return build_schema(dev=True).as_str() + "\n"


if __name__ == "__main__":
    sys.stdout.write(sdl())
