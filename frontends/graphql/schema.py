"""The Otvet GraphQL schema, with its limits and error handling, built once per set of settings."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pluggy
import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from otvet.config.settings import GraphQLSettings
from otvet.frontends.graphql.documents import CachedDocuments, KnownDocuments
from otvet.frontends.graphql.errors import StableErrorCodes, log_errors
from otvet.frontends.graphql.limits import Limits
from otvet.frontends.graphql.mutations import Mutation
from otvet.frontends.graphql.nul import RefuseNul
from otvet.frontends.graphql.operation_name import RequireOperationName
from otvet.frontends.graphql.queries import Query
from otvet.frontends.graphql.subscriptions import Subscription


class OtvetSchema(strawberry.Schema):
    """Logs unexpected errors with their traceback (strawberry would log every refused field as an error)."""

    def process_errors(
        self, errors: Sequence[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_errors(errors)


@dataclass(frozen=True)
class PluginTypes:
    """The strawberry types plugins add to ``Query``, ``Mutation`` and ``Subscription``
    (``register_graphql``)."""

    query: tuple[type, ...] = ()
    mutation: tuple[type, ...] = ()
    subscription: tuple[type, ...] = ()


def plugin_types(pm: pluggy.PluginManager) -> PluginTypes:
    """What the plugins of ``pm`` add to the schema, in registration order."""
    found: dict[str, list[type]] = {"query": [], "mutation": [], "subscription": []}

    def register(
        *, query: type | None = None, mutation: type | None = None, subscription: type | None = None
    ) -> None:
        for kind, added in (("query", query), ("mutation", mutation), ("subscription", subscription)):
            if added is not None:
                found[kind].append(added)

    pm.hook.register_graphql(register=register)
    return PluginTypes(tuple(found["query"]), tuple(found["mutation"]), tuple(found["subscription"]))


def build_schema(settings: GraphQLSettings | None = None, types: PluginTypes | None = None) -> OtvetSchema:
    """The schema for ``settings`` with the fields plugins add (``types``; by default the built-in
    plugins')."""
    settings = settings or GraphQLSettings()
    if types is None:
        from otvet.core.plugins import make_plugin_manager

        types = plugin_types(make_plugin_manager(load_entry_points=False))
    return _build(tuple(sorted(settings.model_dump().items())), types)


def _merged(name: str, base: type, added: tuple[type, ...]) -> type:
    """``base`` with the fields of ``added``; a field defined twice is an error, not an override."""
    if not added:
        return base
    names = StrawberryConfig().name_converter
    seen: dict[str, str] = {}
    for part in (base, *added):
        for field in part.__strawberry_definition__.fields:  # type: ignore[attr-defined]
            field_name = names.get_graphql_name(field)
            if field_name in seen:
                raise ValueError(
                    f"GraphQL field {name}.{field_name} is defined by both {seen[field_name]} and"
                    f" {part.__name__}: a plugin must name its fields apart"
                )
            seen[field_name] = part.__name__
    return merge_types(name, (base, *added))


@functools.cache
def _build(key: tuple[tuple[str, Any], ...], types: PluginTypes) -> OtvetSchema:
    settings = GraphQLSettings(**dict(key))
    known = KnownDocuments()  # per schema: a document valid under these limits may not be under others
    return OtvetSchema(
        query=_merged("Query", Query, types.query),
        mutation=_merged("Mutation", Mutation, types.mutation),
        subscription=_merged("Subscription", Subscription, types.subscription),
        # Factories, not instances: strawberry makes one of each per operation, so nothing is shared.
        # CachedDocuments after Limits: the rules Limits adds are part of what "validated" means.
        # RefuseNul before CachedDocuments: a cached document still has new variables to check.
        extensions=[
            StableErrorCodes,
            lambda: Limits(settings),
            RequireOperationName,
            RefuseNul,
            lambda: CachedDocuments(known),
        ],
        # Without introspection, "did you mean ...?" suggestions would still reveal the schema.
        config=StrawberryConfig(disable_field_suggestions=not settings.introspection),
    )
