"""The GraphQL executor of the gateway's schema: graphql-core's (through strawberry's), with a
shorter path for the fields that make most of an answer.

A case-conference answer holds ~300 fields, ~250 of them plain attributes of an already
built and redacted view (gateway.views) holding a scalar or an enum: `id`, `label`,
`occurredAt`... graphql-core executes each one as any field: a path object, a resolve-info
object, the resolver through strawberry's wrapper, then completion through the non-null,
list and leaf branches. `GatewayExecutor.execute_fields` answers those fields directly —
the attribute read by strawberry's own resolver of a field without resolver, the value
serialised by the field's own GraphQL type (`coerce_output_value`, as graphql-core does) —
and hands every other field to graphql-core unchanged: fields with a resolver (they may
read, audit, or need `info`), objects, introspection, several nodes for one response name,
a directive on the field, a middleware.

Whenever the short path meets anything but a plain value — null in a non-null field, a
value the type refuses, an exception — the field goes to graphql-core's path, which gives
the error it always gave (located, with its path). Nothing here decides what a caller sees:
the views are redacted before execution, and authorisation and audit live in the resolvers.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLList, GraphQLNonNull, GraphQLObjectType, is_leaf_type
from graphql.pyutils import Path, Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

#: Plan of one field: None (graphql-core's path), or (resolver, leaf type, non-null, list,
#: items non-null).
Plan = tuple[Any, Any, bool, bool, bool] | None

#: The name strawberry gives the resolver of a field that has none of its own and no field
#: extension (schema_converter.from_resolver): it reads the attribute and ignores `info`.
_BASIC_RESOLVER = "_get_basic_result"


def _plan_of(field: Any) -> Plan:
    resolve = getattr(field, "resolve", None)
    if resolve is None or getattr(resolve, "__name__", "") != _BASIC_RESOLVER or field.args:
        return None
    kind, non_null = field.type, False
    if isinstance(kind, GraphQLNonNull):
        kind, non_null = kind.of_type, True
    if is_leaf_type(kind):
        return (resolve, kind, non_null, False, False)
    if isinstance(kind, GraphQLList):
        item, items_non_null = kind.of_type, False
        if isinstance(item, GraphQLNonNull):
            item, items_non_null = item.of_type, True
        if is_leaf_type(item):
            return (resolve, item, non_null, True, items_non_null)
    return None


class _Fallback(Exception):
    """The short path met something only graphql-core's path answers properly."""


_FALLBACK = _Fallback()


def _leaf(plan: tuple[Any, Any, bool, bool, bool], source: Any) -> Any:
    resolve, kind, non_null, is_list, items_non_null = plan
    value = resolve(source)
    if value is None:
        if non_null:
            raise _FALLBACK
        return None
    coerce = kind.coerce_output_value
    if not is_list:
        out = coerce(value)
        if out is None or out is Undefined:
            raise _FALLBACK
        return out
    if type(value) is not list:
        raise _FALLBACK
    items = []
    for item in value:
        if item is None:
            if items_non_null:
                raise _FALLBACK
            items.append(None)
            continue
        out = coerce(item)
        if out is None or out is Undefined:
            raise _FALLBACK
        items.append(out)
    return items


class GatewayExecutor(StrawberryGraphQLCoreExecutionContext):
    """strawberry's execution context, with the short path above for plain leaf fields."""

    #: id(GraphQLField) -> (the field, kept alive so its id is not reused; its plan)
    _plans: dict[int, tuple[Any, Plan]] = {}
    #: How many fields of this execution took the short path (one execution runs on one thread).
    short_path_fields = 0

    def _plan(self, parent_type: GraphQLObjectType, name: str) -> Plan:
        field = parent_type.fields.get(name)
        if field is None:
            return None
        found = self._plans.get(id(field))
        if found is None or found[0] is not field:
            found = self._plans[id(field)] = (field, _plan_of(field))
        return found[1]

    def execute_fields(self, parent_type: GraphQLObjectType, source_value: Any, path: Path | None,
                       grouped_field_set: Any, position_context: Any) -> Any:
        manager = self.middleware_manager  # strawberry always passes one; empty unless an extension resolves
        if manager is not None and getattr(manager, "_middleware_resolvers", None) is not None:
            return super().execute_fields(parent_type, source_value, path, grouped_field_set, position_context)
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        short = 0
        try:
            for response_name, field_details_list in grouped_field_set.items():
                if len(field_details_list) == 1:
                    node = field_details_list[0].node
                    plan = None if node.directives else self._plan(parent_type, node.name.value)
                    if plan is not None:
                        try:
                            results[response_name] = _leaf(plan, source_value)
                            short += 1
                            continue
                        except Exception:  # noqa: BLE001 - graphql-core's path gives the error
                            pass
                result = self.execute_field(parent_type, source_value, field_details_list,
                                            Path(path, response_name, parent_type.name), position_context)
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise
        finally:
            self.short_path_fields += short
        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                field = awaitable_fields[0]
                results[field] = await results[field]
            else:
                awaited = await gather_with_cancel(*(results[field] for field in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()
