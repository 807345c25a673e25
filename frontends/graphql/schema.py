"""The Otvet GraphQL schema, with its limits and error handling, built once per set of settings."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig
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


def build_schema(settings: GraphQLSettings | None = None) -> OtvetSchema:
    settings = settings or GraphQLSettings()
    return _build(tuple(sorted(settings.model_dump().items())))


@functools.cache
def _build(key: tuple[tuple[str, Any], ...]) -> OtvetSchema:
    settings = GraphQLSettings(**dict(key))
    known = KnownDocuments()  # per schema: a document valid under these limits may not be under others
    return OtvetSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
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
